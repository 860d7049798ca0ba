// The fitter's core: run features, laws, and the robust multi-start fit.
// Other folders include fitter/fitter.h, which includes this.
//
// The fitter: parametric scaling laws fitted robustly to training runs.
//
// A law family (LAWS.md §9) is a function L(x; θ) of run features x. It is
// fitted in log space by minimising the SUM over runs of w_i * Huber_δ(log
// L̂(x_i; θ) − log L_i) from a grid of starting points, in parallel over starts,
// keeping the best (Chinchilla approach 3, Hoffmann et al. 2022; Besiroglu et
// al. 2024). Positive scale constants are optimised as logarithms.
//
// Families so far: "chinchilla" (L = E + A/N^alpha + B/D^beta).
//
// Thread-safety: every function here is thread-safe; none keeps state between
// calls.

#ifndef MOESWEEP_FITTER_CORE_H_
#define MOESWEEP_FITTER_CORE_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace moesweep::fitter {

// The run features a law may read (LAWS.md §9 names, chosen so that no letter
// means two things). Stored in law files by name: never rename.
enum class Feature : int {
  kParams = 0,      // "params": total parameters, embeddings included
  kActiveParams,    // "active_params": active parameters, embeddings included
  kTotalNonEmbed,   // "n_total_ne": total non-embedding parameters
  kActiveNonEmbed,  // "n_active_ne": active non-embedding parameters
  kTokens,          // "tokens": D, training tokens
  kUniqueTokens,    // "unique_tokens": distinct tokens when data repeats
  kGranularity,     // "granularity": Krajewski's G = d_ff / d_expert
  kNumExperts,      // "num_experts": routed experts
  kTopK,            // "top_k": routed experts per token
  kNumShared,       // "num_shared": shared experts
  kActiveExperts,   // "active_experts": top_k + num_shared (Zhao's G)
  kSharedRatio,     // "shared_ratio": num_shared / active_experts (Zhao's S)
  kCount
};
inline constexpr int kNumFeatures = static_cast<int>(Feature::kCount);

// "params", ...; and back. NOT_FOUND names the known features.
std::string_view FeatureName(Feature feature);
StatusOr<Feature> FeatureFromName(std::string_view name);

// One finished training run. A family reads only the features it declares;
// each must be finite and > 0 (num_shared and shared_ratio may be 0).
struct Observation {
  double params = 0;          // N: total parameters, embeddings included
  double tokens = 0;          // D: training tokens
  double loss = 0;            // final loss, nats per token; > 0
  double weight = 1;          // multiplies the run's Huber term; > 0
  double active_params = 0;   // active parameters, embeddings included
  double n_total_ne = 0;      // total non-embedding parameters
  double n_active_ne = 0;     // active non-embedding parameters
  double unique_tokens = 0;   // distinct training tokens
  double granularity = 1;     // d_ff / d_expert
  double num_experts = 1;     // routed experts; 1 is dense
  double top_k = 1;           // routed experts per token
  double num_shared = 0;      // shared experts
  double active_experts = 1;  // top_k + num_shared
  double shared_ratio = 0;    // num_shared / active_experts
  // Runs of one nonzero lineage are cooldown branches of one stable run
  // (warmup-stable-decay): they share its seed and data order, so their
  // offsets from the law are correlated; the covariance accounts for it
  // (uncertainty.h). 0: a run of its own.
  std::uint64_t lineage = 0;

  double Get(Feature feature) const;
  void Set(Feature feature, double value);
};

// A law the user writes (family "expr"), e.g.
// "E + A / params^alpha + B / tokens^beta", over the features above and the
// parameters declared here: + - * / ^, log, exp, min, max, parentheses and
// numbers. Parameters are fitted as written (natural units).
struct ExprParam {
  std::string name;
  double lower = -1e300;  // box bounds
  double upper = 1e300;
  std::vector<double> starts;  // grid values; the start grid is their product
};
struct ExprSpec {
  std::string expression;
  std::vector<ExprParam> params;
};

// A law: a family and its parameters in the optimiser's coordinates (θ, in
// the family's order; logarithms for scale constants, e.g. chinchilla
// θ = (a = ln A, b = ln B, e = ln E, alpha, beta)).
struct Law {
  std::string family;
  std::vector<double> theta;
  ExprSpec expr;  // the law's text when family == "expr"; empty otherwise
};

// A parameter in natural units (A, not ln A).
struct NamedValue {
  std::string name;
  double value = 0;
};

struct FitOptions {
  // Huber threshold on log-loss residuals. 1e-3 is Chinchilla's; a paper's own
  // value reproduces it.
  double huber_delta = 1e-3;
  // Threads over starts; 0 uses every hardware thread. Raising it past the core
  // count only costs.
  int num_threads = 0;
  // Trust-region iterations per start. Starts far from the optimum need a few
  // dozen.
  int max_iterations = 400;
  // Extra starts (θ coordinates, the family's size), tried besides the family's
  // grid: warm starts.
  std::vector<std::vector<double>> extra_starts;
  // When false, only extra_starts are used (a warm refit); they must then be
  // non-empty.
  bool use_grid = true;
  // When > 0 and the family's grid is larger, an evenly spread subset of this
  // many grid points (with the extra starts) is tried: for refits that also
  // have a warm start, where the full grid would cost seconds.
  int max_grid_starts = 0;
  // When > 0 and there are more runs, the screen ranks the starts on an
  // evenly spread subset of this many runs (a few hundred runs show the
  // basins) and only the polish reads them all: full refits of thousands of
  // runs then cost about as much as those of a few hundred.
  int max_screen_runs = 0;
  // ρ in [0, 0.99]: runs of one lineage (Observation::lineage) share that
  // share of their noise, and the polish fits their residuals whitened
  // within lineages (generalised least squares; the screen ranks basins on
  // the plain objective). 0: every run independent.
  double lineage_correlation = 0;

  Status Validate() const;
};

struct FitResult {
  Law law;
  double objective = 0;  // Σ w·Huber_δ(residual) at law.theta
  int runs = 0;          // observations fitted
  int starts = 0;        // starting points tried
  double seconds = 0;    // wall time of the multi-start fit
  // Reasons to distrust the fit (LAWS.md §9, multi-start policy): the best
  // point sits on a bound, or the three best starts disagree by more than 1% in
  // an exponent.
  std::vector<std::string> warnings;
};

// Names of the families Fit() accepts.
std::vector<std::string_view> FamilyNames();

// The features a law reads (for an expr law, those its expression names).
StatusOr<std::vector<Feature>> LawFeatures(const Law& law);

// Names of θ's coordinates ("a", "b", ...), in order.
StatusOr<std::vector<std::string>> ThetaNames(const Law& law);

// Fits `family` to `runs`. INVALID_ARGUMENT when the family is unknown, the
// options are bad, a run lacks a positive feature the family needs (the message
// names the run's index), or there are fewer runs than parameters.
// Deterministic: the same runs and options give the same law, whatever the
// thread count.
StatusOr<FitResult> Fit(std::string_view family,
                        std::span<const Observation> runs,
                        const FitOptions& options);

// Fits a user law (family "expr"); as Fit() above, and INVALID_ARGUMENT for an
// expression that does not parse (naming the position and what was
// expected), an unknown name, or bad bounds or starts.
StatusOr<FitResult> Fit(const ExprSpec& expr, std::span<const Observation> runs,
                        const FitOptions& options);

// Σ w·Huber_δ(log L̂ − log L) over `runs`: the quantity Fit() minimises;
// with lineage_correlation ρ > 0, of the residuals whitened within lineages
// (FitOptions::lineage_correlation).
StatusOr<double> Objective(const Law& law, std::span<const Observation> runs,
                           double huber_delta, double lineage_correlation = 0);

// Predicted loss at the features of `at` (its loss is ignored).
StatusOr<double> PredictLoss(const Law& law, const Observation& at);

// Natural parameters of `law`, in the family's order.
StatusOr<std::vector<NamedValue>> NaturalParams(const Law& law);

// A θ coordinate on one of its box bounds (LAWS.md §9: the fit is flagged).
// The optimiser wanted to go past the bound, so the parameter's standard
// error, and every interval built from the covariance, describe the box and
// not the data: such a law is shown with a warning and a campaign never
// stops on it (MeetsStoppingRule).
enum class BoundSide { kLower, kUpper };
struct ParameterAtBound {
  int index = 0;     // into θ
  std::string name;  // θ's coordinate name, e.g. "e"
  BoundSide side = BoundSide::kLower;
  double bound = 0;  // the bound, in θ's coordinates
};

// A coordinate counts as on its bound within this fraction of the smaller of
// max(1, |bound|) and the box's width: Ceres' bounded solves end exactly on
// the bound, and a warm refit from there ends within rounding of it.
inline constexpr double kAtBoundTolerance = 1e-6;

// The coordinates of law.theta on a bound, in θ order; empty when none.
// INVALID_ARGUMENT for a θ of the wrong size or not finite; NOT_FOUND for an
// unknown family.
StatusOr<std::vector<ParameterAtBound>> ParametersAtBound(const Law& law);

// One line for a law's warnings, e.g. "e sits on its lower bound (-3): its
// interval is not trustworthy, and a campaign does not stop on this law".
std::string AtBoundWarning(const ParameterAtBound& at_bound);

// The law with the given natural parameters; every one of the family's must be
// present, once, and scale constants must be > 0.
StatusOr<Law> LawFromNatural(std::string_view family,
                             std::span<const NamedValue> params);

// Clark et al.'s expert transform Ê(E) with Ludziejewski et al. 2025's fitted
// E_start and E_max (the `joint` family's defaults).
double JointEHat(double num_experts, double e_start = 2.0732,
                 double e_max = 290.4521);

// A `joint` law at a fixed expert count is Chinchilla's in (N_act, D):
// L = m·N^mu + n·D^nu + c (Ludziejewski et al. 2025, Table 4), mu, nu < 0.
struct JointReduction {
  double m = 0, mu = 0, n = 0, nu = 0, c = 0;
};
// INVALID_ARGUMENT unless `law` is a joint law and num_experts >= 1.
StatusOr<JointReduction> ReduceJoint(const Law& law, double num_experts);

// Published coefficients (LAWS.md): finegrained "krajewski2024", joint
// "ludziejewski2025", datablations "muennighoff2023", chinchilla
// "hoffmann_tex", "hoffmann_rounded", "epoch".
StatusOr<Law> PublishedLaw(std::string_view family, std::string_view preset);

// How to draw synthetic runs from a known law (tests, demos, planning).
struct SimulationOptions {
  double min_params = 1e7;  // smallest N
  double max_params = 1e9;  // largest N
  int param_points = 8;     // N values, log-spaced
  std::vector<double> tokens_per_param = {5, 10, 20, 40, 80, 160};  // D = M·N
  double noise_sigma = 0.01;    // log-normal noise on the loss
  double outlier_fraction = 0;  // fraction of runs made gross outliers
  std::uint64_t seed = 1;

  Status Validate() const;
};

// Runs at every (N, M) of the design with loss = truth · exp(σ·z); an outlier's
// log loss is moved a further ±(0.1 to 0.4). Deterministic for a seed.
StatusOr<std::vector<Observation>> SimulateRuns(
    const Law& truth, const SimulationOptions& options);

// Fills the loss of each design point from `truth` with log-normal noise σ
// and, for a fraction of points, a gross outlier (log loss moved a further
// ±(0.1 to 0.4)). Deterministic for a seed.
StatusOr<std::vector<Observation>> SimulateLosses(
    const Law& truth, std::vector<Observation> design, double noise_sigma,
    double outlier_fraction, std::uint64_t seed);

// Huber_δ(r) = r²/2 for |r| ≤ δ, δ(|r| − δ/2) otherwise.
double Huber(double r, double delta);

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_CORE_H_
