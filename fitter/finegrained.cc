// The `finegrained` family (Krajewski et al. 2024, Eq. 9; LAWS.md §2):
//   L(N, D, G) = c + (g/G^gamma + a)/N^alpha + b/D^beta,
// with N the total non-embedding parameters (routing excluded) and G the
// granularity d_ff/d_expert. Bounds and the 3,888-point grid: LAWS.md §9.

#include <cmath>

#include "ceres/ceres.h"
#include "fitter/family.h"
#include "fitter/huber_objective.h"
#include "fitter/log_sum_exp.h"

namespace moesweep::fitter {
namespace {

constexpr Feature kFeatures[] = {Feature::kTotalNonEmbed, Feature::kTokens,
                                 Feature::kGranularity};

// θ order: ln a, alpha, ln b, beta, ln g, gamma, ln c.
constexpr ParamSpec kParams[] = {
    {"log_a", "a", true, false, -5, 15},
    {"alpha", "alpha", false, true, 0.01, 1.0},
    {"log_b", "b", true, false, -5, 15},
    {"beta", "beta", false, true, 0.01, 1.0},
    {"log_g", "g", true, false, -5, 15},
    {"gamma", "gamma", false, true, 0, 3},
    {"log_c", "c", true, false, -3, 2},
};

struct FinegrainedResidual {
  explicit FinegrainedResidual(const Observation& run)
      : log_n(std::log(run.n_total_ne)),
        log_d(std::log(run.tokens)),
        log_g(std::log(run.granularity)),
        log_loss(std::log(run.loss)) {}

  double log_n, log_d, log_g, log_loss;

  // log L = LSE(ln c, ln a − α ln N, ln g − γ ln G − α ln N, ln b − β ln D).
  template <typename T>
  bool operator()(const T* th, T* residual) const {
    const T terms[4] = {th[6], th[0] - th[1] * log_n,
                        th[4] - th[5] * log_g - th[1] * log_n,
                        th[2] - th[3] * log_d};
    residual[0] = LogSumExp(terms) - log_loss;
    return true;
  }
};

// Krajewski's expansion rate E: routed experts over granularity, or the
// paper's 64 for a run that does not say (a dense one).
double Expansion(const Observation& run) {
  const double e = run.num_experts / run.granularity;
  return run.num_experts > 1 && e >= 1 ? e : 64;
}

class Finegrained final : public ResidualFamily<FinegrainedResidual, 7> {
 public:
  Finegrained() : ResidualFamily(kParams) {}

  // Krajewski et al.'s F = (12·d²·c_f + d·E·G·c_r)·D·n_blocks (c_f = 6,
  // c_r = 14), with the shape d = 64·n_blocks that gives the run's
  // N = d²·(8E + 4)·n_blocks.
  double TrainingFlops(const Observation& run) const override {
    const double e = Expansion(run);
    const double blocks = std::cbrt(run.n_total_ne / (4096 * (8 * e + 4)));
    return KrajewskiFlops(KrajewskiDModel(blocks), blocks, e, run.granularity,
                          run.tokens);
  }

  // n_blocks per granularity, at the options' expansion rate.
  StatusOr<std::vector<SizeSearch>> SizeSearches(
      const BudgetContext& b) const override {
    std::vector<double> granularity = b.options.allowed_granularity;
    if (granularity.empty()) granularity = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    const double e = b.options.expansion;
    std::vector<SizeSearch> searches;
    for (double g : granularity) {
      searches.push_back({[this, &b, e, g](double log_blocks) {
                            const double blocks = std::exp(log_blocks);
                            const double d = KrajewskiDModel(blocks);
                            OptimalPoint p;
                            p.params = KrajewskiTotalNonEmbed(d, blocks, e);
                            p.active_params =
                                KrajewskiActiveNonEmbed(d, blocks);
                            p.granularity = g;
                            p.num_experts = e * g;
                            Observation at{.tokens = 1,
                                           .n_total_ne = p.params,
                                           .granularity = g,
                                           .num_experts = e * g};
                            p.flops_per_token = TrainingFlops(at);
                            p.tokens = at.tokens =
                                b.options.flops / p.flops_per_token;
                            p.memory_bytes = 2 * p.params;
                            p.loss = b.loss(p, at);
                            return p;
                          },
                          std::log(1.0), std::log(1e4)});
    }
    return searches;
  }

  std::string_view name() const override { return "finegrained"; }
  std::span<const Feature> features() const override { return kFeatures; }

  std::vector<std::vector<double>> StartGrid() const override {
    std::vector<std::vector<double>> grid;
    for (double la : {1, 3, 5})
      for (double alpha : {0.05, 0.1, 0.2, 0.4})
        for (double lb : {1, 3, 5})
          for (double beta : {0.05, 0.1, 0.2, 0.4})
            for (double lg : {-1, 1, 3})
              for (double gamma : {0.25, 0.5, 1.0})
                for (double c : {0.3, 0.8, 1.5})
                  grid.push_back({la, alpha, lb, beta, lg, gamma, std::log(c)});
    return grid;
  }
};

}  // namespace

const Family& FinegrainedFamily() {
  static const Finegrained family;
  return family;
}

}  // namespace moesweep::fitter
