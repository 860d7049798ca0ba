// Real extrapolation on data nobody on the team produced: Gadre et al. 2024's
// over-training runs
// (../shared/data/gadre-overtraining). Fit RedPajama runs with N <= 411.6M on
// C4-eval loss, then predict the 1.44B (M = 640) and 6.89B (M = 20) runs. The
// authors' shared-exponent law reaches 0.71% and 0.73% there.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "fitter/fitter.h"
#include "tests/testing/gadre_data.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

TEST(GadreExtrapolationTest, ChinchillaFitExtrapolatesToLargerRuns) {
  StatusOr<std::vector<testing::GadreRun>> all =
      testing::LoadGadreRuns("rpj", "c4_val");
  if (all.status().code() == StatusCode::kNotFound) {
    GTEST_SKIP() << "skipped: real data absent: " << all.status().message();
  }
  ASSERT_OK(all);
  std::vector<Observation> train;
  std::vector<testing::GadreRun> targets;
  for (const testing::GadreRun& run : *all) {
    if (run.params <= 411.7e6)
      train.push_back(
          {.params = run.params, .tokens = run.tokens, .loss = run.loss});
    if (run.name == "rpj-open_lm_1b-32.0" || run.name == "rpj-open_lm_7b-1.0")
      targets.push_back(run);
  }
  ASSERT_EQ(train.size(), 32u);
  ASSERT_EQ(targets.size(), 2u);

  StatusOr<FitResult> fit = Fit("chinchilla", train, FitOptions{});
  ASSERT_OK(fit);
  for (const testing::GadreRun& target : targets) {
    StatusOr<double> predicted = PredictLoss(
        fit->law, {.params = target.params, .tokens = target.tokens});
    ASSERT_OK(predicted);
    const double error = std::abs(*predicted - target.loss) / target.loss;
    std::printf("gadre %s: true %.5f predicted %.5f relative error %.3f%%\n",
                target.name.c_str(), target.loss, *predicted, 100 * error);
    const double bound = target.model == "open_lm_1b" ? 0.013 : 0.033;
    EXPECT_LT(error, bound) << target.name;
  }
}

}  // namespace
}  // namespace moesweep::fitter
