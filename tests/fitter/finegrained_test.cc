#include <gtest/gtest.h>

#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

// LAWS.md §2f, T5.
TEST(FinegrainedLawTest, KrajewskiCheckValues) {
  StatusOr<Law> law = PublishedLaw("finegrained", "krajewski2024");
  ASSERT_OK(law);
  const double expected[][2] = {{1, 3.3772}, {8, 3.2415}, {64, 3.2009}};
  for (const auto& [g, loss] : expected) {
    Observation at{.tokens = 1e10, .n_total_ne = 1e9, .granularity = g};
    StatusOr<double> predicted = PredictLoss(*law, at);
    ASSERT_OK(predicted);
    EXPECT_NEAR(*predicted, loss, 1e-4) << "G = " << g;
  }
}

TEST(FinegrainedLawTest, RecoversParametersFromNoiselessRuns) {
  StatusOr<Law> truth = PublishedLaw("finegrained", "krajewski2024");
  ASSERT_OK(truth);
  std::vector<Observation> runs;
  for (double n : {1e8, 3e8, 1e9, 3e9})
    for (double m : {10, 40, 160})
      for (double g : {1, 2, 4, 8, 16}) {
        Observation run{
            .tokens = m * n / 10, .n_total_ne = n, .granularity = g};
        run.loss = *PredictLoss(*truth, run);
        runs.push_back(run);
      }
  FitOptions options;
  options.extra_starts = {truth->theta};
  StatusOr<FitResult> fit = Fit("finegrained", runs, options);
  ASSERT_OK(fit);
  EXPECT_LT(fit->objective, 1e-12);
  for (std::size_t i = 0; i < truth->theta.size(); ++i) {
    EXPECT_NEAR(fit->law.theta[i], truth->theta[i], 1e-3) << "theta " << i;
  }
}

TEST(FinegrainedLawTest, RefusesRunsWithoutGranularity) {
  StatusOr<Law> law = PublishedLaw("finegrained", "krajewski2024");
  ASSERT_OK(law);
  Observation at{.tokens = 1e10, .n_total_ne = 1e9, .granularity = 0};
  StatusOr<double> predicted = PredictLoss(*law, at);
  EXPECT_EQ(predicted.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(predicted.status().message().find("granularity"),
            std::string_view::npos);
}

}  // namespace
}  // namespace moesweep::fitter
