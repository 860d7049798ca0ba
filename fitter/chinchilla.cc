// The `chinchilla` family (Hoffmann et al. 2022, approach 3; LAWS.md §1):
//   L(N, D) = E + A/N^alpha + B/D^beta,
//   log L   = LSE(a − alpha·log N, b − beta·log D, e),  A = e^a, B = e^b, E =
//   e^e.
// Bounds and the 4,500-point start grid are LAWS.md §9's (the Epoch AI grid).

#include <cmath>
#include <string>

#include "ceres/ceres.h"
#include "fitter/family.h"
#include "fitter/huber_objective.h"
#include "fitter/log_sum_exp.h"

namespace moesweep::fitter {
namespace {

constexpr Feature kFeatures[] = {Feature::kParams, Feature::kTokens};

// θ order: a, b, e, alpha, beta.
constexpr ParamSpec kParams[] = {
    {"a", "A", true, false, -5, 40},
    {"b", "B", true, false, -5, 40},
    {"e", "E", true, false, -3, 3},
    {"alpha", "alpha", false, true, 0, 2.5},
    {"beta", "beta", false, true, 0, 2.5},
};

// log L̂ − log L for one run; templated so AutoDiffCostFunction differentiates
// it (STYLE H12).
struct ChinchillaResidual {
  explicit ChinchillaResidual(const Observation& run)
      : log_n(std::log(run.params)),
        log_d(std::log(run.tokens)),
        log_loss(std::log(run.loss)) {}

  double log_n;
  double log_d;
  double log_loss;

  template <typename T>
  bool operator()(const T* theta, T* residual) const {
    const T terms[3] = {theta[0] - theta[3] * log_n,
                        theta[1] - theta[4] * log_d, theta[2]};
    residual[0] = LogSumExp(terms) - log_loss;
    return true;
  }
};

class Chinchilla final : public ResidualFamily<ChinchillaResidual, 5> {
 public:
  Chinchilla() : ResidualFamily(kParams) {}

  std::string_view name() const override { return "chinchilla"; }

  std::vector<std::vector<double>> StartGrid() const override {
    std::vector<std::vector<double>> grid;
    grid.reserve(4500);
    for (double a = 0; a <= 25; a += 5)
      for (double b = 0; b <= 25; b += 5)
        for (double e = -1; e <= 1; e += 0.5)
          for (double alpha = 0; alpha <= 2; alpha += 0.5)
            for (double beta = 0; beta <= 2; beta += 0.5)
              grid.push_back({a, b, e, alpha, beta});
    return grid;
  }

  std::span<const Feature> features() const override { return kFeatures; }
};

}  // namespace

const Family& ChinchillaFamily() {
  static const Chinchilla family;
  return family;
}

}  // namespace moesweep::fitter
