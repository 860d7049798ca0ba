#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

#include "ceres/ceres.h"
#include "fitter/family.h"
#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

// The hand-written Jacobian of the comprehensive family's residuals against
// central differences of the residuals themselves, at random θ and runs.
TEST(ComprehensiveFamilyTest, AnalyticJacobianMatchesCentralDifferences) {
  const Family& family = ComprehensiveFamily();
  std::mt19937_64 rng(::testing::UnitTest::GetInstance()->random_seed());
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Observation> runs;
  for (int i = 0; i < 20; ++i) {
    const double n = std::exp(18 + 5 * u(rng));
    runs.push_back({.params = n,
                    .tokens = std::exp(22 + 3 * u(rng)),
                    .loss = 2 + u(rng),
                    .active_params = n * (0.05 + 0.9 * u(rng)),
                    .active_experts = 1 + std::round(19 * u(rng)),
                    .shared_ratio = 0.7 * u(rng)});
  }
  const double delta = 1e-3;
  std::unique_ptr<ceres::CostFunction> cost(
      family.NewSqrtHuberResiduals(runs, delta));
  for (int trial = 0; trial < 10; ++trial) {
    std::vector<double> theta;
    for (const ParamSpec& p : family.params()) {
      theta.push_back(p.lower + (0.2 + 0.6 * u(rng)) * (p.upper - p.lower));
    }
    theta[0] = theta[1] = 4 + 3 * u(rng);  // keep the power terms near the data
    std::vector<double> residuals(runs.size()),
        jacobian(runs.size() * theta.size());
    const double* parameters[] = {theta.data()};
    double* jacobians[] = {jacobian.data()};
    ASSERT_TRUE(cost->Evaluate(parameters, residuals.data(), jacobians));
    for (std::size_t k = 0; k < theta.size(); ++k) {
      const double h = 1e-6;
      std::vector<double> plus = theta, minus = theta, r_plus(runs.size()),
                          r_minus(runs.size());
      plus[k] += h;
      minus[k] -= h;
      const double* p_plus[] = {plus.data()};
      const double* p_minus[] = {minus.data()};
      ASSERT_TRUE(cost->Evaluate(p_plus, r_plus.data(), nullptr));
      ASSERT_TRUE(cost->Evaluate(p_minus, r_minus.data(), nullptr));
      for (std::size_t i = 0; i < runs.size(); ++i) {
        const double numeric = (r_plus[i] - r_minus[i]) / (2 * h);
        EXPECT_NEAR(jacobian[i * theta.size() + k], numeric,
                    1e-5 * (1 + std::abs(numeric)))
            << "run " << i << ", theta " << k << ", trial " << trial;
      }
    }
  }
}

TEST(ComprehensiveFamilyTest, RefusesParametersOutsideTheirBounds) {
  const Family& family = ComprehensiveFamily();
  const Observation run{.params = 1e9,
                        .tokens = 2e10,
                        .loss = 2.5,
                        .active_params = 3e8,
                        .active_experts = 8,
                        .shared_ratio = 0.25};
  std::unique_ptr<ceres::CostFunction> cost(
      family.NewSqrtHuberResiduals({&run, 1}, 1e-3));
  std::vector<double> theta;
  for (const ParamSpec& p : family.params())
    theta.push_back(0.5 * (p.lower + p.upper));
  double residual = 0;
  const double* parameters[] = {theta.data()};
  EXPECT_TRUE(cost->Evaluate(parameters, &residual, nullptr));
  theta[11] = 0.95;  // S* above its upper bound 0.9
  EXPECT_FALSE(cost->Evaluate(parameters, &residual, nullptr));
}

}  // namespace
}  // namespace moesweep::fitter
