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
constexpr double kVocab = 50257;  // Ludziejewski et al.: GPT-2 tokenizer

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

// Ludziejewski et al.'s shape: N_act = 2·d·V + 13·d³/64 (n_blocks = d/64).
double JointWidth(double active_params) {
  double lo = 1, hi = 1e6;
  for (int i = 0; i < 64; ++i) {  // 1e6/2^64: far below a parameter
    const double d = 0.5 * (lo + hi);
    (2 * d * kVocab + 13 * d * d * d / 64 < active_params ? lo : hi) = d;
  }
  return 0.5 * (lo + hi);
}

std::vector<double> OrDefault(const std::vector<double>& given,
                              std::vector<double> fallback) {
  return given.empty() ? fallback : given;
}

}  // namespace

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
  const double c = o.flops;
  auto loss_at = [&](const Observation& at) {
    const double v = std::exp(family->LogPredict(theta, at));
    return std::isfinite(v) ? v : kInf;
  };
  // Choices over which the size search is repeated; each returns its best.
  std::vector<std::pair<PointAt, std::pair<double, double>>> searches;
  const std::string& name = law.family;

  if (name == "chinchilla" || name == "datablations" || name == "expr") {
    if (name == "expr") {
      for (Feature f : family->features()) {
        if (f != Feature::kParams && f != Feature::kTokens) {
          return FailedPreconditionError(
              "an expr law has a cost model only over params and tokens (C = "
              "6·N·D); "
              "this one reads " +
              std::string(FeatureName(f)));
        }
      }
    }
    searches.push_back({[&](double log_n) {
                          const double n = std::exp(log_n);
                          OptimalPoint p;
                          p.params = p.active_params = n;
                          p.tokens = c / (6 * n);
                          p.flops_per_token = 6 * n;
                          p.memory_bytes = 2 * n;
                          Observation at{.params = n, .tokens = p.tokens};
                          at.unique_tokens =
                              o.unique_tokens > 0 ? o.unique_tokens : p.tokens;
                          p.loss = MeetsCaps(p, o) ? loss_at(at) : kInf;
                          return p;
                        },
                        {std::log(1e4), std::log(std::max(c / 6 / 1e3, 1e5))}});
  } else if (name == "joint") {
    for (double e : OrDefault(o.allowed_experts, {1, 2, 4, 8, 16, 32})) {
      searches.push_back(
          {[&, e](double log_n) {
             const double n_act = std::exp(log_n);
             const double d = JointWidth(n_act);
             const double blocks = d / 64;
             OptimalPoint p;
             p.active_params = n_act;
             p.params = 2 * d * kVocab + (4 + 9 * e) * blocks * d * d;
             p.tokens = c / (6 * n_act);
             p.flops_per_token = 6 * n_act;
             p.memory_bytes =
                 2 * (p.params + 2 * o.kv_cache_tokens * blocks * d);
             p.num_experts = e;
             Observation at{
                 .tokens = p.tokens, .active_params = n_act, .num_experts = e};
             p.loss = MeetsCaps(p, o) ? loss_at(at) : kInf;
             return p;
           },
           {std::log(1e7), std::log(std::max(c / 6 / 1e6, 1e8))}});
    }
  } else if (name == "finegrained") {
    const double e = o.expansion, c_f = 6, c_r = 14;
    for (double g :
         OrDefault(o.allowed_granularity, {1, 2, 4, 8, 16, 32, 64, 128, 256})) {
      // By value: the search runs after this block's locals are gone (a
      // reference to c_f and c_r here read a reused stack slot).
      searches.push_back(
          {[&, g, e, c_f, c_r](double log_blocks) {
             const double blocks = std::exp(log_blocks);
             const double d = 64 * blocks;
             OptimalPoint p;
             p.params = d * d * (8 * e + 4) * blocks;
             p.active_params = 12 * d * d * blocks;
             p.flops_per_token = (12 * d * d * c_f + d * e * g * c_r) * blocks;
             p.tokens = c / p.flops_per_token;
             p.memory_bytes = 2 * p.params;
             p.granularity = g;
             p.num_experts = e * g;
             Observation at{
                 .tokens = p.tokens, .n_total_ne = p.params, .granularity = g};
             p.loss = MeetsCaps(p, o) ? loss_at(at) : kInf;
             return p;
           },
           {std::log(1.0), std::log(1e4)}});
    }
  } else if (name == "comprehensive") {
    // Eq. 11's G and S factor multiplies a positive size term, so the best
    // (G, S) is the same at every size: found once, then sizes are searched
    // on C = 6·N_a·D (non-embedding sizes; the paper's cost model). That
    // cost does not charge total parameters and the loss falls as N grows,
    // so without a cap on N the optimum would be the search's edge.
    if (!std::isfinite(o.max_total_params) &&
        !std::isfinite(o.max_memory_bytes)) {
      return FailedPreconditionError(
          "a comprehensive (Zhao et al. Eq. 11) law's loss falls as total "
          "parameters grow at a fixed budget, which C = 6·N_a·D does not "
          "charge: give max_total_params or max_memory_bytes");
    }
    MOESWEEP_ASSIGN_OR_RETURN(
        const ComprehensiveShape shape,
        ComprehensiveOptimum(law, 1e9, o.allowed_active_experts,
                             o.allowed_shared_ratio));
    const double g = shape.active_experts, s_ratio = shape.shared_ratio;
    searches.push_back({[&, g, s_ratio](double log_na) {
                          const double n_a = std::exp(log_na);
                          OptimalPoint p;
                          p.active_params = n_a;
                          p.tokens = c / (6 * n_a);
                          p.flops_per_token = 6 * n_a;
                          p.active_experts = g;
                          p.shared_ratio = s_ratio;
                          // Inner search over the active fraction N_a/N.
                          auto at_ratio = [&](double log_r) {
                            OptimalPoint q = p;
                            q.params = n_a / std::exp(log_r);
                            q.memory_bytes = 2 * q.params;
                            Observation at{.params = q.params,
                                           .tokens = q.tokens,
                                           .active_params = n_a,
                                           .n_total_ne = q.params,
                                           .n_active_ne = n_a,
                                           .active_experts = g,
                                           .shared_ratio = s_ratio};
                            q.loss = MeetsCaps(q, o) ? loss_at(at) : kInf;
                            return q;
                          };
                          return MinimizeOverSize(at_ratio, std::log(1e-3), 0.0,
                                                  25, nullptr);
                        },
                        {std::log(1e6), std::log(std::max(c / 6 / 1e6, 1e7))}});
  } else {
    return FailedPreconditionError("family '" + name + "' has no cost model");
  }

  OptimalResult result;
  result.best.loss = kInf;
  std::vector<std::pair<OptimalPoint, double>> bests;  // per choice, argmin
  for (const auto& [point, range] : searches) {
    std::vector<OptimalPoint> profile;
    double x = 0;
    OptimalPoint p = MinimizeOverSize(point, range.first, range.second,
                                      o.profile_points, &profile, &x);
    bests.push_back({p, x});
    if (p.loss < result.best.loss)
      result.best = p, result.isoflop = std::move(profile);
  }
  if (!std::isfinite(result.best.loss)) {
    return FailedPreconditionError("no model meets the caps at " +
                                   std::to_string(c) + " FLOPs");
  }
  if (o.band > 0) {
    const double limit = (1 + o.band) * result.best.loss;
    for (std::size_t i = 0; i < searches.size(); ++i) {
      const auto& [point, range] = searches[i];
      const auto& [p, x] = bests[i];
      if (!(p.loss <= limit)) continue;
      result.band.push_back({BandEdge(point, x, range.first, limit), p,
                             BandEdge(point, x, range.second, limit)});
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
