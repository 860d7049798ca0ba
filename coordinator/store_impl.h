// Store::Impl, shared by store.cc (open, trials, group commit) and
// store_records.cc (campaign, law and event records). Internal to
// coordinator/.

#ifndef MOESWEEP_COORDINATOR_STORE_IMPL_H_
#define MOESWEEP_COORDINATOR_STORE_IMPL_H_

#include <rocksdb/db.h>

#include <deque>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/store.h"

namespace moesweep::coordinator {

// Lets the trial map be searched by string_view without a copy.
struct TrialIdHash {
  using is_transparent = void;
  size_t operator()(std::string_view id) const {
    return std::hash<std::string_view>()(id);
  }
};

class Store::Impl {
 public:
  explicit Impl(StoreOptions options) : options_(std::move(options)) {}
  ~Impl();

  Status Open();
  Status CreateTrial(std::string_view trial_id);
  StatusOr<int32_t> BumpAttempt(std::string_view trial_id);
  StatusOr<int32_t> CurrentAttempt(std::string_view trial_id) const;
  void AppendReport(std::string_view trial_id, int32_t attempt, int64_t seq,
                    std::string_view payload, AckCallback callback);
  StatusOr<std::vector<CurvePoint>> ReadCurve(std::string_view trial_id,
                                              int32_t attempt,
                                              int64_t after_seq,
                                              size_t limit) const;
  StatusOr<int64_t> DurableSeq(std::string_view trial_id,
                               int32_t attempt) const;
  Status WriteRecords(const std::vector<Record>& records,
                      const std::vector<std::string>& new_trials);
  StatusOr<std::vector<Record>> ScanRecords(RecordFamily family,
                                            std::string_view prefix) const;
  StoreStats stats() const {
    absl::MutexLock lock(&mu_);
    return stats_;
  }
  Status health() const {
    absl::MutexLock lock(&mu_);
    return write_error_;
  }

 private:
  struct TrialState {
    int32_t attempt = 1;
    int64_t taken_seq = 0;
    int64_t durable_seq = 0;
  };
  using TrialMap =
      std::unordered_map<std::string, TrialState, TrialIdHash, std::equal_to<>>;
  // One report handed over. `key` empty: nothing to write (a refusal in
  // `status`, or a resend acknowledged with the batch).
  struct Pending {
    std::string trial_id;
    int32_t attempt = 0;
    int64_t seq = 0;
    std::string key;
    std::string value;
    Status status;
    AckCallback callback;
  };

  Status LoadTrials();
  StatusOr<int64_t> LastSeqOnDisk(std::string_view trial_id,
                                  int32_t attempt) const;
  Status PutTrialRecord(std::string_view trial_id, int32_t attempt);
  // UNAVAILABLE naming the first failed write once the store is broken.
  Status CheckHealthy(std::string_view what) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Breaks the store with `error` (the first one wins) and calls
  // options_.on_failure once. Returns `error`.
  Status Fail(Status error) ABSL_LOCKS_EXCLUDED(mu_);
  void Enqueue(Pending pending) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriterLoop();
  void CommitBatch(std::vector<Pending>& batch);

  // Constant after Open.
  const StoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::thread writer_;

  // Serializes trial-record writes (CreateTrial, BumpAttempt), so mu_ is
  // never held across a sync.
  absl::Mutex admin_mu_;

  // State below is protected by mu_.
  mutable absl::Mutex mu_;
  absl::CondVar work_;
  TrialMap trials_ ABSL_GUARDED_BY(mu_);
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The first failed synced write; OK while none has failed.
  Status write_error_ ABSL_GUARDED_BY(mu_);
  StoreStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_STORE_IMPL_H_
