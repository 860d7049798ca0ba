// The coordinator's records, schema version 1 (store_format.h's version).
//
//   family     key                                  value
//   campaigns  "c/" campaign_id                     moesweep.v1.Campaign
//   campaigns  "t/" campaign_id "/" be32 index      moesweep.v1.Trial
//   campaigns  "r/" request_id                      u8 1 | be32 n | campaign_id
//                                                   | spec_yaml (n bytes id)
//   laws       campaign_id "/" be64 version         moesweep.v1.LawEstimate
//   events     campaign_id "/" be64 event_seq       moesweep.v1.CampaignEvent
//
// Campaign ids hold no '/', so one campaign's trials, laws and events are each
// one contiguous range, in index, version and event order. A trial record is
// rewritten when the trial is assigned or ends; its attempt counter and curve
// are the store's own (store_format.cc), and the curve is the truth for how an
// attempt ended: a stored Done or Failed report.

#include "coordinator/records.h"

#include <cstdio>

namespace moesweep::coordinator::records {
namespace {

void PutBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

constexpr char kRequestRecordVersion = 1;

}  // namespace

std::string CampaignId(int64_t number) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "c%06lld", static_cast<long long>(number));
  return buf;
}

std::string TrialId(std::string_view campaign_id, int32_t index) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "-t%06d", index);
  return std::string(campaign_id) + buf;
}

Record CampaignRecord(const moesweep::v1::Campaign& campaign) {
  return Record{RecordFamily::kCampaigns,
                std::string(kCampaignPrefix) + campaign.campaign_id(),
                campaign.SerializeAsString()};
}

std::string TrialPrefix(std::string_view campaign_id) {
  return "t/" + std::string(campaign_id) + "/";
}

Record TrialRecord(std::string_view campaign_id, int32_t index,
                   const moesweep::v1::Trial& trial) {
  std::string key = TrialPrefix(campaign_id);
  PutBigEndian(key, static_cast<uint32_t>(index), 4);
  return Record{RecordFamily::kCampaigns, std::move(key),
                trial.SerializeAsString()};
}

std::string RequestKey(std::string_view request_id) {
  return "r/" + std::string(request_id);
}

Record RequestRecord(std::string_view request_id, std::string_view campaign_id,
                     std::string_view spec_yaml) {
  std::string value(1, kRequestRecordVersion);
  PutBigEndian(value, campaign_id.size(), 4);
  value.append(campaign_id);
  value.append(spec_yaml);
  return Record{RecordFamily::kCampaigns, RequestKey(request_id),
                std::move(value)};
}

StatusOr<RequestEntry> DecodeRequest(std::string_view value) {
  if (value.size() < 5 || value[0] != kRequestRecordVersion) {
    return DataLossError("store: request record of another version");
  }
  uint64_t n = 0;
  for (int i = 1; i <= 4; ++i)
    n = (n << 8) | static_cast<unsigned char>(value[i]);
  if (value.size() < 5 + n) return DataLossError("store: short request record");
  return RequestEntry{std::string(value.substr(5, n)),
                      std::string(value.substr(5 + n))};
}

std::string LawPrefix(std::string_view campaign_id) {
  return std::string(campaign_id) + "/";
}

Record LawRecord(const moesweep::v1::LawEstimate& law) {
  std::string key = LawPrefix(law.campaign_id());
  PutBigEndian(key, static_cast<uint64_t>(law.version()), 8);
  return Record{RecordFamily::kLaws, std::move(key), law.SerializeAsString()};
}

std::string EventPrefix(std::string_view campaign_id) {
  return std::string(campaign_id) + "/";
}

Record EventRecord(const moesweep::v1::CampaignEvent& event) {
  std::string key = EventPrefix(event.campaign_id());
  PutBigEndian(key, static_cast<uint64_t>(event.event_seq()), 8);
  return Record{RecordFamily::kEvents, std::move(key),
                event.SerializeAsString()};
}

}  // namespace moesweep::coordinator::records
