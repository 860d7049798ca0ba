// The coordinator store's on-disk format: column family names, keys and
// value encodings. The grammar and its version are at the top of
// store_format.cc (STYLE.md H15). Internal to coordinator/ and its tests.

#ifndef MOESWEEP_COORDINATOR_STORE_FORMAT_H_
#define MOESWEEP_COORDINATOR_STORE_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace moesweep::coordinator::format {

// The schema this build reads and writes. Raise it with any change to the
// grammar in store_format.cc; a store of another version is refused.
inline constexpr uint32_t kSchemaVersion = 1;

// Column families. Never rename: the names are stored in the MANIFEST.
inline constexpr std::string_view kMetaFamily = "meta";
inline constexpr std::string_view kCampaignsFamily = "campaigns";
inline constexpr std::string_view kTrialsFamily = "trials";
inline constexpr std::string_view kCurvesFamily = "curves";
inline constexpr std::string_view kLawsFamily = "laws";
inline constexpr std::string_view kEventsFamily = "events";

// Key in `meta` whose value is EncodeSchemaVersion(kSchemaVersion).
inline constexpr std::string_view kSchemaVersionKey = "schema_version";

// INVALID_ARGUMENT when `trial_id` is empty, longer than 256 bytes, or holds
// a NUL byte (the curve key's separator).
Status ValidateTrialId(std::string_view trial_id);

std::string EncodeSchemaVersion(uint32_t version);
// DATA_LOSS when `value` is not 4 bytes.
StatusOr<uint32_t> DecodeSchemaVersion(std::string_view value);

// A trial record: the value in `trials` under the trial id.
struct TrialRecord {
  int32_t current_attempt = 1;
};
std::string EncodeTrialRecord(const TrialRecord& record);
// DATA_LOSS for a value of another length or record version.
StatusOr<TrialRecord> DecodeTrialRecord(std::string_view value);

// Curve keys sort by trial, then attempt, then seq, so a curve is one
// contiguous range and an append goes to its end.
std::string CurveKey(std::string_view trial_id, int32_t attempt, int64_t seq);
// The common prefix of every curve key of one attempt.
std::string CurvePrefix(std::string_view trial_id, int32_t attempt);
struct CurveKeyParts {
  std::string trial_id;
  int32_t attempt = 0;
  int64_t seq = 0;
};
// DATA_LOSS for a key that does not follow the grammar.
StatusOr<CurveKeyParts> DecodeCurveKey(std::string_view key);

std::string EncodeCurveValue(std::string_view payload);
// The payload; DATA_LOSS for an empty value or another record version.
StatusOr<std::string_view> DecodeCurveValue(std::string_view value);

}  // namespace moesweep::coordinator::format

#endif  // MOESWEEP_COORDINATOR_STORE_FORMAT_H_
