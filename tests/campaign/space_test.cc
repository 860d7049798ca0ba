// Rules of the design space (space.cc) on specs built as structs, as the
// coordinator builds them, and the spaces that must be accepted.

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "campaign/campaign.h"
#include "tests/campaign/base_spec.h"

namespace moesweep::campaign {
namespace {

using testing::BaseWith;
using testing::kBaseSpec;

CampaignSpec Base() { return *ParseCampaignSpec(kBaseSpec); }

std::string Message(const CampaignSpec& spec) {
  const Status s = ValidateCampaignSpec(spec);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  return std::string(s.message());
}

TEST(CampaignSpaceTest, AcceptsEveryWayOfWritingAnAxis) {
  for (std::string_view d_model :
       {"d_model: [256, 512]", "d_model: {min: 256, max: 1024, step: 128}",
        "d_model: {min: 256, max: 1024, log: true, step: 2}", "d_model: 512"}) {
    const StatusOr<CampaignSpec> spec = ParseCampaignSpec(BaseWith(
        "d_model: {min: 256, max: 1024, log: true, step: 2}", d_model));
    EXPECT_TRUE(spec.ok()) << d_model << ": " << spec.status().ToString();
  }
  // Powers of two as a log range with a power-of-two factor.
  const StatusOr<CampaignSpec> powers = ParseCampaignSpec(
      BaseWith("experts: [1, 4, 8]",
               "experts: {min: 1, max: 64, log: true, step: 4}\n"
               "  experts_power_of_two: true"));
  EXPECT_TRUE(powers.ok()) << powers.status().ToString();
}

TEST(CampaignSpaceTest, TopKAboveSomeExpertCountsIsAllowed) {
  // Combinations with top_k > experts are skipped, not refused: a dense
  // baseline (1 expert) sits beside top-2 MoEs.
  const StatusOr<CampaignSpec> spec =
      ParseCampaignSpec(BaseWith("top_k: [1]", "top_k: [1, 2]"));
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
}

TEST(CampaignSpaceTest, AListTakesNoRangeFields) {
  CampaignSpec spec = Base();
  spec.space.layers.step = 2;
  EXPECT_EQ(Message(spec),
            "space.layers: a list takes no min, max, log or step, got [4, 8]");
}

TEST(CampaignSpaceTest, AnUnsetRangeIsRefused) {
  CampaignSpec spec = Base();
  spec.space.tokens = Axis{};
  EXPECT_EQ(Message(spec), "space.tokens.min: must be >= 1, got 0");
}

TEST(CampaignSpaceTest, ArchitectureFieldsAreRefusedInAFeatureSpace) {
  CampaignSpec spec = Base();
  spec.law.family = "chinchilla";
  spec.space.kind = SpaceKind::kFeatures;
  spec.space.params = {.values = {1e8, 1e9}};
  EXPECT_EQ(Message(spec),
            "space.d_model: only in a space of architectures, got {min: 256, "
            "max: 1024, log: true, step: 2}");
  const SpaceSpec unset;
  spec.space.d_model = unset.d_model;
  spec.space.layers = unset.layers;
  EXPECT_EQ(Message(spec),
            "space.experts: only in a space of architectures, got [1, 4, 8]");
  spec.space.experts = unset.experts;
  EXPECT_EQ(Message(spec),
            "space.vocab_size: only in a space of architectures, got 50257");
}

TEST(CampaignSpaceTest, FeatureFieldsAreRefusedInAnArchitectureSpace) {
  CampaignSpec spec = Base();
  spec.space.active_params = Axis{.values = {1e8}};
  EXPECT_EQ(Message(spec),
            "space.params: only in a space of law features, got {min: 0, max: "
            "0}");
}

TEST(CampaignSpaceTest, NonFiniteValuesAreRefused) {
  CampaignSpec spec = Base();
  spec.space.tokens.max = std::numeric_limits<double>::infinity();
  EXPECT_EQ(Message(spec), "space.tokens.max: must be >= min (1e9), got inf");
}

}  // namespace
}  // namespace moesweep::campaign
