// Store: the campaign, law and event records and the batch that creates
// trials with them. Their keys and values are coordinator/records.h's.

#include <rocksdb/write_batch.h>

#include "coordinator/store_format.h"
#include "coordinator/store_impl.h"
#include "coordinator/store_schema.h"

namespace moesweep::coordinator {
namespace {

Family FamilyOf(RecordFamily family) {
  switch (family) {
    case RecordFamily::kCampaigns:
      return kCampaigns;
    case RecordFamily::kLaws:
      return kLaws;
    case RecordFamily::kEvents:
      return kEvents;
  }
  return kCampaigns;
}

}  // namespace

Status Store::Impl::WriteRecords(const std::vector<Record>& records,
                                 const std::vector<std::string>& new_trials) {
  rocksdb::WriteBatch batch;
  for (const Record& r : records) {
    (void)batch.Put(handles_[FamilyOf(r.family)], r.key, r.value);
  }
  absl::MutexLock admin(&admin_mu_);
  {
    absl::MutexLock lock(&mu_);
    MOESWEEP_RETURN_IF_ERROR(CheckHealthy("store: record write refused: "));
    for (const std::string& id : new_trials) {
      MOESWEEP_RETURN_IF_ERROR(format::ValidateTrialId(id));
      if (trials_.contains(id)) {
        return AlreadyExistsError("trial " + id + ": already exists");
      }
    }
  }
  for (const std::string& id : new_trials) {
    (void)batch.Put(handles_[kTrials], id,
                    format::EncodeTrialRecord(format::TrialRecord{1}));
  }
  rocksdb::WriteOptions sync;
  sync.sync = true;
  rocksdb::Status s = db_->Write(sync, &batch);
  if (!s.ok()) {
    return Fail(
        UnavailableError("store: record write failed: " + s.ToString()));
  }
  absl::MutexLock lock(&mu_);
  for (const std::string& id : new_trials) trials_.emplace(id, TrialState{});
  return OkStatus();
}

StatusOr<std::vector<Record>> Store::Impl::ScanRecords(
    RecordFamily family, std::string_view prefix) const {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[FamilyOf(family)]));
  std::vector<Record> out;
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
       it->Valid() &&
       it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()));
       it->Next()) {
    out.push_back(Record{family, it->key().ToString(), it->value().ToString()});
  }
  MOESWEEP_RETURN_IF_ERROR(FromRocksStatus(it->status(), options_.path));
  return out;
}

}  // namespace moesweep::coordinator
