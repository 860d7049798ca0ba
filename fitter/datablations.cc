// The `datablations` family (Muennighoff et al. 2023, data-constrained
// scaling): Chinchilla's law with the tokens replaced by the effective data
//   D' = U + U·R*·(1 − exp(−R/R*)),   R = D/U − 1 (repetitions beyond one
// epoch), U the unique tokens. Repeated tokens are worth less and less; R*
// sets how fast (the paper reports R_D* ≈ 15.4 [recall]). The paper's
// parameter-side term (R_N*, excess parameters) is not modelled.

#include <algorithm>
#include <cmath>

#include "ceres/ceres.h"
#include "fitter/family.h"
#include "fitter/huber_objective.h"
#include "fitter/log_sum_exp.h"

namespace moesweep::fitter {
namespace {

constexpr Feature kFeatures[] = {Feature::kParams, Feature::kTokens,
                                 Feature::kUniqueTokens};

// θ order: a, b, e, alpha, beta (as chinchilla), log_r_star.
constexpr ParamSpec kParams[] = {
    {"a", "A", true, false, -5, 40},
    {"b", "B", true, false, -5, 40},
    {"e", "E", true, false, -3, 3},
    {"alpha", "alpha", false, true, 0, 2.5},
    {"beta", "beta", false, true, 0, 2.5},
    {"log_r_star", "R_star", true, false, -2, 8},
};

struct DatablationsResidual {
  explicit DatablationsResidual(const Observation& run)
      : log_n(std::log(run.params)),
        log_u(std::log(run.unique_tokens)),
        repeats(std::max(run.tokens / run.unique_tokens - 1.0, 0.0)),
        log_loss(std::log(run.loss)) {}

  double log_n, log_u, repeats, log_loss;

  template <typename T>
  bool operator()(const T* th, T* residual) const {
    using std::exp;
    using std::log;
    const T r_star = exp(th[5]);
    // log D' = log U + log(1 + R*·(1 − e^(−R/R*))).
    const T log_d_eff =
        log_u + log(1.0 + r_star * (1.0 - exp(-repeats / r_star)));
    const T terms[3] = {th[0] - th[3] * log_n, th[1] - th[4] * log_d_eff,
                        th[2]};
    residual[0] = LogSumExp(terms) - log_loss;
    return true;
  }
};

class Datablations final : public ResidualFamily<DatablationsResidual, 6> {
 public:
  Datablations() : ResidualFamily(kParams) {}

  std::string_view name() const override { return "datablations"; }
  std::span<const Feature> features() const override { return kFeatures; }

  std::vector<std::vector<double>> StartGrid() const override {
    std::vector<std::vector<double>> grid;
    for (double a : {0, 5, 10, 15, 20})
      for (double b : {0, 5, 10, 15, 20})
        for (double e : {-1, 0, 1})
          for (double alpha : {0.2, 0.5, 1.0})
            for (double beta : {0.2, 0.5, 1.0})
              for (double r_star : {5, 15, 50})
                grid.push_back({a, b, e, alpha, beta, std::log(r_star)});
    return grid;
  }
};

}  // namespace

const Family& DatablationsFamily() {
  static const Datablations family;
  return family;
}

}  // namespace moesweep::fitter
