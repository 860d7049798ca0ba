// SolveOptimal(): compute-optimal allocation by a log-spaced scan of model
// size at the budget, refined by golden-section search around the best scan
// point; caps make a point infeasible (infinite loss), so a binding cap puts
// the optimum on it. Discrete choices (experts, granularity, ...) are searched
// exhaustively around that.

#include "fitter/optimal.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "fitter/family.h"
#include "fitter/fitter.h"

namespace moesweep::fitter {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

using PointAt = std::function<OptimalPoint(double log_size)>;

bool MeetsCaps(const OptimalPoint& p, const OptimalOptions& o) {
  return p.params <= o.max_total_params &&
         p.active_params <= o.max_active_params &&
         p.flops_per_token <= o.max_flops_per_token &&
         p.memory_bytes <= o.max_memory_bytes && p.tokens >= 1;
}

// Minimises point(x).loss over x in [lo, hi]; fills `profile` with the scan
// and `argmin` with the minimising x.
OptimalPoint MinimizeOverSize(const PointAt& point, double lo, double hi,
                              int points, std::vector<OptimalPoint>* profile,
                              double* argmin = nullptr) {
  std::vector<double> xs(points);
  std::size_t best = 0;
  std::vector<OptimalPoint> scan(points);
  for (int i = 0; i < points; ++i) {
    xs[i] = lo + (hi - lo) * i / (points - 1);
    scan[i] = point(xs[i]);
    if (scan[i].loss < scan[best].loss) best = i;
  }
  if (profile) *profile = scan;
  if (argmin) *argmin = xs[best];
  if (!std::isfinite(scan[best].loss)) return scan[best];
  double a = xs[best > 0 ? best - 1 : 0],
         b = xs[std::min<std::size_t>(best + 1, points - 1)];
  const double ratio = (std::sqrt(5.0) - 1) / 2;
  double c = b - ratio * (b - a), d = a + ratio * (b - a);
  OptimalPoint pc = point(c), pd = point(d);
  for (int it = 0; it < 80 && b - a > 1e-10; ++it) {
    if (pc.loss <= pd.loss) {
      b = d, d = c, pd = pc;
      c = b - ratio * (b - a), pc = point(c);
    } else {
      a = c, c = d, pc = pd;
      d = a + ratio * (b - a), pd = point(d);
    }
  }
  OptimalPoint refined = pc.loss <= pd.loss ? pc : pd;
  if (!(refined.loss < scan[best].loss)) return scan[best];
  if (argmin) *argmin = pc.loss <= pd.loss ? c : d;
  return refined;
}

// The point on the band's edge between x_in (loss <= limit) and x_out, by
// bisection; x_in itself when x_out is within the limit too (the search's
// edge bounds the band).
OptimalPoint BandEdge(const PointAt& point, double x_in, double x_out,
                      double limit) {
  OptimalPoint out = point(x_out);
  if (out.loss <= limit) return out;
  OptimalPoint in = point(x_in);
  for (int it = 0; it < 100 && std::abs(x_out - x_in) > 1e-12; ++it) {
    const double mid = 0.5 * (x_in + x_out);
    OptimalPoint p = point(mid);
    if (p.loss <= limit) {
      x_in = mid, in = p;
    } else {
      x_out = mid;
    }
  }
  return in;
}

}  // namespace

double Family::TrainingFlops(const Observation& run) const {
  return 6 * run.params * run.tokens;
}

StatusOr<std::vector<SizeSearch>> Family::SizeSearches(
    const BudgetContext& b) const {
  return std::vector<SizeSearch>{
      {[this, &b](double log_n) {
         const OptimalOptions& o = b.options;
         const double n = std::exp(log_n);
         OptimalPoint p;
         p.params = p.active_params = n;
         Observation at{.params = n, .tokens = 1};
         p.flops_per_token = TrainingFlops(at);
         p.tokens = at.tokens = o.flops / p.flops_per_token;
         p.memory_bytes = 2 * n;
         at.unique_tokens = o.unique_tokens > 0 ? o.unique_tokens : p.tokens;
         p.loss = b.loss(p, at);
         return p;
       },
       std::log(1e4), std::log(std::max(b.options.flops / 6 / 1e3, 1e5))}};
}

OptimalPoint MinimizeOverLogSize(
    const std::function<OptimalPoint(double)>& point, double lo, double hi,
    int points) {
  return MinimizeOverSize(point, lo, hi, points, nullptr);
}

Status OptimalOptions::Validate() const {
  if (!(flops > 0) || !std::isfinite(flops)) {
    return InvalidArgumentError("flops must be a finite number > 0");
  }
  for (double cap : {max_total_params, max_active_params, max_flops_per_token,
                     max_memory_bytes}) {
    if (!(cap > 0)) return InvalidArgumentError("caps must be > 0");
  }
  if (!(kv_cache_tokens >= 0))
    return InvalidArgumentError("kv_cache_tokens must be >= 0");
  if (!(expansion >= 1)) return InvalidArgumentError("expansion must be >= 1");
  if (profile_points < 5)
    return InvalidArgumentError("profile_points must be >= 5");
  if (!(band >= 0 && band <= 1))
    return InvalidArgumentError("band must be in [0, 1]");
  for (double e : allowed_experts)
    if (!(e >= 1)) return InvalidArgumentError("allowed experts must be >= 1");
  for (double g : allowed_granularity)
    if (!(g >= 1))
      return InvalidArgumentError("allowed granularity must be >= 1");
  for (double g : allowed_active_experts)
    if (!(g >= 1))
      return InvalidArgumentError("allowed active experts must be >= 1");
  for (double s : allowed_shared_ratio)
    if (!(s >= 0 && s < 1))
      return InvalidArgumentError("allowed shared ratios must be in [0, 1)");
  return OkStatus();
}

StatusOr<OptimalResult> SolveOptimal(const Law& law, const OptimalOptions& o) {
  MOESWEEP_RETURN_IF_ERROR(o.Validate());
  MOESWEEP_ASSIGN_OR_RETURN(FamilyHandle family, ResolveFamily(law));
  const double* theta = law.theta.data();
  auto loss_at = [&](const Observation& at) {
    const double v = std::exp(family->LogPredict(theta, at));
    return std::isfinite(v) ? v : kInf;
  };
  const BudgetContext budget{law, o,
                             [&](const OptimalPoint& p, const Observation& at) {
                               return MeetsCaps(p, o) ? loss_at(at) : kInf;
                             }};
  MOESWEEP_ASSIGN_OR_RETURN(const std::vector<SizeSearch> searches,
                            family->SizeSearches(budget));

  OptimalResult result;
  result.best.loss = kInf;
  std::vector<std::pair<OptimalPoint, double>> bests;  // per choice, argmin
  for (const SizeSearch& search : searches) {
    std::vector<OptimalPoint> profile;
    double x = 0;
    OptimalPoint p = MinimizeOverSize(search.point, search.lo, search.hi,
                                      o.profile_points, &profile, &x);
    bests.push_back({p, x});
    if (p.loss < result.best.loss)
      result.best = p, result.isoflop = std::move(profile);
  }
  if (!std::isfinite(result.best.loss)) {
    return FailedPreconditionError("no model meets the caps at " +
                                   std::to_string(o.flops) + " FLOPs");
  }
  if (o.band > 0) {
    const double limit = (1 + o.band) * result.best.loss;
    for (std::size_t i = 0; i < searches.size(); ++i) {
      const auto& [p, x] = bests[i];
      if (!(p.loss <= limit)) continue;
      const SizeSearch& search = searches[i];
      result.band.push_back({BandEdge(search.point, x, search.lo, limit), p,
                             BandEdge(search.point, x, search.hi, limit)});
    }
    std::stable_sort(result.band.begin(), result.band.end(),
                     [](const NearOptimalRange& a, const NearOptimalRange& b) {
                       return a.best.loss < b.best.loss;
                     });
  }
  return result;
}

StatusOr<ComprehensiveShape> ComprehensiveOptimum(
    const Law& law, double n_total_ne,
    std::span<const double> allowed_active_experts,
    std::span<const double> allowed_shared_ratio) {
  if (law.family != "comprehensive") {
    return InvalidArgumentError(
        "ComprehensiveOptimum: a comprehensive law, got '" + law.family + "'");
  }
  if (!(n_total_ne > 0) || !std::isfinite(n_total_ne)) {
    return InvalidArgumentError("ComprehensiveOptimum: n_total_ne must be > 0");
  }
  MOESWEEP_ASSIGN_OR_RETURN(const std::vector<NamedValue> natural,
                            NaturalParams(law));
  auto get = [&](std::string_view name) {
    for (const NamedValue& v : natural) {
      if (v.name == name) return v.value;
    }
    return 0.0;
  };
  const double e = get("e"), f = get("f"), m = get("m"), n = get("n"),
               k = get("k"), h = get("h"), alpha = get("alpha"), c = get("c");
  if (!(e > 0 && f > 0)) {
    return FailedPreconditionError(
        "this comprehensive law's e·G + f/G has no minimum over G > 0");
  }
  auto factor = [&](double g, double s) {
    return e * g + f / g + m * s * s + n * s;
  };
  ComprehensiveShape out;
  out.active_experts = std::sqrt(f / e);
  out.shared_ratio = m > 0 ? std::clamp(-n / (2 * m), 0.0, 0.99) : 0.0;
  if (!allowed_active_experts.empty() || !allowed_shared_ratio.empty()) {
    const std::vector<double> gs =
        allowed_active_experts.empty()
            ? std::vector<double>{out.active_experts}
            : std::vector<double>(allowed_active_experts.begin(),
                                  allowed_active_experts.end());
    const std::vector<double> ss =
        allowed_shared_ratio.empty()
            ? std::vector<double>{out.shared_ratio}
            : std::vector<double>(allowed_shared_ratio.begin(),
                                  allowed_shared_ratio.end());
    double best = kInf;
    for (double g : gs) {
      for (double s : ss) {
        if (g > 0 && s >= 0 && s < 1 && factor(g, s) < best) {
          best = factor(g, s);
          out.active_experts = g;
          out.shared_ratio = s;
        }
      }
    }
    if (!std::isfinite(best)) {
      return InvalidArgumentError(
          "ComprehensiveOptimum: no allowed G > 0 and S in [0, 1)");
    }
  }
  // At fixed N the terms in N_a are A·k/N_a^α + A·h·N_a/N + c/N_a^α, least
  // at N_a = [α(A·k + c)/(A·h)]^(1/(1+α)) · N^(1/(1+α)) (LAWS.md §5c).
  const double A = factor(out.active_experts, out.shared_ratio);
  if (!(A > 0) || !(h > 0) || !(alpha > 0)) {
    out.active_ratio = 1;  // no interior minimum: N_a as large as it may be
    return out;
  }
  const double n_a =
      std::pow(alpha * (A * k + c) / (A * h) * n_total_ne, 1 / (1 + alpha));
  out.active_ratio = std::min(1.0, n_a / n_total_ne);
  return out;
}

}  // namespace moesweep::fitter
