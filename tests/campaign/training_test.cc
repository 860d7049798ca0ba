// Learning-rate rules (training.cc).

#include <gtest/gtest.h>

#include <cmath>

#include "campaign/campaign.h"

namespace moesweep::campaign {
namespace {

TEST(CampaignTrainingTest, ConstantRuleIgnoresTheModel) {
  TrainingSpec t;
  t.lr_rule = LrRule::kConstant;
  t.lr_constant = 3e-3;
  EXPECT_EQ(LearningRate(t, 1e8, 1), 3e-3);
  EXPECT_EQ(LearningRate(t, 1e10, 64), 3e-3);
}

TEST(CampaignTrainingTest, LudziejewskiRuleFallsWithSizeAndExperts) {
  const TrainingSpec t;  // the default rule
  // exp(8.39 - 0.81 ln 1e8) = 1.4579e-3.
  EXPECT_NEAR(LearningRate(t, 1e8, 1), 1.4579e-3, 1e-7);
  // 16 experts: a factor 16^-0.25 = 1/2; twice the size: 2^-0.81.
  EXPECT_NEAR(LearningRate(t, 1e8, 16) / LearningRate(t, 1e8, 1), 0.5, 1e-12);
  EXPECT_NEAR(LearningRate(t, 2e8, 1) / LearningRate(t, 1e8, 1),
              std::pow(2.0, -0.81), 1e-12);
}

}  // namespace
}  // namespace moesweep::campaign
