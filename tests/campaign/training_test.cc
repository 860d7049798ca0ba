// Learning-rate rules (training.cc).

#include <gtest/gtest.h>

#include <cmath>

#include "campaign/campaign.h"
#include "tests/campaign/base_spec.h"

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

TEST(CampaignTrainingTest, PowerRuleScalesFromItsReferenceAndIsCapped) {
  TrainingSpec t;
  t.lr_rule = LrRule::kPower;
  t.lr_power = {.base = 1e-2, .exponent = 0.5, .reference = 1e5};
  EXPECT_DOUBLE_EQ(LearningRate(t, 1e5, 1), 1e-2);
  EXPECT_DOUBLE_EQ(LearningRate(t, 4e5, 1), 5e-3);
  EXPECT_DOUBLE_EQ(LearningRate(t, 2.5e4, 1), 2e-2);
  EXPECT_DOUBLE_EQ(LearningRate(t, 1e5, 16), 1e-2);  // experts_exponent 0
  t.lr_power.experts_exponent = 0.25;
  EXPECT_DOUBLE_EQ(LearningRate(t, 4e5, 16), 2.5e-3);
  // Extrapolated to a single parameter the rule asks for 3.16; capped.
  EXPECT_EQ(LearningRate(t, 1, 1), kMaxLearningRate);
}

CampaignSpec Spec(std::string_view from, std::string_view to) {
  StatusOr<CampaignSpec> spec = ParseCampaignSpec(testing::BaseWith(from, to));
  EXPECT_TRUE(spec.ok()) << spec.status().message();
  return spec.ok() ? *spec : CampaignSpec{};
}

TEST(CampaignTrainingTest, WarnsAboutRunsOfTooFewSteps) {
  // The base spec: 1e9 tokens at 524288 a step is 1908 steps.
  EXPECT_TRUE(CampaignSpecWarnings(Spec("seed: 7", "seed: 7")).empty());
  // 1e9 tokens at 8388608 a step is 120 steps.
  const std::vector<std::string> w = CampaignSpecWarnings(
      Spec("batch_tokens: 524288", "batch_tokens: 8388608"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].find("space.tokens: the smallest run, 1e9 tokens, is 120 "
                      "steps of training.batch_tokens (8388608)"),
            0u)
      << w[0];
  EXPECT_NE(w[0].find("raise space.tokens' min to 1677721600"),
            std::string::npos)
      << w[0];
  // No batch_tokens: the coordinator's default batch, not the spec's; quiet.
  EXPECT_TRUE(CampaignSpecWarnings(Spec("batch_tokens: 524288, ", "")).empty());
}

TEST(CampaignTrainingTest, BranchingNeedsATokenRange) {
  std::string yaml = testing::BaseWith(
      "training: {schedule: wsd, lr: {rule: ludziejewski}, warmup_tokens: "
      "1e8, batch_tokens: 524288, eval_every_tokens: 2.5e8}",
      "training: {schedule: wsd, branching: true}");
  StatusOr<CampaignSpec> spec = ParseCampaignSpec(yaml);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_TRUE(spec->training.branching);
  const std::string range = "tokens: {min: 1e9, max: 2e10, log: true}";
  yaml.replace(yaml.find(range), range.size(), "tokens: [1e9, 4e9, 2e10]");
  spec = ParseCampaignSpec(yaml);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message().rfind(
                "training.branching: needs space.tokens as a range", 0),
            0u)
      << spec.status().message();
}

}  // namespace
}  // namespace moesweep::campaign
