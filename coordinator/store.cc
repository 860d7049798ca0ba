// Store: open, the trial cache, and the group-commit writer. The schema
// check is in store_schema.cc. The key layout is in store_format.cc.
//
// Invariants, under mu_: for every trial, durable_seq <= taken_seq;
// taken_seq is the highest seq of the current attempt that is durable or
// queued; reports are written in queue order, so a resend queued after the
// original is acknowledged no earlier than it.

#include "coordinator/store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/store_format.h"
#include "coordinator/store_impl.h"
#include "coordinator/store_schema.h"

namespace moesweep::coordinator {
namespace fmt = format;

Status StoreOptions::Validate() const {
  if (path.empty()) return InvalidArgumentError("path: empty");
  if (max_batch_reports < 1) {
    return InvalidArgumentError("max_batch_reports: must be >= 1, got " +
                                std::to_string(max_batch_reports));
  }
  return OkStatus();
}

Store::Impl::~Impl() {
  if (writer_.joinable()) {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      work_.Signal();
    }
    writer_.join();
  }
  if (db_ != nullptr) {
    for (rocksdb::ColumnFamilyHandle* h : handles_) {
      (void)db_->DestroyColumnFamilyHandle(h);
    }
    (void)db_->Close();
  }
}

Status Store::Impl::Open() {
  const std::string& path = options_.path;
  std::error_code ec;
  bool exists =
      std::filesystem::exists(std::filesystem::path(path) / "CURRENT", ec);
  bool write_version = !exists;
  if (exists) {
    MOESWEEP_ASSIGN_OR_RETURN(SchemaState state,
                              CheckStoreSchema(path, options_.env));
    write_version = state == SchemaState::kUnversionedEmpty;
  } else if (!options_.create_if_missing) {
    return FailedPreconditionError("store at " + path +
                                   ": no store there (create_if_missing is "
                                   "false)");
  }
  rocksdb::DBOptions db_options;
  if (options_.env != nullptr) db_options.env = options_.env;
  db_options.create_if_missing = !exists;
  db_options.create_missing_column_families = !exists;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(
      db_options, path, ColumnFamilyDescriptors(), &handles_, &raw);
  MOESWEEP_RETURN_IF_ERROR(FromRocksStatus(s, path));
  db_.reset(raw);
  if (write_version) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    s = db_->Put(sync, handles_[kMeta], std::string(fmt::kSchemaVersionKey),
                 fmt::EncodeSchemaVersion(fmt::kSchemaVersion));
    MOESWEEP_RETURN_IF_ERROR(FromRocksStatus(s, path));
  }
  MOESWEEP_RETURN_IF_ERROR(LoadTrials());
  writer_ = std::thread([this] { WriterLoop(); });
  return OkStatus();
}

Status Store::Impl::LoadTrials() {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[kTrials]));
  TrialMap loaded;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string id = it->key().ToString();
    StatusOr<fmt::TrialRecord> record =
        fmt::DecodeTrialRecord(it->value().ToStringView());
    if (!record.ok()) return record.status();
    TrialState state;
    state.attempt = record->current_attempt;
    MOESWEEP_ASSIGN_OR_RETURN(state.taken_seq,
                              LastSeqOnDisk(id, state.attempt));
    state.durable_seq = state.taken_seq;
    loaded.emplace(std::move(id), state);
  }
  MOESWEEP_RETURN_IF_ERROR(FromRocksStatus(it->status(), options_.path));
  absl::MutexLock lock(&mu_);
  trials_ = std::move(loaded);
  return OkStatus();
}

StatusOr<int64_t> Store::Impl::LastSeqOnDisk(std::string_view trial_id,
                                             int32_t attempt) const {
  std::string prefix = fmt::CurvePrefix(trial_id, attempt);
  std::string last = prefix + std::string(8, '\xff');
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[kCurves]));
  it->SeekForPrev(last);
  MOESWEEP_RETURN_IF_ERROR(FromRocksStatus(it->status(), options_.path));
  if (!it->Valid() || !it->key().starts_with(prefix)) return int64_t{0};
  MOESWEEP_ASSIGN_OR_RETURN(fmt::CurveKeyParts parts,
                            fmt::DecodeCurveKey(it->key().ToStringView()));
  return parts.seq;
}

Status Store::Impl::CheckHealthy(std::string_view what) const {
  if (write_error_.ok()) return OkStatus();
  return UnavailableError(std::string(what) + "store failed a write: " +
                          std::string(write_error_.message()));
}

Status Store::Impl::Fail(Status error) {
  bool first = false;
  {
    absl::MutexLock lock(&mu_);
    if (write_error_.ok()) {
      write_error_ = error;
      first = true;
    }
  }
  if (first && options_.on_failure) options_.on_failure(error);
  return error;
}

Status Store::Impl::PutTrialRecord(std::string_view trial_id, int32_t attempt) {
  {
    absl::MutexLock lock(&mu_);
    MOESWEEP_RETURN_IF_ERROR(CheckHealthy("store: trial write refused: "));
  }
  rocksdb::WriteOptions sync;
  sync.sync = true;
  rocksdb::Status s =
      db_->Put(sync, handles_[kTrials], std::string(trial_id),
               fmt::EncodeTrialRecord(fmt::TrialRecord{attempt}));
  if (!s.ok()) {
    return Fail(UnavailableError("store: trial write failed: " + s.ToString()));
  }
  return OkStatus();
}

Status Store::Impl::CreateTrial(std::string_view trial_id) {
  MOESWEEP_RETURN_IF_ERROR(fmt::ValidateTrialId(trial_id));
  absl::MutexLock admin(&admin_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (trials_.contains(trial_id)) {
      return AlreadyExistsError("trial " + std::string(trial_id) +
                                ": already exists");
    }
  }
  MOESWEEP_RETURN_IF_ERROR(PutTrialRecord(trial_id, 1));
  absl::MutexLock lock(&mu_);
  trials_.emplace(std::string(trial_id), TrialState{});
  return OkStatus();
}

StatusOr<int32_t> Store::Impl::BumpAttempt(std::string_view trial_id) {
  absl::MutexLock admin(&admin_mu_);
  int32_t next = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = trials_.find(trial_id);
    if (it == trials_.end()) {
      return NotFoundError("trial " + std::string(trial_id) + ": unknown");
    }
    next = it->second.attempt + 1;
  }
  MOESWEEP_RETURN_IF_ERROR(PutTrialRecord(trial_id, next));
  absl::MutexLock lock(&mu_);
  trials_.find(trial_id)->second = TrialState{next, 0, 0};
  return next;
}

StatusOr<int32_t> Store::Impl::CurrentAttempt(std::string_view trial_id) const {
  absl::MutexLock lock(&mu_);
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) {
    return NotFoundError("trial " + std::string(trial_id) + ": unknown");
  }
  return it->second.attempt;
}

void Store::Impl::Enqueue(Pending pending) {
  queue_.push_back(std::move(pending));
  work_.Signal();
}

void Store::Impl::AppendReport(std::string_view trial_id, int32_t attempt,
                               int64_t seq, std::string_view payload,
                               AckCallback callback) {
  Pending p;
  p.trial_id = std::string(trial_id);
  p.attempt = attempt;
  p.seq = seq;
  p.callback = std::move(callback);
  std::string where = "report (" + p.trial_id + ", attempt " +
                      std::to_string(attempt) + ", seq " + std::to_string(seq) +
                      "): ";
  Status id_ok = fmt::ValidateTrialId(trial_id);
  absl::MutexLock lock(&mu_);
  auto it = trials_.find(trial_id);
  if (Status healthy = CheckHealthy(where); !healthy.ok()) {
    p.status = std::move(healthy);
  } else if (!id_ok.ok()) {
    p.status = InvalidArgumentError(where + std::string(id_ok.message()));
  } else if (seq < 1) {
    p.status = InvalidArgumentError(where + "seq must be >= 1");
  } else if (it == trials_.end()) {
    p.status = NotFoundError(where + "unknown trial");
  } else if (attempt != it->second.attempt) {
    p.status = AbortedError(where + "fenced; current attempt is " +
                            std::to_string(it->second.attempt));
    ++stats_.stale_refused;
  } else if (seq > it->second.taken_seq + 1) {
    p.status = InvalidArgumentError(where + "skips ahead; next seq is " +
                                    std::to_string(it->second.taken_seq + 1));
  } else if (seq <= it->second.taken_seq) {
    ++stats_.resends_acked;  // acknowledged with the batch it joins
  } else {
    it->second.taken_seq = seq;
    p.key = fmt::CurveKey(trial_id, attempt, seq);
    p.value = fmt::EncodeCurveValue(payload);
  }
  if (!p.status.ok()) ++stats_.reports_refused;
  Enqueue(std::move(p));
}

void Store::Impl::WriterLoop() {
  std::vector<Pending> batch;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) work_.Wait(&mu_);
      if (queue_.empty()) return;  // stopping, and everything is drained
      size_t n = std::min(queue_.size(),
                          static_cast<size_t>(options_.max_batch_reports));
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + n));
      queue_.erase(queue_.begin(), queue_.begin() + n);
    }
    CommitBatch(batch);
    for (Pending& p : batch) p.callback(std::move(p.status));
    batch.clear();
  }
}

void Store::Impl::CommitBatch(std::vector<Pending>& batch) {
  rocksdb::WriteBatch write;
  int64_t writes = 0;
  for (const Pending& p : batch) {
    if (p.key.empty()) continue;
    (void)write.Put(handles_[kCurves], p.key, p.value);
    ++writes;
  }
  Status failed;
  {
    absl::MutexLock lock(&mu_);
    failed = write_error_;
  }
  if (failed.ok() && writes > 0) {
    rocksdb::WriteOptions sync;
    sync.sync = options_.sync_reports;
    const auto start = std::chrono::steady_clock::now();
    rocksdb::Status s = db_->Write(sync, &write);
    if (!s.ok()) {
      failed = Fail(UnavailableError("store: synced write of reports failed: " +
                                     s.ToString()));
    }
    if (options_.on_commit) {
      options_.on_commit(std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - start)
                             .count());
    }
  }
  absl::MutexLock lock(&mu_);
  if (!failed.ok()) {
    for (Pending& p : batch) {
      if (p.status.ok()) p.status = failed;
    }
    return;
  }
  if (writes > 0) ++stats_.synced_batches;
  stats_.reports_stored += writes;
  for (const Pending& p : batch) {
    if (p.key.empty()) continue;
    auto it = trials_.find(p.trial_id);
    if (it != trials_.end() && it->second.attempt == p.attempt) {
      it->second.durable_seq = std::max(it->second.durable_seq, p.seq);
    }
  }
}

StatusOr<std::vector<CurvePoint>> Store::Impl::ReadCurve(
    std::string_view trial_id, int32_t attempt, int64_t after_seq,
    size_t limit) const {
  MOESWEEP_RETURN_IF_ERROR(CurrentAttempt(trial_id).status());
  std::string prefix = fmt::CurvePrefix(trial_id, attempt);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[kCurves]));
  std::vector<CurvePoint> points;
  if (after_seq == std::numeric_limits<int64_t>::max()) return points;
  const int64_t first = after_seq < 0 ? 0 : after_seq + 1;
  for (it->Seek(fmt::CurveKey(trial_id, attempt, first));
       it->Valid() && it->key().starts_with(prefix) && points.size() < limit;
       it->Next()) {
    MOESWEEP_ASSIGN_OR_RETURN(fmt::CurveKeyParts parts,
                              fmt::DecodeCurveKey(it->key().ToStringView()));
    MOESWEEP_ASSIGN_OR_RETURN(
        std::string_view payload,
        fmt::DecodeCurveValue(it->value().ToStringView()));
    points.push_back(CurvePoint{parts.seq, std::string(payload)});
  }
  MOESWEEP_RETURN_IF_ERROR(FromRocksStatus(it->status(), options_.path));
  return points;
}

StatusOr<int64_t> Store::Impl::DurableSeq(std::string_view trial_id,
                                          int32_t attempt) const {
  {
    absl::MutexLock lock(&mu_);
    auto it = trials_.find(trial_id);
    if (it == trials_.end()) {
      return NotFoundError("trial " + std::string(trial_id) + ": unknown");
    }
    if (it->second.attempt == attempt) return it->second.durable_seq;
  }
  return LastSeqOnDisk(trial_id, attempt);
}

StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  MOESWEEP_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>(options);
  MOESWEEP_RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Status Store::CreateTrial(std::string_view trial_id) {
  return impl_->CreateTrial(trial_id);
}
StatusOr<int32_t> Store::BumpAttempt(std::string_view trial_id) {
  return impl_->BumpAttempt(trial_id);
}
StatusOr<int32_t> Store::CurrentAttempt(std::string_view trial_id) const {
  return impl_->CurrentAttempt(trial_id);
}
void Store::AppendReport(std::string_view trial_id, int32_t attempt,
                         int64_t seq, std::string_view payload,
                         AckCallback callback) {
  impl_->AppendReport(trial_id, attempt, seq, payload, std::move(callback));
}
StatusOr<std::vector<CurvePoint>> Store::ReadCurve(std::string_view trial_id,
                                                   int32_t attempt,
                                                   int64_t after_seq,
                                                   size_t limit) const {
  return impl_->ReadCurve(trial_id, attempt, after_seq, limit);
}
StatusOr<int64_t> Store::DurableSeq(std::string_view trial_id,
                                    int32_t attempt) const {
  return impl_->DurableSeq(trial_id, attempt);
}
Status Store::WriteRecords(const std::vector<Record>& records,
                           const std::vector<std::string>& new_trials) {
  return impl_->WriteRecords(records, new_trials);
}
StatusOr<std::vector<Record>> Store::ScanRecords(
    RecordFamily family, std::string_view prefix) const {
  return impl_->ScanRecords(family, prefix);
}
Status Store::health() const { return impl_->health(); }
StoreStats Store::stats() const { return impl_->stats(); }

}  // namespace moesweep::coordinator
