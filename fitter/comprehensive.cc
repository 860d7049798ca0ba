// The `comprehensive` family: PROVISIONAL, after Zhao et al. 2025 (arXiv
// 2509.23678), whose Eq. 11 and coefficients have not been read (LAWS.md §5).
// Only the published qualitative structure is encoded, and no coefficients
// ship:
//   1. a Chinchilla core in N (total parameters) and D;
//   2. a term in N_a/N with an interior minimum whose position moves with N
//      ("hook-like"; the optimal ratio falls as N grows);
//   3. terms quadratic in log G (G: active experts, shared included) and in S
//      (shared ratio), whose minima do not depend on N or D.
//   L = E + A/N^α + B/D^β + H·(ln(N_a/N) − ρ0 − ρ1·ln(N/1e9))²
//         + Q_G·(ln G − ln G*)² + Q_S·(S − S*)²          (12 parameters)

#include <cmath>

#include "ceres/ceres.h"
#include "fitter/family.h"
#include "fitter/huber_objective.h"

namespace moesweep::fitter {
namespace {

constexpr Feature kFeatures[] = {
    Feature::kParams, Feature::kTokens, Feature::kActiveParams,
    Feature::kActiveExperts, Feature::kSharedRatio};

// θ order: a, b, e, alpha, beta, log_h, rho0, rho1, log_qg, log_g_star,
// log_qs, s_star.
constexpr ParamSpec kParams[] = {
    {"a", "A", true, false, -5, 40},
    {"b", "B", true, false, -5, 40},
    {"e", "E", true, false, -3, 3},
    {"alpha", "alpha", false, true, 0, 2.5},
    {"beta", "beta", false, true, 0, 2.5},
    {"log_h", "H", true, false, -12, 3},
    {"rho0", "rho0", false, false, -6, 0},
    {"rho1", "rho1", false, true, -1, 1},
    {"log_qg", "Q_G", true, false, -14, 1},
    {"log_g_star", "G_star", true, false, 0, 4.2},
    {"log_qs", "Q_S", true, false, -14, 2},
    {"s_star", "S_star", false, false, 0, 0.9},
};

struct ComprehensiveResidual {
  explicit ComprehensiveResidual(const Observation& run)
      : log_n(std::log(run.params)),
        log_d(std::log(run.tokens)),
        log_ratio(std::log(run.active_params / run.params)),
        log_g(std::log(run.active_experts)),
        s(run.shared_ratio),
        log_loss(std::log(run.loss)) {}

  double log_n, log_d, log_ratio, log_g, s, log_loss;

  // The residual with its gradient by hand (AnalyticSqrtHuberResiduals).
  bool Evaluate(const double* th, double* residual, double* g) const {
    const double log_n9 = log_n - std::log(1e9);
    const double hook = log_ratio - th[6] - th[7] * log_n9;
    const double g_off = log_g - th[9];
    const double s_off = s - th[11];
    const double t_e = std::exp(th[2]), t_n = std::exp(th[0] - th[3] * log_n),
                 t_d = std::exp(th[1] - th[4] * log_d), h = std::exp(th[5]),
                 qg = std::exp(th[8]), qs = std::exp(th[10]);
    const double loss = t_e + t_n + t_d + h * hook * hook + qg * g_off * g_off +
                        qs * s_off * s_off;
    if (!(loss > 0) || !std::isfinite(loss)) return false;
    *residual = std::log(loss) - log_loss;
    if (g) {
      const double inv = 1 / loss;
      g[0] = t_n * inv;
      g[1] = t_d * inv;
      g[2] = t_e * inv;
      g[3] = -t_n * log_n * inv;
      g[4] = -t_d * log_d * inv;
      g[5] = h * hook * hook * inv;
      g[6] = -2 * h * hook * inv;
      g[7] = -2 * h * hook * log_n9 * inv;
      g[8] = qg * g_off * g_off * inv;
      g[9] = -2 * qg * g_off * inv;
      g[10] = qs * s_off * s_off * inv;
      g[11] = -2 * qs * s_off * inv;
    }
    return true;
  }

  template <typename T>
  bool operator()(const T* th, T* residual) const {
    using std::exp;
    using std::log;
    const T hook = log_ratio - th[6] - th[7] * (log_n - std::log(1e9));
    const T g_off = log_g - th[9];
    const T s_off = s - th[11];
    const T loss = exp(th[2]) + exp(th[0] - th[3] * log_n) +
                   exp(th[1] - th[4] * log_d) + exp(th[5]) * hook * hook +
                   exp(th[8]) * g_off * g_off + exp(th[10]) * s_off * s_off;
    residual[0] = log(loss) - log_loss;
    return true;
  }
};

class Comprehensive final : public ResidualFamily<ComprehensiveResidual, 12> {
 public:
  Comprehensive() : ResidualFamily(kParams) {}

  std::string_view name() const override { return "comprehensive"; }
  std::span<const Feature> features() const override { return kFeatures; }

  std::vector<std::vector<double>> StartGrid() const override {
    std::vector<std::vector<double>> grid;
    for (double a : {2, 6, 10})
      for (double b : {2, 6, 10})
        for (double e : {0.0, 0.5})
          for (double alpha : {0.2, 0.4})
            for (double beta : {0.2, 0.4})
              for (double log_h : {-4, -1})
                for (double rho0 : {-2.0, -0.5})
                  for (double log_qg : {-5, -2})
                    for (double g_star : {4, 8})
                      for (double log_qs : {-4, -1})
                        for (double s_star : {0.2, 0.4})
                          grid.push_back({a, b, e, alpha, beta, log_h, rho0, 0,
                                          log_qg, std::log(g_star), log_qs,
                                          s_star});
    return grid;
  }

  ceres::CostFunction* NewSqrtHuberResiduals(std::span<const Observation> runs,
                                             double delta) const override {
    // Warm refits over thousands of runs spend their time here.
    return new AnalyticSqrtHuberResiduals<ComprehensiveResidual, 12>(
        kParams, runs, delta);
  }
};

}  // namespace

const Family& ComprehensiveFamily() {
  static const Comprehensive family;
  return family;
}

}  // namespace moesweep::fitter
