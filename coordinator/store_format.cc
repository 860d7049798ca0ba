// The coordinator store's RocksDB layout, schema version 1.
//
// Integers are unsigned big-endian (beN = N bits) so that byte order is
// numeric order; attempt and seq are >= 1, so their two's complement bits
// sort the same. A trial id is 1..256 bytes with no NUL.
//
// clang-format off
//   family     key                                        value
//   meta       "schema_version"                           be32 version
//   trials     trial_id                                   u8 1 | be32 current_attempt
//   curves     trial_id | 0x00 | be32 attempt | be64 seq  u8 1 | payload
//   campaigns, laws, events: the coordinator's records (records.cc)
// clang-format on
//
// The leading u8 of each record is the record version: never reuse a value.
// The NUL after the trial id makes one trial's keys a contiguous range that
// no other trial's keys fall into (ids hold no NUL), and the fixed-width
// big-endian attempt and seq make the next report of an attempt the last key
// of its range, so appending a curve point is one Put with no read.
// A payload is the serialized report (Progress, Done or Failed) as the
// caller hands it over; the store does not parse it.

#include "coordinator/store_format.h"

#include <string>

namespace moesweep::coordinator::format {
namespace {

constexpr size_t kMaxTrialIdBytes = 256;
constexpr char kTrialRecordVersion = 1;
constexpr char kCurveRecordVersion = 1;

void PutBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

uint64_t GetBigEndian(std::string_view in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  }
  return v;
}

}  // namespace

Status ValidateTrialId(std::string_view trial_id) {
  if (trial_id.empty()) return InvalidArgumentError("trial_id: empty");
  if (trial_id.size() > kMaxTrialIdBytes) {
    return InvalidArgumentError("trial_id: longer than 256 bytes");
  }
  if (trial_id.find('\0') != std::string_view::npos) {
    return InvalidArgumentError("trial_id: holds a NUL byte");
  }
  return OkStatus();
}

std::string EncodeSchemaVersion(uint32_t version) {
  std::string out;
  PutBigEndian(out, version, 4);
  return out;
}

StatusOr<uint32_t> DecodeSchemaVersion(std::string_view value) {
  if (value.size() != 4) {
    return DataLossError("meta/schema_version: expected 4 bytes, got " +
                         std::to_string(value.size()));
  }
  return static_cast<uint32_t>(GetBigEndian(value, 4));
}

std::string EncodeTrialRecord(const TrialRecord& record) {
  std::string out(1, kTrialRecordVersion);
  PutBigEndian(out, static_cast<uint32_t>(record.current_attempt), 4);
  return out;
}

StatusOr<TrialRecord> DecodeTrialRecord(std::string_view value) {
  if (value.size() != 5 || value[0] != kTrialRecordVersion) {
    return DataLossError("trials: bad trial record (" +
                         std::to_string(value.size()) + " bytes)");
  }
  TrialRecord record;
  record.current_attempt =
      static_cast<int32_t>(GetBigEndian(value.substr(1), 4));
  return record;
}

std::string CurvePrefix(std::string_view trial_id, int32_t attempt) {
  std::string out(trial_id);
  out.push_back('\0');
  PutBigEndian(out, static_cast<uint32_t>(attempt), 4);
  return out;
}

std::string CurveKey(std::string_view trial_id, int32_t attempt, int64_t seq) {
  std::string out = CurvePrefix(trial_id, attempt);
  PutBigEndian(out, static_cast<uint64_t>(seq), 8);
  return out;
}

StatusOr<CurveKeyParts> DecodeCurveKey(std::string_view key) {
  size_t nul = key.find('\0');
  if (nul == std::string_view::npos || nul == 0 || key.size() != nul + 13) {
    return DataLossError("curves: bad key (" + std::to_string(key.size()) +
                         " bytes)");
  }
  CurveKeyParts parts;
  parts.trial_id = std::string(key.substr(0, nul));
  parts.attempt = static_cast<int32_t>(GetBigEndian(key.substr(nul + 1), 4));
  parts.seq = static_cast<int64_t>(GetBigEndian(key.substr(nul + 5), 8));
  return parts;
}

std::string EncodeCurveValue(std::string_view payload) {
  std::string out(1, kCurveRecordVersion);
  out.append(payload);
  return out;
}

StatusOr<std::string_view> DecodeCurveValue(std::string_view value) {
  if (value.empty() || value[0] != kCurveRecordVersion) {
    return DataLossError("curves: bad record version");
  }
  return value.substr(1);
}

}  // namespace moesweep::coordinator::format
