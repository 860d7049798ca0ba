// How sure a fitted law is: parameter covariance, intervals for predictions
// and for any derived quantity (delta method), and the bootstrap. Included by
// fitter/fitter.h; other folders include that.
//
// Thread-safety: every function here is thread-safe.

#ifndef MOESWEEP_FITTER_UNCERTAINTY_H_
#define MOESWEEP_FITTER_UNCERTAINTY_H_

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/status.h"

namespace moesweep::fitter {

struct Law;
struct Observation;

struct LawUncertainty {
  // Covariance of θ (the law's optimiser coordinates), p×p row-major.
  std::vector<double> covariance;
  // Robust scale of the log-loss residuals (1.4826·MAD).
  double residual_sigma = 0;
  // Runs within 3 residual_sigma, the ones the covariance is computed on.
  int inliers = 0;
  // The correlation of the residuals of runs of one lineage
  // (EstimateLineageCorrelation) the covariance was widened by; 0 when no
  // lineage holds two inliers.
  double lineage_correlation = 0;
  int lineage_df = 0;  // its within-lineage degrees of freedom
};

// Branches of one stable run share its offset from the law, so their
// residuals are correlated: r = u_lineage + e_run, Corr = ρ within a lineage
// (compound symmetry). ρ = 1 − σ_w²/σ², σ² the residuals' variance and σ_w²
// the pooled within-lineage variance over lineages (nonzero Observation::
// lineage) with two runs or more. σ_w² is taken at the lower end of its
// one-sided 90% chi-square interval, so ρ errs high (the covariance wide)
// when few runs share a lineage; ρ is clamped to [0, 0.99].
struct LineageCorrelation {
  double rho = 0;
  int within_df = 0;  // Σ (runs − 1) over lineages of two runs or more
};
LineageCorrelation EstimateLineageCorrelation(
    std::span<const double> residuals, std::span<const std::uint64_t> lineages,
    double sigma);
// The same from the log residuals of `law` at `runs`, σ their robust scale
// (1.4826·MAD). {0, 0} when the law cannot be evaluated there.
LineageCorrelation EstimateLineageCorrelationAt(
    const Law& law, std::span<const Observation> runs);

// The asymptotic covariance of the Huber_δ M-estimator at `law` (fitted to
// `runs`): κ·(JᵀJ)⁻¹·n/(n − p) with J = ∂(log L̂)/∂θ over the inliers and
// κ = E[ψ²]/E[ψ']² under normal residuals of the robust scale (κ → σ² for
// large δ, least squares; → πσ²/2 for small δ, least absolute deviations).
// Runs that share a lineage widen it to the sandwich of correlated noise,
// C·[(1−ρ)·JᵀJ + ρ·Σ_lineage s·sᵀ]·C with C = (JᵀJ)⁻¹, s the sum of one
// lineage's rows of J and ρ from EstimateLineageCorrelation.
// When JᵀJ is singular, parameters on their bound (ParametersAtBound) are
// held there: J and p count only the others, and the held ones get zero
// variance (the law at the bound, which its at_bound flags say).
// FAILED_PRECONDITION when the law is not identifiable from the runs (JᵀJ
// singular even so) or there are no more inliers than parameters.
// `lineage_correlation`: the ρ the law was fitted with (FitOptions::
// lineage_correlation, LawSnapshot::lineage_correlation); > 0, the
// covariance of that whitened fit, κ·(J̃ᵀJ̃)⁻¹·n/(n − p) over whitened rows
// and residuals (fitter/lineage.h), rather than the sandwich.
StatusOr<LawUncertainty> EstimateCovariance(const Law& law,
                                            std::span<const Observation> runs,
                                            double huber_delta,
                                            double lineage_correlation = 0);

struct Interval {
  double value = 0;
  double lower = 0;
  double upper = 0;
};

// z such that P(|Z| <= z) = level for a standard normal Z; level in (0, 1).
double TwoSidedZ(double level);

// The predicted loss at `at` with its interval: from the parameter
// covariance alone (where the mean loss lies), or with the run-to-run noise
// added (where a new run's loss lies). Computed on log L̂, so positive.
StatusOr<Interval> PredictionInterval(const Law& law,
                                      const LawUncertainty& uncertainty,
                                      const Observation& at, double level,
                                      bool include_noise);

// (upper − lower) / |value|: the width a campaign's target is stated in.
// +Inf when value is 0 or any end is not finite. For a kLog interval it is
// 2·sinh(z·sd(log Q)), monotone in the log-scale half-width and equal to the
// linear rule's 2·z·sd(Q)/Q to first order, so a target means what it meant
// for narrow intervals.
double RelativeWidth(const Interval& interval);

// How a delta-method interval is built.
enum class IntervalScale {
  // Q ± z·sd(Q): symmetric; may cross 0. For quantities of either sign (an
  // exponent).
  kLinear,
  // On log Q, then exponentiated: Q·exp(±z·sd(log Q)) with sd(log Q) =
  // sd(Q)/Q (the delta method). Positive and asymmetric, as a loss's
  // interval must be however large the covariance; for quantities positive
  // by construction (a loss, a model size, a scale constant).
  kLog,
};

// A derived quantity Q(law) (e.g. a compute-optimal loss) with its delta-method
// interval on `scale`; ∇Q by central differences in θ. INVALID_ARGUMENT for a
// level outside (0, 1) or a covariance of the wrong size; FAILED_PRECONDITION
// for kLog when Q(law) is not > 0; the quantity's own error when it fails.
using Quantity = std::function<StatusOr<double>(const Law&)>;
StatusOr<Interval> DeltaMethodInterval(const Law& law,
                                       const LawUncertainty& uncertainty,
                                       const Quantity& quantity, double level,
                                       IntervalScale scale);

struct BootstrapOptions {
  int resamples = 200;     // refits; each costs one warm-started fit
  std::uint64_t seed = 1;  // resampling is deterministic for a seed
  int num_threads = 0;     // 0: every hardware thread
  double huber_delta = 1e-3;
};

// The resamples BootstrapThetas uses: `resamples` lists of `runs` indices
// drawn with replacement, deterministic for a seed.
std::vector<std::vector<std::size_t>> BootstrapDraws(std::size_t runs,
                                                     int resamples,
                                                     std::uint64_t seed);

// θ of `resamples` refits of `law` to runs resampled with replacement, each
// warm-started from law.theta. Resamples whose fit fails are skipped.
StatusOr<std::vector<std::vector<double>>> BootstrapThetas(
    const Law& law, std::span<const Observation> runs,
    const BootstrapOptions& options);

// The percentile interval of `samples` around `value`.
Interval PercentileInterval(std::vector<double> samples, double value,
                            double level);

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_UNCERTAINTY_H_
