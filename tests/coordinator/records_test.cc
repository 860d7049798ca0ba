// The coordinator's record keys: ids sort by creation, one campaign's trials,
// laws and events are contiguous ranges in order, and values round-trip.

#include "coordinator/records.h"

#include <gtest/gtest.h>

namespace moesweep::coordinator::records {
namespace {

TEST(RecordsTest, IdsSortByCreation) {
  EXPECT_EQ(CampaignId(7), "c000007");
  EXPECT_LT(CampaignId(9), CampaignId(10));
  EXPECT_EQ(TrialId("c000007", 12), "c000007-t000012");
}

TEST(RecordsTest, KeysKeepOneCampaignContiguousAndOrdered) {
  v1::Trial t;
  const Record a = TrialRecord("c000001", 255, t);
  const Record b = TrialRecord("c000001", 256, t);
  EXPECT_LT(a.key, b.key);  // big-endian index: numeric order
  EXPECT_EQ(a.key.rfind(TrialPrefix("c000001"), 0), 0u);
  EXPECT_NE(a.key.rfind(TrialPrefix("c00000"), 0), 0u);
  v1::LawEstimate law;
  law.set_campaign_id("c000001");
  law.set_version(2);
  const Record l2 = LawRecord(law);
  law.set_version(10);
  EXPECT_LT(l2.key, LawRecord(law).key);
  v1::CampaignEvent e;
  e.set_campaign_id("c000001");
  e.set_event_seq(300);
  EXPECT_EQ(EventRecord(e).family, RecordFamily::kEvents);
  EXPECT_EQ(EventRecord(e).key.rfind(EventPrefix("c000001"), 0), 0u);
}

TEST(RecordsTest, ValuesRoundTripAndBadBytesAreDataLoss) {
  v1::Campaign c;
  c.set_campaign_id("c000003");
  c.set_budget_flops(1e20);
  const Record r = CampaignRecord(c);
  StatusOr<v1::Campaign> back = Decode<v1::Campaign>(r.value, "campaign");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->budget_flops(), 1e20);
  EXPECT_EQ(Decode<v1::Campaign>("\xff\xff\xff", "campaign").status().code(),
            StatusCode::kDataLoss);
  const Record q = RequestRecord("req-9", "c000003", "name: x\n");
  StatusOr<RequestEntry> entry = DecodeRequest(q.value);
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->campaign_id, "c000003");
  EXPECT_EQ(entry->spec_yaml, "name: x\n");
  EXPECT_EQ(DecodeRequest("\x02"
                          "abc")
                .status()
                .code(),
            StatusCode::kDataLoss);
}

}  // namespace
}  // namespace moesweep::coordinator::records
