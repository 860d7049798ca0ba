#include "coordinator/store_format.h"

#include <gtest/gtest.h>

#include <string>

namespace moesweep::coordinator::format {
namespace {

TEST(StoreFormatTest, CurveKeysSortByTrialAttemptSeq) {
  EXPECT_LT(CurveKey("t", 1, 2), CurveKey("t", 1, 10));
  EXPECT_LT(CurveKey("t", 1, 255), CurveKey("t", 1, 256));
  EXPECT_LT(CurveKey("t", 1, 1 << 20), CurveKey("t", 2, 1));
  // "t" with any attempt sorts before "t0": the NUL separator.
  EXPECT_LT(CurveKey("t", 1000, 1000), CurveKey("t0", 1, 1));
}

TEST(StoreFormatTest, CurveKeyRoundTrips) {
  StatusOr<CurveKeyParts> parts =
      DecodeCurveKey(CurveKey("trial-7", 3, 123456789012));
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  EXPECT_EQ(parts->trial_id, "trial-7");
  EXPECT_EQ(parts->attempt, 3);
  EXPECT_EQ(parts->seq, 123456789012);
  EXPECT_EQ(CurveKey("a", 1, 1).substr(0, CurvePrefix("a", 1).size()),
            CurvePrefix("a", 1));
}

TEST(StoreFormatTest, BadRecordsAreDataLoss) {
  EXPECT_EQ(DecodeCurveKey("no-separator").status().code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(DecodeCurveKey(CurveKey("t", 1, 1) + "x").status().code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(DecodeTrialRecord("\x01\x00").status().code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(
      DecodeTrialRecord(std::string("\x02\x00\x00\x00\x01", 5)).status().code(),
      StatusCode::kDataLoss);
  EXPECT_EQ(DecodeCurveValue("").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(DecodeCurveValue("\x07payload").status().code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(DecodeSchemaVersion("abc").status().code(), StatusCode::kDataLoss);
}

TEST(StoreFormatTest, RecordsRoundTrip) {
  StatusOr<TrialRecord> record = DecodeTrialRecord(EncodeTrialRecord({70000}));
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->current_attempt, 70000);
  // The payload is a view into the encoded value, which must outlive it.
  const std::string curve_value = EncodeCurveValue(std::string("a\0b", 3));
  StatusOr<std::string_view> payload = DecodeCurveValue(curve_value);
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(*payload, std::string_view("a\0b", 3));
  StatusOr<uint32_t> version = DecodeSchemaVersion(EncodeSchemaVersion(1));
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, 1u);
}

TEST(StoreFormatTest, TrialIdRules) {
  EXPECT_TRUE(ValidateTrialId("c1/t42").ok());
  EXPECT_EQ(ValidateTrialId("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTrialId(std::string(257, 'x')).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTrialId(std::string("a\0b", 3)).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::coordinator::format
