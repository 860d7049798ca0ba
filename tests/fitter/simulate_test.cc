#include <gtest/gtest.h>

#include <cmath>

#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

TEST(SimulateRunsTest, CoversTheDesignAndIsDeterministic) {
  StatusOr<Law> truth = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(truth);
  SimulationOptions options;
  options.param_points = 5;
  options.tokens_per_param = {10, 20};
  options.seed = 42;
  StatusOr<std::vector<Observation>> a = SimulateRuns(*truth, options);
  StatusOr<std::vector<Observation>> b = SimulateRuns(*truth, options);
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_EQ(a->size(), 10u);
  EXPECT_DOUBLE_EQ(a->front().params, 1e7);
  EXPECT_DOUBLE_EQ(a->back().params, 1e9);
  EXPECT_DOUBLE_EQ(a->back().tokens, 2e10);
  for (std::size_t i = 0; i < a->size(); ++i)
    EXPECT_EQ((*a)[i].loss, (*b)[i].loss);
  options.seed = 43;
  StatusOr<std::vector<Observation>> c = SimulateRuns(*truth, options);
  ASSERT_OK(c);
  EXPECT_NE(a->front().loss, c->front().loss);
}

TEST(SimulateRunsTest, NoiseHasTheRequestedScaleAndOutliersTheRequestedShare) {
  StatusOr<Law> truth = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(truth);
  SimulationOptions options;
  options.param_points = 200;
  options.noise_sigma = 0.01;
  options.outlier_fraction = 0.05;
  StatusOr<std::vector<Observation>> runs = SimulateRuns(*truth, options);
  ASSERT_OK(runs);
  int outliers = 0, inliers = 0;
  double sum_sq = 0;
  for (const Observation& run : *runs) {
    const double r = std::log(run.loss) - std::log(*PredictLoss(*truth, run));
    if (std::abs(r) > 0.07) {
      ++outliers;
    } else {
      ++inliers;
      sum_sq += r * r;
    }
  }
  EXPECT_NEAR(double(outliers) / runs->size(), 0.05, 0.015);
  EXPECT_NEAR(std::sqrt(sum_sq / inliers), 0.01, 0.001);
}

TEST(SimulateRunsTest, RefusesBadOptions) {
  StatusOr<Law> truth = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(truth);
  SimulationOptions options;
  options.outlier_fraction = 1.5;
  EXPECT_EQ(SimulateRuns(*truth, options).status().code(),
            StatusCode::kInvalidArgument);
  options = {};
  options.min_params = 1e9;
  options.max_params = 1e8;
  EXPECT_EQ(SimulateRuns(*truth, options).status().code(),
            StatusCode::kInvalidArgument);
  options = {};
  options.tokens_per_param = {};
  EXPECT_EQ(SimulateRuns(*truth, options).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::fitter
