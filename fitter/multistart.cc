// Fit(): a robust multi-start fit with Ceres, in two phases.
//
// 1. Screen: from every start, Ceres's L-BFGS line search
//    (GradientProblemSolver) on the Huber sum, with tolerances loose enough
//    to rank basins. Each thread owns one GradientProblem and takes starts
//    from a shared counter.
// 2. Polish: the kPolished best screened points are refined by a bounded
//    trust-region solve of the same objective written as least squares
//    (huber_objective.h) with strict tolerances, since objectives near 1e-3
//    stop early under default ones (BENCH.md; Besiroglu et al. 2024).
// Screening is the phase that runs thousands of times; a line-search
// iteration costs a fraction of a trust-region one.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <thread>
#include <vector>

#include "ceres/ceres.h"
#include "fitter/family.h"
#include "fitter/fitter.h"
#include "fitter/lineage.h"

namespace moesweep::fitter {
namespace {

// Screened points polished in phase 2. More only costs: the basins found are
// few.
constexpr std::size_t kPolished = 8;
// Optima of a screen on a subset of the runs screened again on all of them.
constexpr std::size_t kRescreened = 16;

struct StartResult {
  std::vector<double> theta;
  double cost = std::numeric_limits<double>::infinity();
  std::size_t start =
      0;  // index of the start it came from, for deterministic ties
};

// `count` items evenly spread over `all` (count < all.size()).
template <typename T>
std::vector<T> EvenlySpread(std::span<const T> all, int count) {
  std::vector<T> out;
  const double stride = double(all.size()) / count;
  for (int i = 0; i < count; ++i) {
    out.push_back(all[static_cast<std::size_t>(i * stride)]);
  }
  return out;
}

bool ByCost(const StartResult& x, const StartResult& y) {
  return x.cost < y.cost || (x.cost == y.cost && x.start < y.start);
}

std::vector<double> Clamped(const Family& family,
                            const std::vector<double>& start) {
  std::vector<double> theta(start);
  const auto specs = family.params();
  for (std::size_t i = 0; i < theta.size(); ++i) {
    theta[i] = std::clamp(theta[i], specs[i].lower, specs[i].upper);
  }
  return theta;
}

// Phase 1 for one thread.
class Screener {
 public:
  Screener(const Family& family, std::span<const Observation> runs,
           const FitOptions& options)
      : family_(family),
        problem_(family.NewHuberSum(runs, options.huber_delta)) {
    options_.line_search_direction_type = ceres::LBFGS;
    // Cubic and quadratic interpolation log a glog warning on every degenerate
    // step; bisection logs nothing and is as fast on these problems.
    options_.line_search_interpolation_type = ceres::BISECTION;
    options_.max_num_iterations = options.max_iterations;
    options_.logging_type = ceres::SILENT;
    // Loose on purpose: enough to rank basins; phase 2 converges the best ones
    // strictly.
    options_.function_tolerance = 1e-5;
    options_.gradient_tolerance = 1e-7;
    options_.parameter_tolerance = 1e-5;
  }

  StartResult Solve(const std::vector<double>& start, std::size_t index) const {
    StartResult result;
    result.start = index;
    std::vector<double> theta = Clamped(family_, start);
    ceres::GradientProblemSolver::Summary summary;
    ceres::Solve(options_, problem_, theta.data(), &summary);
    if (summary.IsSolutionUsable() && std::isfinite(summary.final_cost)) {
      result.theta = std::move(theta);
      result.cost = summary.final_cost;
    }
    return result;
  }

 private:
  const Family& family_;
  ceres::GradientProblem problem_;
  ceres::GradientProblemSolver::Options options_;
};

// Phase 2: a bounded trust-region solve from a screened point.
StartResult Polish(const Family& family, std::span<const Observation> runs,
                   const FitOptions& options, const StartResult& screened) {
  StartResult result = screened;
  std::vector<double> theta = Clamped(family, screened.theta);
  ceres::Problem problem;
  // Whitened, the polish minimises another objective than the screen's:
  // its own start's cost is the one to beat.
  const bool whitened = options.lineage_correlation > 0 && SharesLineages(runs);
  problem.AddResidualBlock(
      whitened
          ? NewWhitenedSqrtHuberResiduals(family, runs, options.huber_delta,
                                          options.lineage_correlation)
          : family.NewSqrtHuberResiduals(runs, options.huber_delta),
      nullptr, theta.data());
  const auto specs = family.params();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    problem.SetParameterLowerBound(theta.data(), static_cast<int>(i),
                                   specs[i].lower);
    problem.SetParameterUpperBound(theta.data(), static_cast<int>(i),
                                   specs[i].upper);
  }
  ceres::Solver::Options solver;
  solver.linear_solver_type = ceres::DENSE_NORMAL_CHOLESKY;
  solver.max_num_iterations = options.max_iterations;
  solver.num_threads = 1;
  solver.logging_type = ceres::SILENT;
  solver.function_tolerance = 1e-12;
  solver.gradient_tolerance = 1e-14;
  solver.parameter_tolerance = 1e-12;
  ceres::Solver::Summary summary;
  ceres::Solve(solver, &problem, &summary);
  const double to_beat = whitened ? summary.initial_cost : screened.cost;
  if (summary.IsSolutionUsable() && std::isfinite(summary.final_cost) &&
      summary.final_cost <= to_beat) {
    result.theta = theta;
    result.cost = summary.final_cost;
  } else if (whitened) {
    result.cost = summary.initial_cost;  // ranked with the other polishes
  }
  return result;
}

Status CheckRuns(const Family& family, std::span<const Observation> runs) {
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const Observation& run = runs[i];
    if (Status s = CheckFeatures(family, run); !s.ok()) {
      return InvalidArgumentError("run " + std::to_string(i) + ": " +
                                  std::string(s.message()));
    }
    if (!(run.loss > 0) || !std::isfinite(run.loss)) {
      return InvalidArgumentError("run " + std::to_string(i) +
                                  ": loss must be a finite number > 0, got " +
                                  std::to_string(run.loss));
    }
    if (!(run.weight > 0) || !std::isfinite(run.weight)) {
      return InvalidArgumentError("run " + std::to_string(i) +
                                  ": weight must be > 0");
    }
  }
  if (runs.size() < family.params().size()) {
    return InvalidArgumentError(
        "family '" + std::string(family.name()) + "' has " +
        std::to_string(family.params().size()) + " parameters but only " +
        std::to_string(runs.size()) + " runs were given");
  }
  return OkStatus();
}

std::vector<std::string> Warnings(const Family& family,
                                  std::vector<StartResult>& results) {
  std::vector<std::string> warnings;
  const auto specs = family.params();
  const StartResult& best = results.front();
  // The same rule and text as ParametersAtBound, so the fit's warnings and
  // the coordinator's at_bound flags agree.
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const std::optional<BoundSide> side = SideAtBound(specs[i], best.theta[i]);
    if (!side) continue;
    warnings.push_back(AtBoundWarning(
        {static_cast<int>(i), std::string(specs[i].name), *side,
         *side == BoundSide::kLower ? specs[i].lower : specs[i].upper}));
  }
  const std::size_t top = std::min<std::size_t>(3, results.size());
  for (std::size_t k = 1; k < top; ++k) {
    if (!std::isfinite(results[k].cost)) break;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (!specs[i].exponent) continue;
      const double a = best.theta[i], b = results[k].theta[i];
      if (std::abs(a - b) > 0.01 * std::max(std::abs(a), 1e-12)) {
        std::ostringstream msg;
        msg << "the three best starts disagree on " << specs[i].name << " ("
            << a << " vs " << b << ")";
        warnings.push_back(msg.str());
        return warnings;
      }
    }
  }
  return warnings;
}

}  // namespace

Status FitOptions::Validate() const {
  if (!(huber_delta > 0) || !std::isfinite(huber_delta)) {
    return InvalidArgumentError("huber_delta must be a finite number > 0");
  }
  if (num_threads < 0) return InvalidArgumentError("num_threads must be >= 0");
  if (max_iterations < 1)
    return InvalidArgumentError("max_iterations must be >= 1");
  if (max_grid_starts < 0) {
    return InvalidArgumentError("max_grid_starts must be >= 0");
  }
  if (max_screen_runs < 0) {
    return InvalidArgumentError("max_screen_runs must be >= 0");
  }
  if (!(lineage_correlation >= 0 && lineage_correlation <= 0.99)) {
    return InvalidArgumentError("lineage_correlation must be in [0, 0.99]");
  }
  if (!use_grid && extra_starts.empty()) {
    return InvalidArgumentError(
        "use_grid is false and no extra_starts were given");
  }
  return OkStatus();
}

namespace {

// The multi-start fit of any family; `law` names the family (and holds the
// expression of an expr law) and receives θ.
StatusOr<FitResult> FitFamily(const Family* family, Law law,
                              std::span<const Observation> runs,
                              const FitOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  MOESWEEP_RETURN_IF_ERROR(options.Validate());
  MOESWEEP_RETURN_IF_ERROR(CheckRuns(*family, runs));

  std::vector<std::vector<double>> starts;
  if (options.use_grid) starts = family->StartGrid();
  if (options.max_grid_starts > 0 &&
      starts.size() > static_cast<std::size_t>(options.max_grid_starts)) {
    starts = EvenlySpread<std::vector<double>>(starts, options.max_grid_starts);
  }
  for (const auto& s : options.extra_starts) {
    if (s.size() != family->params().size()) {
      return InvalidArgumentError(
          "an extra start has " + std::to_string(s.size()) +
          " values; family '" + std::string(family->name()) + "' needs " +
          std::to_string(family->params().size()));
    }
    starts.push_back(s);
  }

  int threads = options.num_threads > 0
                    ? options.num_threads
                    : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::clamp(threads, 1, static_cast<int>(starts.size()));
  std::vector<StartResult> screened(starts.size());
  // Warm starts alone (no grid) sit near an optimum already: they skip the
  // screen and are polished directly.
  const bool warm_only = !options.use_grid && starts.size() <= kPolished;
  if (warm_only) {
    for (std::size_t i = 0; i < starts.size(); ++i) {
      screened[i] = {Clamped(*family, starts[i]),
                     std::numeric_limits<double>::max(), i};
    }
  }
  std::vector<Observation> subset;
  std::span<const Observation> screen_runs = runs;
  if (!warm_only && options.max_screen_runs > 0 &&
      runs.size() > static_cast<std::size_t>(options.max_screen_runs)) {
    subset = EvenlySpread<Observation>(runs, options.max_screen_runs);
    screen_runs = subset;
  }
  std::atomic<std::size_t> next{warm_only ? starts.size() : 0};
  auto work = [&] {
    const Screener screener(*family, screen_runs, options);
    for (std::size_t i = next++; i < starts.size(); i = next++) {
      screened[i] = screener.Solve(starts[i], i);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();

  // Sorting by (cost, start index) makes the result independent of the thread
  // count.
  std::sort(screened.begin(), screened.end(), ByCost);
  if (!subset.empty()) {
    // A subset ranks basins roughly: the best few of its optima are screened
    // again on every run before the polish picks its kPolished.
    screened.resize(std::min(screened.size(), kRescreened));
    const Screener screener(*family, runs, options);
    for (StartResult& r : screened) {
      if (std::isfinite(r.cost)) r = screener.Solve(r.theta, r.start);
    }
    std::sort(screened.begin(), screened.end(), ByCost);
  }
  std::vector<StartResult> results;
  for (std::size_t i = 0; i < std::min(kPolished, screened.size()); ++i) {
    if (std::isfinite(screened[i].cost)) {
      results.push_back(Polish(*family, runs, options, screened[i]));
    }
  }
  if (results.empty()) {
    return InternalError("no start of family '" + std::string(family->name()) +
                         "' reached a finite objective");
  }
  std::sort(results.begin(), results.end(), ByCost);

  FitResult fit;
  law.theta = results.front().theta;
  fit.law = std::move(law);
  MOESWEEP_ASSIGN_OR_RETURN(fit.objective,
                            Objective(fit.law, runs, options.huber_delta,
                                      options.lineage_correlation));
  fit.runs = static_cast<int>(runs.size());
  fit.starts = static_cast<int>(starts.size());
  fit.warnings = Warnings(*family, results);
  fit.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  return fit;
}

}  // namespace

StatusOr<FitResult> Fit(std::string_view family_name,
                        std::span<const Observation> runs,
                        const FitOptions& options) {
  MOESWEEP_ASSIGN_OR_RETURN(const Family* family, LookupFamily(family_name));
  Law law;
  law.family = std::string(family->name());
  return FitFamily(family, std::move(law), runs, options);
}

StatusOr<FitResult> Fit(const ExprSpec& expr, std::span<const Observation> runs,
                        const FitOptions& options) {
  MOESWEEP_ASSIGN_OR_RETURN(std::unique_ptr<const Family> family,
                            NewExprFamily(expr));
  Law law;
  law.family = "expr";
  law.expr = expr;
  return FitFamily(family.get(), std::move(law), runs, options);
}

}  // namespace moesweep::fitter
