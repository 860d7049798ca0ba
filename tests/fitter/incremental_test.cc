#include <gtest/gtest.h>

#include <cmath>

#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

std::vector<Observation> EpochRuns(std::uint64_t seed, double outliers) {
  SimulationOptions sim;
  sim.param_points = 8;
  sim.noise_sigma = 0.01;
  sim.outlier_fraction = outliers;
  sim.seed = seed;
  return *SimulateRuns(*PublishedLaw("chinchilla", "epoch"), sim);
}

TEST(IncrementalFitterTest, RecordsOutOfSampleErrorsBeforeEachRunJoins) {
  IncrementalOptions options;
  options.background = false;
  StatusOr<std::unique_ptr<IncrementalFitter>> fitter =
      IncrementalFitter::Create("chinchilla", options);
  ASSERT_OK(fitter);
  const std::vector<Observation> runs = EpochRuns(3, 0);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    ASSERT_OK((*fitter)->Add(runs[i]));
    if (i < 5) {
      EXPECT_FALSE((*fitter)->Current().has_value()) << i;
    }
  }
  std::optional<LawSnapshot> law = (*fitter)->Current();
  ASSERT_TRUE(law.has_value());
  EXPECT_EQ(law->runs, 48);
  // One law per run from the sixth on, plus accepted full refits.
  EXPECT_GE(law->version, 43);
  const std::vector<OutOfSample> oos = (*fitter)->OutOfSampleErrors();
  ASSERT_EQ(oos.size(), 48u - 6u);
  EXPECT_EQ(oos.front().run, 6);
  EXPECT_EQ(oos.front().version, 1);
  // Each error is the prediction of the law before the run joined.
  for (const OutOfSample& e : oos) {
    EXPECT_NEAR(e.log_error, std::log(e.predicted) - std::log(e.actual), 1e-12);
    EXPECT_EQ(e.actual, runs[e.run].loss);
  }
  // By the end the law predicts new runs to within a few noise levels.
  EXPECT_LT(std::abs(oos.back().log_error), 0.05);
}

// The warm-started law matches a cold multi-start fit of the same runs.
TEST(IncrementalFitterTest, EndsWhereAColdFitEnds) {
  IncrementalOptions options;
  options.background = false;
  options.full_refit_every = 1000;  // warm refits only after the first law
  StatusOr<std::unique_ptr<IncrementalFitter>> fitter =
      IncrementalFitter::Create("chinchilla", options);
  ASSERT_OK(fitter);
  const std::vector<Observation> runs = EpochRuns(5, 0.05);
  for (const Observation& run : runs) ASSERT_OK((*fitter)->Add(run));
  StatusOr<FitResult> cold = Fit("chinchilla", runs, FitOptions{});
  ASSERT_OK(cold);
  EXPECT_NEAR((*fitter)->Current()->objective, cold->objective,
              1e-6 * cold->objective);
}

TEST(IncrementalFitterTest, BackgroundRefitsCompleteAndNeverLoseRuns) {
  IncrementalOptions options;
  options.full_refit_every = 10;
  StatusOr<std::unique_ptr<IncrementalFitter>> fitter =
      IncrementalFitter::Create("chinchilla", options);
  ASSERT_OK(fitter);
  const std::vector<Observation> runs = EpochRuns(9, 0.05);
  for (const Observation& run : runs) ASSERT_OK((*fitter)->Add(run));
  (*fitter)->WaitForRefits();
  std::optional<LawSnapshot> law = (*fitter)->Current();
  ASSERT_TRUE(law.has_value());
  EXPECT_EQ(law->runs, 48);
  EXPECT_GE(law->full_refits, 2);
  EXPECT_EQ((*fitter)->Runs().size(), 48u);
  StatusOr<double> objective = Objective(law->law, runs, 1e-3);
  ASSERT_OK(objective);
  EXPECT_NEAR(*objective, law->objective, 1e-12);
}

// Runs that arrive together join in one refit: each is scored against the
// law from before the batch, and the law ends where run-by-run adds end.
TEST(IncrementalFitterTest, ABatchIsScoredOutOfSampleAndFittedOnce) {
  IncrementalOptions options;
  options.background = false;
  options.full_refit_every = 1000;
  const std::vector<Observation> runs = EpochRuns(4, 0);
  auto one_by_one = IncrementalFitter::Create("chinchilla", options);
  auto batched = IncrementalFitter::Create("chinchilla", options);
  ASSERT_OK(one_by_one);
  ASSERT_OK(batched);
  for (const Observation& run : runs) ASSERT_OK((*one_by_one)->Add(run));
  const std::span<const Observation> all(runs);
  ASSERT_OK((*batched)->AddBatch(all.subspan(0, 16)));
  const LawSnapshot before = *(*batched)->Current();
  ASSERT_OK((*batched)->AddBatch(all.subspan(16)));
  const LawSnapshot after = *(*batched)->Current();
  EXPECT_EQ(after.runs, 48);
  EXPECT_EQ(after.version, before.version + 1);  // one refit for 32 runs
  const std::vector<OutOfSample> oos = (*batched)->OutOfSampleErrors();
  ASSERT_EQ(oos.size(), 32u);
  for (std::size_t i = 0; i < oos.size(); ++i) {
    EXPECT_EQ(oos[i].run, static_cast<int>(16 + i));
    EXPECT_EQ(oos[i].version, before.version);
    EXPECT_NEAR(std::log(oos[i].predicted),
                std::log(*PredictLoss(before.law, runs[16 + i])), 1e-12);
  }
  EXPECT_NEAR(after.objective, (*one_by_one)->Current()->objective,
              1e-6 * after.objective);
}

TEST(IncrementalFitterTest, RefusesBadRunsAndKeepsNothingOfThem) {
  StatusOr<std::unique_ptr<IncrementalFitter>> fitter =
      IncrementalFitter::Create("chinchilla", IncrementalOptions{});
  ASSERT_OK(fitter);
  EXPECT_EQ((*fitter)->Add({.params = 0, .tokens = 1e9, .loss = 3}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((*fitter)->Add({.params = 1e8, .tokens = 1e9, .loss = -1}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE((*fitter)->Runs().empty());
  // One bad run refuses its whole batch.
  const std::vector<Observation> batch = {
      {.params = 1e8, .tokens = 1e9, .loss = 3},
      {.params = 1e8, .tokens = 1e9, .loss = std::nan("")}};
  EXPECT_EQ((*fitter)->AddBatch(batch).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE((*fitter)->Runs().empty());
  EXPECT_EQ(
      IncrementalFitter::Create("kaplan", IncrementalOptions{}).status().code(),
      StatusCode::kNotFound);
  IncrementalOptions bad;
  bad.full_refit_every = 0;
  EXPECT_EQ(IncrementalFitter::Create("chinchilla", bad).status().code(),
            StatusCode::kInvalidArgument);
  bad = IncrementalOptions{};
  bad.max_screen_runs = -1;
  EXPECT_EQ(IncrementalFitter::Create("chinchilla", bad).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::fitter
