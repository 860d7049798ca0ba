#include <gtest/gtest.h>

#include <cmath>

#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

std::vector<Observation> Simulate(const Law& truth, double noise,
                                  double outliers, std::uint64_t seed) {
  SimulationOptions options;
  options.min_params = 1e7;
  options.max_params = 1e9;
  options.param_points = 10;
  options.noise_sigma = noise;
  options.outlier_fraction = outliers;
  options.seed = seed;
  StatusOr<std::vector<Observation>> runs = SimulateRuns(truth, options);
  EXPECT_OK(runs);
  return runs.ok() ? *runs : std::vector<Observation>{};
}

TEST(MultistartFitTest, RecoversExactParametersWithoutNoise) {
  StatusOr<Law> truth = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(truth);
  StatusOr<FitResult> fit =
      Fit("chinchilla", Simulate(*truth, 0, 0, 1), FitOptions{});
  ASSERT_OK(fit);
  EXPECT_EQ(fit->starts, 4500);
  EXPECT_EQ(fit->runs, 60);
  EXPECT_LT(fit->objective, 1e-12);
  for (std::size_t i = 0; i < truth->theta.size(); ++i) {
    EXPECT_NEAR(fit->law.theta[i], truth->theta[i],
                1e-4 * std::abs(truth->theta[i]))
        << "theta " << i;
  }
}

// 1% log-normal noise plus 5% gross outliers (log loss moved by 0.1 to 0.4):
// the fit is the global optimum (no worse than the truth itself), ignores the
// outliers, and extrapolates 10x past the largest run within 3%.
TEST(MultistartFitTest, RobustToNoiseAndGrossOutliers) {
  StatusOr<Law> truth = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(truth);
  StatusOr<std::vector<NamedValue>> want = NaturalParams(*truth);
  ASSERT_OK(want);
  const Observation far{.params = 1e10, .tokens = 2e11};
  StatusOr<double> true_far = PredictLoss(*truth, far);
  ASSERT_OK(true_far);
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const std::vector<Observation> runs = Simulate(*truth, 0.01, 0.05, seed);
    StatusOr<FitResult> fit = Fit("chinchilla", runs, FitOptions{});
    ASSERT_OK(fit);
    StatusOr<double> at_truth = Objective(*truth, runs, 1e-3);
    ASSERT_OK(at_truth);
    EXPECT_LE(fit->objective, *at_truth) << "seed " << seed;
    StatusOr<std::vector<NamedValue>> got = NaturalParams(fit->law);
    ASSERT_OK(got);
    EXPECT_NEAR((*got)[2].value, (*want)[2].value, 0.05 * (*want)[2].value)
        << "E, seed " << seed;
    EXPECT_NEAR((*got)[3].value, (*want)[3].value, 0.1 * (*want)[3].value)
        << "alpha, seed " << seed;
    EXPECT_NEAR((*got)[4].value, (*want)[4].value, 0.15 * (*want)[4].value)
        << "beta, seed " << seed;
    StatusOr<double> predicted = PredictLoss(fit->law, far);
    ASSERT_OK(predicted);
    EXPECT_NEAR(*predicted, *true_far, 0.03 * *true_far) << "seed " << seed;
  }
}

TEST(MultistartFitTest, SameResultWhateverTheThreadCount) {
  StatusOr<Law> truth = PublishedLaw("chinchilla", "hoffmann_tex");
  ASSERT_OK(truth);
  const std::vector<Observation> runs = Simulate(*truth, 0.01, 0.05, 7);
  FitOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  StatusOr<FitResult> a = Fit("chinchilla", runs, one);
  StatusOr<FitResult> b = Fit("chinchilla", runs, two);
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(a->law.theta, b->law.theta);
  EXPECT_EQ(a->objective, b->objective);
}

TEST(MultistartFitTest, WarmStartAloneReachesTheGridOptimum) {
  StatusOr<Law> truth = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(truth);
  const std::vector<Observation> runs = Simulate(*truth, 0.01, 0, 3);
  StatusOr<FitResult> cold = Fit("chinchilla", runs, FitOptions{});
  ASSERT_OK(cold);
  FitOptions warm;
  warm.use_grid = false;
  warm.extra_starts = {truth->theta};
  StatusOr<FitResult> fit = Fit("chinchilla", runs, warm);
  ASSERT_OK(fit);
  EXPECT_EQ(fit->starts, 1);
  EXPECT_NEAR(fit->objective, cold->objective, 1e-9 * cold->objective);
}

TEST(MultistartFitTest, RefusesFewerRunsThanParameters) {
  const std::vector<Observation> runs(
      4, Observation{.params = 1e8, .tokens = 1e9, .loss = 3});
  StatusOr<FitResult> fit = Fit("chinchilla", runs, FitOptions{});
  EXPECT_EQ(fit.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(fit.status().message().find("only 4 runs"), std::string_view::npos);
}

TEST(MultistartFitTest, RefusesBadRunsNamingTheRun) {
  std::vector<Observation> runs(
      6, Observation{.params = 1e8, .tokens = 1e9, .loss = 3});
  runs[3].loss = 0;
  StatusOr<FitResult> fit = Fit("chinchilla", runs, FitOptions{});
  EXPECT_EQ(fit.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(fit.status().message().find("run 3"), std::string_view::npos);
  runs[3].loss = 3;
  runs[5].tokens = std::nan("");
  fit = Fit("chinchilla", runs, FitOptions{});
  EXPECT_EQ(fit.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(fit.status().message().find("run 5"), std::string_view::npos);
}

// Screening on a subset of many runs ranks the basins as all of them do: the
// polished optimum is the full fit's.
TEST(MultistartFitTest, ScreeningOnASubsetOfRunsFindsTheSameOptimum) {
  StatusOr<Law> truth = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(truth);
  SimulationOptions many;
  many.param_points = 100;
  many.tokens_per_param = {4, 6, 9, 14, 20, 30, 45, 70, 100, 150};
  many.noise_sigma = 0.01;
  many.outlier_fraction = 0.05;
  many.seed = 11;
  StatusOr<std::vector<Observation>> runs = SimulateRuns(*truth, many);
  ASSERT_OK(runs);
  ASSERT_EQ(runs->size(), 1000u);
  FitOptions all, subset;
  subset.max_screen_runs = 60;
  StatusOr<FitResult> a = Fit("chinchilla", *runs, all);
  StatusOr<FitResult> b = Fit("chinchilla", *runs, subset);
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(b->runs, 1000);
  EXPECT_NEAR(b->objective, a->objective, 1e-9 * a->objective);
  for (std::size_t i = 0; i < a->law.theta.size(); ++i) {
    EXPECT_NEAR(b->law.theta[i], a->law.theta[i], 1e-4) << i;
  }
}

TEST(MultistartFitTest, RefusesBadOptionsAndUnknownFamilies) {
  const std::vector<Observation> runs(
      6, Observation{.params = 1e8, .tokens = 1e9, .loss = 3});
  FitOptions bad;
  bad.huber_delta = 0;
  EXPECT_EQ(Fit("chinchilla", runs, bad).status().code(),
            StatusCode::kInvalidArgument);
  FitOptions no_starts;
  no_starts.use_grid = false;
  EXPECT_EQ(Fit("chinchilla", runs, no_starts).status().code(),
            StatusCode::kInvalidArgument);
  FitOptions negative_subset;
  negative_subset.max_screen_runs = -1;
  EXPECT_EQ(Fit("chinchilla", runs, negative_subset).status().code(),
            StatusCode::kInvalidArgument);
  FitOptions short_start;
  short_start.extra_starts = {{1, 2, 3}};
  EXPECT_EQ(Fit("chinchilla", runs, short_start).status().code(),
            StatusCode::kInvalidArgument);
  StatusOr<FitResult> unknown = Fit("kaplan", runs, FitOptions{});
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("chinchilla"),
            std::string_view::npos);
}

}  // namespace
}  // namespace moesweep::fitter
