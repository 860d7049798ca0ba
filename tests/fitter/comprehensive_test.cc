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
  StatusOr<Law> zhao = PublishedLaw("comprehensive", "zhao2025");
  ASSERT_OK(zhao);
  std::mt19937_64 rng(::testing::UnitTest::GetInstance()->random_seed());
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Observation> runs;
  for (int i = 0; i < 20; ++i) {
    const double n = std::exp(18 + 5 * u(rng));
    // Losses well below any the law predicts near its published fit (about
    // 2-4): every residual sits where the square-root Huber transform is
    // smooth, away from its kink at |r| = delta.
    runs.push_back({.tokens = std::exp(22 + 3 * u(rng)),
                    .loss = 0.5 + 0.5 * u(rng),
                    .n_total_ne = n,
                    .n_active_ne = n * (0.05 + 0.9 * u(rng)),
                    .active_experts = 1 + std::round(19 * u(rng)),
                    .shared_ratio = 0.7 * u(rng)});
  }
  const double delta = 1e-3;
  std::unique_ptr<ceres::CostFunction> cost(
      family.NewSqrtHuberResiduals(runs, delta));
  for (int trial = 0; trial < 10; ++trial) {
    // Around Zhao's published fit, where the terms have the data's scale.
    std::vector<double> theta = zhao->theta;
    for (double& t : theta) t += 0.3 * (u(rng) - 0.5);
    std::vector<double> residuals(runs.size()),
        jacobian(runs.size() * theta.size());
    const double* parameters[] = {theta.data()};
    double* jacobians[] = {jacobian.data()};
    ASSERT_TRUE(cost->Evaluate(parameters, residuals.data(), jacobians));
    for (std::size_t k = 0; k < theta.size(); ++k) {
      const double h = 1e-6;
      std::vector<std::vector<double>> r(4, std::vector<double>(runs.size()));
      const double steps[] = {2 * h, h, -h, -2 * h};
      for (int j = 0; j < 4; ++j) {
        std::vector<double> moved = theta;
        moved[k] += steps[j];
        const double* p[] = {moved.data()};
        ASSERT_TRUE(cost->Evaluate(p, r[j].data(), nullptr));
      }
      for (std::size_t i = 0; i < runs.size(); ++i) {
        const double numeric =
            (-r[0][i] + 8 * r[1][i] - 8 * r[2][i] + r[3][i]) / (12 * h);
        EXPECT_NEAR(jacobian[i * theta.size() + k], numeric,
                    1e-5 * (1 + std::abs(numeric)))
            << "run " << i << ", theta " << k << ", trial " << trial;
      }
    }
  }
}

TEST(ComprehensiveFamilyTest, RefusesParametersOutsideTheirBounds) {
  const Family& family = ComprehensiveFamily();
  const Observation run{.tokens = 2e10,
                        .loss = 2.5,
                        .n_total_ne = 1e9,
                        .n_active_ne = 3e8,
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
  theta[11] = 3.5;  // log ε above its upper bound 3
  EXPECT_FALSE(cost->Evaluate(parameters, &residual, nullptr));
}

// Zhao et al. 2025's Eq. 11 with its published coefficients reproduces the
// check values of LAWS.md §5c, computed from the formula by hand.
TEST(ComprehensiveFamilyTest, ZhaoCoefficientsGiveThePublishedCheckValues) {
  StatusOr<Law> zhao = PublishedLaw("comprehensive", "zhao2025");
  ASSERT_OK(zhao);
  auto loss = [&](double n, double d, double n_a, double g, double s) {
    StatusOr<double> l = PredictLoss(*zhao, {.tokens = d,
                                             .n_total_ne = n,
                                             .n_active_ne = n_a,
                                             .active_experts = g,
                                             .shared_ratio = s});
    EXPECT_OK(l);
    return l.ok() ? *l : 0.0;
  };
  EXPECT_NEAR(loss(1e9, 3e10, 2e8, 8, 0.25), 2.77277, 5e-5);
  EXPECT_NEAR(loss(3.4e9, 5e10, 5e8, 7, 0.3), 2.56215, 5e-5);

  StatusOr<ComprehensiveShape> at30b = ComprehensiveOptimum(*zhao, 30e9);
  ASSERT_OK(at30b);
  EXPECT_NEAR(at30b->active_experts, 6.7778, 5e-4);  // sqrt(f/e)
  EXPECT_NEAR(at30b->shared_ratio, 0.31485, 5e-5);   // -n/(2m)
  EXPECT_NEAR(at30b->active_ratio, 0.4007, 5e-4);
  StatusOr<ComprehensiveShape> at671b = ComprehensiveOptimum(*zhao, 671e9);
  ASSERT_OK(at671b);
  EXPECT_NEAR(at671b->active_ratio, 0.2204, 5e-4);
  // The ratio is a minimum of the loss over N_a at that N.
  const double n = 30e9, best = at30b->active_ratio;
  const double g = at30b->active_experts, s = at30b->shared_ratio;
  EXPECT_LT(loss(n, 1e12, best * n, g, s), loss(n, 1e12, 0.9 * best * n, g, s));
  EXPECT_LT(loss(n, 1e12, best * n, g, s), loss(n, 1e12, 1.1 * best * n, g, s));

  // Allowed choices: the best of them (G an integer, S a few ratios).
  const double gs[] = {4, 6, 7, 8, 16}, ss[] = {0, 0.25, 0.5};
  StatusOr<ComprehensiveShape> allowed =
      ComprehensiveOptimum(*zhao, 30e9, gs, ss);
  ASSERT_OK(allowed);
  EXPECT_EQ(allowed->active_experts, 7);
  EXPECT_EQ(allowed->shared_ratio, 0.25);
  EXPECT_FALSE(ComprehensiveOptimum(*zhao, 0).ok());
  StatusOr<Law> other = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(other);
  EXPECT_FALSE(ComprehensiveOptimum(*other, 30e9).ok());
}

// The compute-optimal model of Zhao's law. C = 6·N_a·D does not charge total
// parameters, so Eq. 11's loss falls as N grows at a fixed budget: the
// solver asks for a cap, and with one the optimum fills it, at the law's G
// and S, with the N_a that trades the N_a terms against data.
TEST(ComprehensiveFamilyTest, SolveOptimalFillsTheCapAtZhaosShape) {
  StatusOr<Law> zhao = PublishedLaw("comprehensive", "zhao2025");
  ASSERT_OK(zhao);
  OptimalOptions o;
  o.flops = 1e22;
  StatusOr<OptimalResult> uncapped = SolveOptimal(*zhao, o);
  EXPECT_EQ(uncapped.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(uncapped.status().message().find("max_total_params"),
            std::string::npos);
  o.max_total_params = 3e10;
  StatusOr<OptimalResult> r = SolveOptimal(*zhao, o);
  ASSERT_OK(r);
  const OptimalPoint& b = r->best;
  EXPECT_NEAR(6 * b.active_params * b.tokens / 1e22, 1, 1e-9);
  EXPECT_NEAR(b.params / 3e10, 1, 0.01);
  EXPECT_NEAR(b.active_experts, 6.7778, 5e-4);
  EXPECT_NEAR(b.shared_ratio, 0.31485, 5e-5);
  for (double scale : {0.7, 1.4}) {
    const double n_a = b.active_params * scale;
    StatusOr<double> off =
        PredictLoss(*zhao, {.tokens = 1e22 / (6 * n_a),
                            .n_total_ne = b.params,
                            .n_active_ne = n_a,
                            .active_experts = b.active_experts,
                            .shared_ratio = b.shared_ratio});
    ASSERT_OK(off);
    EXPECT_GT(*off, b.loss) << scale;
  }
}

}  // namespace
}  // namespace moesweep::fitter
