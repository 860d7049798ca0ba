// YAML spellings of the spec's enums (names.cc).

#include <gtest/gtest.h>

#include "campaign/campaign.h"

namespace moesweep::campaign {
namespace {

TEST(CampaignNamesTest, EveryNameReadsBack) {
  for (QuestionKind k :
       {QuestionKind::kComputeOptimalLoss, QuestionKind::kOptimalArchitecture,
        QuestionKind::kLawParameter, QuestionKind::kPrediction}) {
    const StatusOr<QuestionKind> back =
        QuestionKindFromName(QuestionKindName(k));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, k);
  }
  for (Schedule s : {Schedule::kCosine, Schedule::kWsd}) {
    const StatusOr<Schedule> back = ScheduleFromName(ScheduleName(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  for (Strategy s : {Strategy::kActive, Strategy::kGrid, Strategy::kRandom,
                     Strategy::kSobol, Strategy::kHolistic}) {
    const StatusOr<Strategy> back = StrategyFromName(StrategyName(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(QuestionKindName(QuestionKind::kOptimalArchitecture),
            "optimal_architecture");
  EXPECT_EQ(ScheduleName(Schedule::kWsd), "wsd");
}

TEST(CampaignNamesTest, UnknownNameListsTheKnownOnes) {
  const StatusOr<Strategy> s = StrategyFromName("Active");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      s.status().message(),
      "must be one of active, grid, random, sobol, holistic, got 'Active'");
}

}  // namespace
}  // namespace moesweep::campaign
