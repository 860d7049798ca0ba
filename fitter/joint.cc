// The `joint` family (Ludziejewski et al. 2025, Eq. 1 and 6; LAWS.md §4):
//   L(N, D, E) = a·Ê^δ·N^(α + γ·lnÊ) + b·Ê^ω·D^(β + ζ·lnÊ) + c,
// N the active parameters with embeddings, E the expert count (top-1), and
// Ê Clark et al.'s saturating transform with the paper's fitted E_start and
// E_max held fixed (poorly identified for E <= 32). The exponents carry their
// signs (α, β < 0), exactly as the paper writes them.

#include <algorithm>
#include <cmath>

#include "ceres/ceres.h"
#include "fitter/family.h"
#include "fitter/huber_objective.h"
#include "fitter/log_sum_exp.h"

namespace moesweep::fitter {
namespace {

constexpr Feature kFeatures[] = {Feature::kActiveParams, Feature::kTokens,
                                 Feature::kNumExperts};

// θ order: ln a, alpha, delta, gamma, ln b, beta, omega, zeta, ln c.
constexpr ParamSpec kParams[] = {
    {"log_a", "a", true, false, -5, 15},
    {"alpha", "alpha", false, true, -1.0, -0.01},
    {"delta", "delta", false, true, -2, 2},
    {"gamma", "gamma", false, true, -0.2, 0.2},
    {"log_b", "b", true, false, -5, 15},
    {"beta", "beta", false, true, -1.0, -0.01},
    {"omega", "omega", false, true, -2, 2},
    {"zeta", "zeta", false, true, -0.2, 0.2},
    {"log_c", "c", true, false, -3, 2},
};

struct JointResidual {
  explicit JointResidual(const Observation& run)
      : log_n(std::log(run.active_params)),
        log_d(std::log(run.tokens)),
        log_e_hat(std::log(JointEHat(run.num_experts))),
        log_loss(std::log(run.loss)) {}

  double log_n, log_d, log_e_hat, log_loss;

  template <typename T>
  bool operator()(const T* th, T* residual) const {
    const T terms[3] = {
        th[0] + th[2] * log_e_hat + (th[1] + th[3] * log_e_hat) * log_n,
        th[4] + th[6] * log_e_hat + (th[5] + th[7] * log_e_hat) * log_d, th[8]};
    residual[0] = LogSumExp(terms) - log_loss;
    return true;
  }
};

constexpr double kVocab = 50257;  // Ludziejewski et al.: GPT-2 tokenizer

// Ludziejewski et al.'s shape: N_act = 2·d·V + 13·d³/64 (n_blocks = d/64).
double JointWidth(double active_params) {
  double lo = 1, hi = 1e6;
  for (int i = 0; i < 64; ++i) {  // 1e6/2^64: far below a parameter
    const double d = 0.5 * (lo + hi);
    (2 * d * kVocab + 13 * d * d * d / 64 < active_params ? lo : hi) = d;
  }
  return 0.5 * (lo + hi);
}

class Joint final : public ResidualFamily<JointResidual, 9> {
 public:
  Joint() : ResidualFamily(kParams) {}

  // Ludziejewski et al.: C = 6·N_act·D, embeddings included.
  double TrainingFlops(const Observation& run) const override {
    return 6 * run.active_params * run.tokens;
  }

  // N_act per expert count, with the paper's shapes for N_total, memory and
  // the KV cache.
  StatusOr<std::vector<SizeSearch>> SizeSearches(
      const BudgetContext& b) const override {
    std::vector<double> experts = b.options.allowed_experts;
    if (experts.empty()) experts = {1, 2, 4, 8, 16, 32};
    std::vector<SizeSearch> searches;
    for (double e : experts) {
      searches.push_back(
          {[this, &b, e](double log_n) {
             const double n_act = std::exp(log_n);
             const double d = JointWidth(n_act);
             const double blocks = d / 64;
             OptimalPoint p;
             p.active_params = n_act;
             p.params = 2 * d * kVocab + (4 + 9 * e) * blocks * d * d;
             Observation at{
                 .tokens = 1, .active_params = n_act, .num_experts = e};
             p.flops_per_token = TrainingFlops(at);
             p.tokens = at.tokens = b.options.flops / p.flops_per_token;
             p.memory_bytes =
                 2 * (p.params + 2 * b.options.kv_cache_tokens * blocks * d);
             p.num_experts = e;
             p.loss = b.loss(p, at);
             return p;
           },
           std::log(1e7), std::log(std::max(b.options.flops / 6 / 1e6, 1e8))});
    }
    return searches;
  }

  std::string_view name() const override { return "joint"; }
  std::span<const Feature> features() const override { return kFeatures; }

  // The paper's 3^9 grid; its α, β are magnitudes, applied with the sign the
  // fitted values carry (LAWS.md §4d).
  std::vector<std::vector<double>> StartGrid() const override {
    std::vector<std::vector<double>> grid;
    const double third[] = {-0.5, 0, 0.5};
    for (double a : {30, 100, 300})
      for (double alpha : {-0.05, -0.25, -0.5})
        for (double delta : third)
          for (double gamma : third)
            for (double b : {30, 100, 300})
              for (double beta : {-0.05, -0.25, -0.5})
                for (double omega : third)
                  for (double zeta : third)
                    for (double c : {0.5, 1.0, 2.0})
                      grid.push_back({std::log(a), alpha, delta, gamma,
                                      std::log(b), beta, omega, zeta,
                                      std::log(c)});
    return grid;
  }
};

}  // namespace

double JointEHat(double num_experts, double e_start, double e_max) {
  // Clark et al. 2022 via Ludziejewski et al. 2025, Eq. 4.
  const double offset = 1.0 / (1.0 / e_start - 1.0 / e_max);
  return 1.0 / (1.0 / (num_experts - 1.0 + offset) + 1.0 / e_max);
}

StatusOr<JointReduction> ReduceJoint(const Law& law, double num_experts) {
  if (law.family != "joint" || law.theta.size() != std::size(kParams)) {
    return InvalidArgumentError("ReduceJoint needs a joint law");
  }
  if (!(num_experts >= 1)) {
    return InvalidArgumentError("num_experts must be >= 1");
  }
  const std::vector<double>& t = law.theta;
  const double log_e_hat = std::log(JointEHat(num_experts));
  return JointReduction{.m = std::exp(t[0] + t[2] * log_e_hat),
                        .mu = t[1] + t[3] * log_e_hat,
                        .n = std::exp(t[4] + t[6] * log_e_hat),
                        .nu = t[5] + t[7] * log_e_hat,
                        .c = std::exp(t[8])};
}

const Family& JointFamily() {
  static const Joint family;
  return family;
}

}  // namespace moesweep::fitter
