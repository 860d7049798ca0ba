// Whitening within lineages (fitter/lineage.h).

#include "fitter/lineage.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "fitter/family.h"
#include "fitter/fitter.h"

namespace moesweep::fitter {
namespace {

// r̃ = r − λ·r̄ in a lineage of m runs, λ = 1 − √((1 − ρ)/(1 + (m − 1)ρ));
// a run alone, or of lineage 0, is scaled by √(1 − ρ).
TEST(LineageTest, WhiteningDemeansLineagesByTheirShare) {
  const double rho = 0.75;
  std::vector<Observation> runs(5);
  runs[0].lineage = runs[1].lineage = runs[2].lineage = 4;  // m = 3
  runs[3].lineage = 9;                                      // alone
  runs[4].lineage = 0;
  std::vector<double> r = {1, 2, 6, 2, -4};
  Whiten(runs, rho, r.data(), 1);
  const double lambda = 1 - std::sqrt((1 - rho) / (1 + 2 * rho));
  EXPECT_NEAR(r[0], 1 - lambda * 3, 1e-12);
  EXPECT_NEAR(r[1], 2 - lambda * 3, 1e-12);
  EXPECT_NEAR(r[2], 6 - lambda * 3, 1e-12);
  EXPECT_NEAR(r[3], 2 * std::sqrt(1 - rho), 1e-12);
  EXPECT_NEAR(r[4], -4 * std::sqrt(1 - rho), 1e-12);
  EXPECT_TRUE(SharesLineages(runs));
  runs[1].lineage = 5;
  runs[2].lineage = 6;
  EXPECT_FALSE(SharesLineages(runs));
  // ρ = 0: nothing moves.
  std::vector<double> same = {1, 2, 6, 2, -4};
  Whiten(runs, 0, same.data(), 1);
  EXPECT_EQ(same, (std::vector<double>{1, 2, 6, 2, -4}));
}

// The whitened sqrt-Huber residuals: inside δ, the whitened log residuals
// themselves; their Jacobian, that of the whitened residuals, against
// central differences.
TEST(LineageTest, WhitenedResidualsAndTheirJacobian) {
  const Law law = *PublishedLaw("chinchilla", "epoch");
  StatusOr<FamilyHandle> resolved = ResolveFamily(law);
  ASSERT_TRUE(resolved.ok());
  const Family& family = **resolved;
  std::vector<Observation> runs;
  for (int k = 0; k < 4; ++k) {
    Observation run{.params = 1e8, .tokens = 2e9 * (k + 1)};
    run.loss = *PredictLoss(law, run) * std::exp(0.001 * (k - 1.5));
    run.lineage = k < 3 ? 1 : 0;
    runs.push_back(run);
  }
  const double rho = 0.6;
  std::unique_ptr<ceres::CostFunction> cost(
      NewWhitenedSqrtHuberResiduals(family, runs, 1.0, rho));
  const std::size_t p = law.theta.size();
  std::vector<double> residuals(runs.size()), jacobian(runs.size() * p);
  const double* parameters[] = {law.theta.data()};
  double* jacobians[] = {jacobian.data()};
  ASSERT_TRUE(cost->Evaluate(parameters, residuals.data(), jacobians));
  std::vector<double> expected(runs.size());
  for (std::size_t i = 0; i < runs.size(); ++i) {
    expected[i] =
        family.LogPredict(law.theta.data(), runs[i]) - std::log(runs[i].loss);
  }
  Whiten(runs, rho, expected.data(), 1);
  for (std::size_t i = 0; i < runs.size(); ++i)
    EXPECT_NEAR(residuals[i], expected[i], 1e-12);
  for (std::size_t c = 0; c < p; ++c) {
    const double h = 1e-6;
    std::vector<double> plus = law.theta, minus = law.theta;
    plus[c] += h;
    minus[c] -= h;
    std::vector<double> up(runs.size()), down(runs.size());
    const double* pp[] = {plus.data()};
    const double* pm[] = {minus.data()};
    ASSERT_TRUE(cost->Evaluate(pp, up.data(), nullptr));
    ASSERT_TRUE(cost->Evaluate(pm, down.data(), nullptr));
    for (std::size_t i = 0; i < runs.size(); ++i) {
      EXPECT_NEAR(jacobian[i * p + c], (up[i] - down[i]) / (2 * h),
                  1e-6 * (1 + std::abs(jacobian[i * p + c])));
    }
  }
}

}  // namespace
}  // namespace moesweep::fitter
