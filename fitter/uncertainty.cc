// Covariance, intervals and the bootstrap (uncertainty.h).

#include "fitter/uncertainty.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <thread>

#include "Eigen/Dense"
#include "ceres/ceres.h"
#include "fitter/family.h"
#include "fitter/fitter.h"
#include "fitter/lineage.h"

namespace moesweep::fitter {
namespace {

// Large enough that ψ_δ(r) = r for every residual: the raw log residuals.
constexpr double kNoHuber = 1e12;

double NormalPdf(double z) {
  return std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
}

double Quadratic(const std::vector<double>& g, const std::vector<double>& cov) {
  const std::size_t p = g.size();
  double v = 0;
  for (std::size_t i = 0; i < p; ++i)
    for (std::size_t j = 0; j < p; ++j) v += g[i] * cov[i * p + j] * g[j];
  return std::max(v, 0.0);
}

using RowMajorMatrix =
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// C ← C·[(1−ρ)·JᵀJ + ρ·Σ_lineage s·sᵀ]·C over the free parameters: the
// covariance of the (unweighted) fit when runs of one lineage share a part
// of their noise (uncertainty.h). `cov` is p×p row-major, C on the free ones.
void WidenForLineages(const RowMajorMatrix& jacobian,
                      std::span<const std::uint64_t> lineages,
                      const std::vector<int>& free, double rho,
                      std::vector<double>& cov) {
  const std::size_t p = jacobian.cols(), f = free.size();
  Eigen::MatrixXd j(jacobian.rows(), f), c(f, f);
  for (std::size_t a = 0; a < f; ++a) {
    j.col(a) = jacobian.col(free[a]);
    for (std::size_t b = 0; b < f; ++b) c(a, b) = cov[free[a] * p + free[b]];
  }
  Eigen::MatrixXd meat = (1 - rho) * (j.transpose() * j);
  std::map<std::uint64_t, Eigen::VectorXd> sums;
  for (Eigen::Index i = 0; i < j.rows(); ++i) {
    const std::uint64_t lineage = lineages[i];
    if (lineage == 0) {
      meat += rho * j.row(i).transpose() * j.row(i);
      continue;
    }
    auto [it, fresh] = sums.try_emplace(lineage, Eigen::VectorXd::Zero(f));
    it->second += j.row(i).transpose();
  }
  for (const auto& [lineage, s] : sums) meat += rho * s * s.transpose();
  const Eigen::MatrixXd widened = c * meat * c;
  for (std::size_t a = 0; a < f; ++a)
    for (std::size_t b = 0; b < f; ++b)
      cov[free[a] * p + free[b]] = widened(a, b);
}

// 1.4826·MAD: the residuals' robust scale, floored so that a noiseless fit's
// covariance stays finite and tiny.
double RobustScale(std::vector<double> residuals) {
  if (residuals.empty()) return 1e-12;
  const std::size_t mid = residuals.size() / 2;
  std::nth_element(residuals.begin(), residuals.begin() + mid, residuals.end());
  const double median = residuals[mid];
  for (double& r : residuals) r = std::abs(r - median);
  std::nth_element(residuals.begin(), residuals.begin() + mid, residuals.end());
  return std::max(1.4826 * residuals[mid], 1e-12);
}

// The upper q-quantile of chi-square with k degrees of freedom
// (Wilson-Hilferty: accurate to about 1% from k = 2).
double ChiSquareQuantile(double k, double z) {
  const double h = 2 / (9 * k);
  return k * std::pow(1 - h + z * std::sqrt(h), 3);
}

}  // namespace

LineageCorrelation EstimateLineageCorrelation(
    std::span<const double> residuals, std::span<const std::uint64_t> lineages,
    double sigma) {
  std::map<std::uint64_t, std::vector<double>> groups;
  for (std::size_t i = 0; i < residuals.size() && i < lineages.size(); ++i) {
    if (lineages[i] != 0) groups[lineages[i]].push_back(residuals[i]);
  }
  double within = 0;
  LineageCorrelation out;
  for (const auto& [lineage, r] : groups) {
    if (r.size() < 2) continue;
    double mean = 0;
    for (double x : r) mean += x / r.size();
    for (double x : r) within += (x - mean) * (x - mean);
    out.within_df += static_cast<int>(r.size()) - 1;
  }
  if (out.within_df == 0 || !(sigma > 0)) return out;
  // σ_w² at the lower end of its one-sided 90% interval (z = 1.2816).
  const double within_var =
      within / ChiSquareQuantile(out.within_df, 1.2815516);
  out.rho = std::clamp(1 - within_var / (sigma * sigma), 0.0, 0.99);
  return out;
}

LineageCorrelation EstimateLineageCorrelationAt(
    const Law& law, std::span<const Observation> runs) {
  StatusOr<FamilyHandle> family = ResolveFamily(law);
  if (!family.ok() || law.theta.size() != (*family)->params().size()) return {};
  std::vector<double> residuals;
  std::vector<std::uint64_t> lineages;
  for (const Observation& run : runs) {
    const double r =
        (*family)->LogPredict(law.theta.data(), run) - std::log(run.loss);
    if (!std::isfinite(r)) return {};
    residuals.push_back(r);
    lineages.push_back(run.lineage);
  }
  return EstimateLineageCorrelation(residuals, lineages,
                                    RobustScale(residuals));
}

StatusOr<std::vector<double>> LogPredictGradient(
    const Family& family, const std::vector<double>& theta,
    const Observation& at) {
  Observation unit_loss = at;
  unit_loss.loss = 1;
  std::unique_ptr<ceres::CostFunction> cost(
      family.NewSqrtHuberResiduals({&unit_loss, 1}, kNoHuber));
  std::vector<double> gradient(theta.size());
  double residual = 0;
  const double* parameters[] = {theta.data()};
  double* jacobians[] = {gradient.data()};
  if (!cost->Evaluate(parameters, &residual, jacobians)) {
    return InvalidArgumentError("the law cannot be evaluated at this point");
  }
  return gradient;
}

double TwoSidedZ(double level) {
  // Bisection on erf: P(|Z| <= z) = erf(z/√2).
  double lo = 0, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (std::erf(mid / std::sqrt(2.0)) < level ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

StatusOr<LawUncertainty> EstimateCovariance(const Law& law,
                                            std::span<const Observation> runs,
                                            double huber_delta,
                                            double lineage_correlation) {
  MOESWEEP_ASSIGN_OR_RETURN(FamilyHandle family, ResolveFamily(law));
  const std::size_t p = family->params().size();
  if (law.theta.size() != p)
    return InvalidArgumentError("law has the wrong parameter count");
  if (!(huber_delta > 0))
    return InvalidArgumentError("huber_delta must be > 0");

  std::vector<double> residuals;
  for (const Observation& run : runs) {
    MOESWEEP_RETURN_IF_ERROR(CheckFeatures(*family, run));
    residuals.push_back(family->LogPredict(law.theta.data(), run) -
                        std::log(run.loss));
  }
  if (residuals.size() <= p) {
    return FailedPreconditionError("need more runs than the law's " +
                                   std::to_string(p) + " parameters");
  }
  if (!(lineage_correlation >= 0 && lineage_correlation <= 0.99)) {
    return InvalidArgumentError("lineage_correlation must be in [0, 0.99]");
  }
  // A law fitted whitened (FitOptions::lineage_correlation) has the
  // covariance of that fit: residuals and Jacobian whitened the same way.
  const bool whitened = lineage_correlation > 0 && SharesLineages(runs);
  const std::vector<double> raw_residuals = residuals;
  if (whitened) Whiten(runs, lineage_correlation, residuals.data(), 1);
  const double sigma = RobustScale(residuals);

  std::vector<Observation> inliers;
  std::vector<double> inlier_residuals;
  std::vector<std::uint64_t> lineages;
  for (std::size_t i = 0; i < residuals.size(); ++i) {
    if (std::abs(residuals[i]) <= 3 * sigma) {
      inliers.push_back(runs[i]);
      inlier_residuals.push_back(raw_residuals[i]);
      lineages.push_back(runs[i].lineage);
    }
  }
  const std::size_t n = inliers.size();
  if (n <= p) {
    return FailedPreconditionError(
        "only " + std::to_string(n) +
        " runs lie within 3 sigma of the law; need more than " +
        std::to_string(p));
  }

  // Refuse a singular JᵀJ before Ceres sees it (Ceres would log an error).
  std::vector<double> theta = law.theta;
  std::unique_ptr<ceres::CostFunction> raw(
      family->NewSqrtHuberResiduals(inliers, kNoHuber));
  RowMajorMatrix jacobian(n, p);
  Eigen::VectorXd unused(n);
  const double* parameters[] = {theta.data()};
  double* jacobians[] = {jacobian.data()};
  if (!raw->Evaluate(parameters, unused.data(), jacobians)) {
    return InvalidArgumentError("the law cannot be evaluated at its runs");
  }
  if (whitened) Whiten(inliers, lineage_correlation, jacobian.data(), p);
  // When JᵀJ is singular and some parameters sit on their bounds (a term the
  // data barely see, such as Zhao's k, driven to its bound), those are held
  // there: the covariance is that of the others, the law at the bound, with
  // zero variance for the held ones. The law says which parameters sit on a
  // bound (ParametersAtBound), and a campaign does not stop on such a law.
  // A nonsingular JᵀJ keeps every parameter free, as before, the wider
  // answer.
  auto singular = [](const Eigen::MatrixXd& m) {
    const Eigen::VectorXd eigen =
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(m).eigenvalues();
    return !(eigen.minCoeff() > 1e-14 * eigen.maxCoeff());
  };
  std::vector<int> free(p);
  for (std::size_t i = 0; i < p; ++i) free[i] = static_cast<int>(i);
  Eigen::MatrixXd jtj = jacobian.transpose() * jacobian;
  if (singular(jtj)) {
    free.clear();
    for (std::size_t i = 0; i < p; ++i) {
      if (!SideAtBound(family->params()[i], theta[i])) {
        free.push_back(static_cast<int>(i));
      }
    }
    Eigen::MatrixXd j_free(n, free.size());
    for (std::size_t c = 0; c < free.size(); ++c) {
      j_free.col(c) = jacobian.col(free[c]);
    }
    jtj = j_free.transpose() * j_free;
    if (free.size() == p || free.empty() || singular(jtj)) {
      return FailedPreconditionError("law '" + law.family +
                                     "' is not identifiable from these runs "
                                     "(JᵀJ is singular; a parameter may sit "
                                     "on its bound)");
    }
  }
  LawUncertainty out;
  out.covariance.assign(p * p, 0);
  if (free.size() == p && !whitened) {
    ceres::Problem problem;
    problem.AddResidualBlock(raw.release(), nullptr, theta.data());
    ceres::Covariance::Options options;
    options.algorithm_type = ceres::DENSE_SVD;
    options.num_threads = 1;
    ceres::Covariance covariance(options);
    std::vector<std::pair<const double*, const double*>> blocks = {
        {theta.data(), theta.data()}};
    if (!covariance.Compute(blocks, &problem)) {
      return FailedPreconditionError(
          "law '" + law.family +
          "' is not identifiable from these runs (JᵀJ is singular)");
    }
    if (!covariance.GetCovarianceBlock(theta.data(), theta.data(),
                                       out.covariance.data())) {
      return InternalError("covariance block unavailable");
    }
  } else {
    const Eigen::MatrixXd inverse = jtj.inverse();
    for (std::size_t a = 0; a < free.size(); ++a) {
      for (std::size_t b = 0; b < free.size(); ++b) {
        out.covariance[free[a] * p + free[b]] = inverse(a, b);
      }
    }
  }

  // The lineages' ρ, from the raw residuals (σ their scale); a plain fit's
  // covariance is widened by it, a whitened one's already holds it.
  const LineageCorrelation correlation =
      EstimateLineageCorrelation(inlier_residuals, lineages,
                                 whitened ? RobustScale(raw_residuals) : sigma);
  if (!whitened && correlation.rho > 0) {
    WidenForLineages(jacobian, lineages, free, correlation.rho, out.covariance);
  }
  out.lineage_correlation = whitened ? lineage_correlation : correlation.rho;
  out.lineage_df = correlation.within_df;

  // κ = E[ψ²]/E[ψ']² for r ~ N(0, σ²), ψ the Huber_δ derivative, c = δ/σ.
  const double c = huber_delta / sigma;
  const double inside = std::erf(c / std::sqrt(2.0));  // P(|z| <= c)
  const double e_psi2 = sigma * sigma * (inside - 2 * c * NormalPdf(c)) +
                        huber_delta * huber_delta * (1 - inside);
  const double kappa = e_psi2 / (inside * inside);
  const double scale = kappa * double(n) / double(n - free.size());
  for (double& v : out.covariance) v *= scale;
  out.residual_sigma = sigma;
  out.inliers = static_cast<int>(n);
  return out;
}

StatusOr<Interval> PredictionInterval(const Law& law,
                                      const LawUncertainty& uncertainty,
                                      const Observation& at, double level,
                                      bool include_noise) {
  if (!(level > 0 && level < 1))
    return InvalidArgumentError("level must be in (0, 1)");
  MOESWEEP_ASSIGN_OR_RETURN(FamilyHandle family, ResolveFamily(law));
  MOESWEEP_RETURN_IF_ERROR(CheckFeatures(*family, at));
  const std::size_t p = family->params().size();
  if (uncertainty.covariance.size() != p * p || law.theta.size() != p) {
    return InvalidArgumentError("covariance does not match the law");
  }
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<double> g,
                            LogPredictGradient(*family, law.theta, at));
  double variance = Quadratic(g, uncertainty.covariance);
  if (include_noise)
    variance += uncertainty.residual_sigma * uncertainty.residual_sigma;
  const double log_value = family->LogPredict(law.theta.data(), at);
  const double half = TwoSidedZ(level) * std::sqrt(variance);
  return Interval{std::exp(log_value), std::exp(log_value - half),
                  std::exp(log_value + half)};
}

double RelativeWidth(const Interval& interval) {
  const double width =
      (interval.upper - interval.lower) / std::abs(interval.value);
  return std::isfinite(width) ? width : std::numeric_limits<double>::infinity();
}

StatusOr<Interval> DeltaMethodInterval(const Law& law,
                                       const LawUncertainty& uncertainty,
                                       const Quantity& quantity, double level,
                                       IntervalScale scale) {
  if (!(level > 0 && level < 1))
    return InvalidArgumentError("level must be in (0, 1)");
  const std::size_t p = law.theta.size();
  if (uncertainty.covariance.size() != p * p) {
    return InvalidArgumentError("covariance does not match the law");
  }
  MOESWEEP_ASSIGN_OR_RETURN(const double value, quantity(law));
  if (scale == IntervalScale::kLog && !(value > 0)) {
    return FailedPreconditionError(
        "a log-scale interval needs a positive quantity, got " +
        std::to_string(value));
  }
  std::vector<double> g(p);
  for (std::size_t i = 0; i < p; ++i) {
    // A step of a thousandth of θ_i's own standard error: small against the
    // curvature that matters, large against the quantity's solver tolerance.
    const double h =
        std::max(1e-3 * std::sqrt(uncertainty.covariance[i * p + i]), 1e-9);
    Law plus = law, minus = law;
    plus.theta[i] += h;
    minus.theta[i] -= h;
    MOESWEEP_ASSIGN_OR_RETURN(const double q_plus, quantity(plus));
    MOESWEEP_ASSIGN_OR_RETURN(const double q_minus, quantity(minus));
    g[i] = (q_plus - q_minus) / (2 * h);
  }
  const double sd = std::sqrt(Quadratic(g, uncertainty.covariance));
  if (scale == IntervalScale::kLog) {
    // sd(log Q) = sd(Q)/Q: the same linearisation, taken on log Q, so the
    // interval Q·exp(±h) stays positive however large Σ is.
    const double half = TwoSidedZ(level) * sd / value;
    return Interval{value, value * std::exp(-half), value * std::exp(half)};
  }
  const double half = TwoSidedZ(level) * sd;
  return Interval{value, value - half, value + half};
}

std::vector<std::vector<std::size_t>> BootstrapDraws(std::size_t runs,
                                                     int resamples,
                                                     std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick(0, runs - 1);
  std::vector<std::vector<std::size_t>> draws(std::max(resamples, 0));
  for (auto& draw : draws) {
    draw.resize(runs);
    for (std::size_t& i : draw) i = pick(rng);
  }
  return draws;
}

StatusOr<std::vector<std::vector<double>>> BootstrapThetas(
    const Law& law, std::span<const Observation> runs,
    const BootstrapOptions& options) {
  if (options.resamples < 1)
    return InvalidArgumentError("resamples must be >= 1");
  if (runs.empty()) return InvalidArgumentError("no runs to resample");
  // Every resample is drawn up front so the result does not depend on threads.
  const std::vector<std::vector<std::size_t>> draws =
      BootstrapDraws(runs.size(), options.resamples, options.seed);
  FitOptions fit;
  fit.huber_delta = options.huber_delta;
  fit.use_grid = false;
  fit.num_threads = 1;
  fit.extra_starts = {law.theta};
  std::vector<std::vector<double>> thetas(draws.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    std::vector<Observation> sample(runs.size());
    for (std::size_t k = next++; k < draws.size(); k = next++) {
      for (std::size_t i = 0; i < sample.size(); ++i)
        sample[i] = runs[draws[k][i]];
      StatusOr<FitResult> result = law.family == "expr"
                                       ? Fit(law.expr, sample, fit)
                                       : Fit(law.family, sample, fit);
      if (result.ok()) thetas[k] = result->law.theta;
    }
  };
  int threads = options.num_threads > 0
                    ? options.num_threads
                    : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::clamp(threads, 1, options.resamples);
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  std::erase_if(thetas, [](const std::vector<double>& t) { return t.empty(); });
  if (thetas.empty()) return InternalError("every bootstrap refit failed");
  return thetas;
}

Interval PercentileInterval(std::vector<double> samples, double value,
                            double level) {
  std::sort(samples.begin(), samples.end());
  auto quantile = [&](double q) {
    const double pos = q * (samples.size() - 1);
    const std::size_t i = static_cast<std::size_t>(pos);
    const double frac = pos - i;
    return i + 1 < samples.size()
               ? samples[i] * (1 - frac) + samples[i + 1] * frac
               : samples[i];
  };
  return Interval{value, quantile(0.5 - level / 2), quantile(0.5 + level / 2)};
}

}  // namespace moesweep::fitter
