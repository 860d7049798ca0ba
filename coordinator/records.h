// Keys and values of the coordinator's records in the store's campaigns,
// laws and events families (the grammar is at the top of records.cc).
// Values are serialized moesweep.v1 messages. Internal to coordinator/.

#ifndef MOESWEEP_COORDINATOR_RECORDS_H_
#define MOESWEEP_COORDINATOR_RECORDS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "coordinator/store.h"
#include "moesweep/v1/campaign.pb.h"

namespace moesweep::coordinator::records {

// Campaign ids are "c" and six or more digits: they sort by creation.
std::string CampaignId(int64_t number);
// Trial ids are "<campaign id>-t<index, 6 digits>": unique across campaigns.
std::string TrialId(std::string_view campaign_id, int32_t index);

Record CampaignRecord(const moesweep::v1::Campaign& campaign);
inline constexpr std::string_view kCampaignPrefix = "c/";

Record TrialRecord(std::string_view campaign_id, int32_t index,
                   const moesweep::v1::Trial& trial);
std::string TrialPrefix(std::string_view campaign_id);

// A Create's request id, naming the campaign it made and the spec it had.
Record RequestRecord(std::string_view request_id, std::string_view campaign_id,
                     std::string_view spec_yaml);
std::string RequestKey(std::string_view request_id);
struct RequestEntry {
  std::string campaign_id;
  std::string spec_yaml;
};
StatusOr<RequestEntry> DecodeRequest(std::string_view value);

Record LawRecord(const moesweep::v1::LawEstimate& law);
std::string LawPrefix(std::string_view campaign_id);

Record EventRecord(const moesweep::v1::CampaignEvent& event);
std::string EventPrefix(std::string_view campaign_id);

// Parses a record value; DATA_LOSS naming `what` when it does not parse.
template <typename Message>
StatusOr<Message> Decode(std::string_view value, std::string_view what) {
  Message m;
  if (!m.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return DataLossError("store: " + std::string(what) +
                         " record does not parse");
  }
  return m;
}

}  // namespace moesweep::coordinator::records

#endif  // MOESWEEP_COORDINATOR_RECORDS_H_
