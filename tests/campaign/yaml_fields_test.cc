// Path-aware YAML readers (yaml_fields.cc).

#include "campaign/yaml_fields.h"

#include <gtest/gtest.h>

namespace moesweep::campaign {
namespace {

TEST(CampaignYamlFieldsTest, NearestKeySuggestsOnlyPlausibleTypos) {
  EXPECT_EQ(NearestKey("expert", {"experts", "top_k"}), "experts");
  EXPECT_EQ(NearestKey("topk", {"experts", "top_k"}), "top_k");
  EXPECT_EQ(NearestKey("colour", {"experts", "top_k"}), "");
  EXPECT_EQ(NearestKey("mx", {"min", "max"}), "max");
  EXPECT_EQ(NearestKey("xy", {"a", "b"}), "");  // 2 edits of 2 letters
}

TEST(CampaignYamlFieldsTest, IntegersMayBeWrittenAsWholeNumbers) {
  EXPECT_EQ(*ReadInteger(YAML::Load("2e3"), "x"), 2000);
  EXPECT_EQ(*ReadInteger(YAML::Load("-64"), "x"), -64);
  EXPECT_EQ(ReadInteger(YAML::Load("2.5"), "x").status().message(),
            "x: expected an integer, got '2.5'");
  EXPECT_EQ(*ReadUnsigned(YAML::Load("18446744073709551615"), "s"),
            18446744073709551615u);
  EXPECT_EQ(ReadUnsigned(YAML::Load("-1"), "s").status().message(),
            "s: expected an integer >= 0, got '-1'");
}

TEST(CampaignYamlFieldsTest, MissingAndNullAreRequired) {
  const YAML::Node map = YAML::Load("{a: 1, b: ~, c: [1]}");
  StatusOr<MapFields> fields = MapFields::Open(map, "top", {"a", "b", "c"});
  ASSERT_TRUE(fields.ok());
  EXPECT_TRUE(fields->Has("a"));
  EXPECT_FALSE(fields->Has("b"));  // null reads as absent
  EXPECT_EQ(ReadNumber(fields->Get("b"), "top.b").status().message(),
            "top.b: required");
  EXPECT_EQ(ReadNumber(fields->Get("c"), "top.c").status().message(),
            "top.c: expected a number, got a list");
  EXPECT_EQ(fields->keys(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(CampaignYamlFieldsTest, MapsRefuseRepeatedAndUnknownKeys) {
  EXPECT_EQ(
      MapFields::Open(YAML::Load("{a: 1, a: 2}"), "m", {}).status().message(),
      "m.a: given twice");
  EXPECT_EQ(MapFields::Open(YAML::Load("{lr: 1}"), "m", {"lr_rule"})
                .status()
                .message(),
            "m.lr: unknown key");
  EXPECT_EQ(MapFields::Open(YAML::Load("[1]"), "m", {}).status().message(),
            "m: expected a map, got a list");
}

}  // namespace
}  // namespace moesweep::campaign
