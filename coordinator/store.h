// Store: the coordinator's durable state in an embedded RocksDB.
//
// Reports (Progress, Done, Failed) are appended to a trial's curve by a
// group-commit writer thread: callers hand a report over and return at once
// (STYLE.md H8); the writer drains everything queued into one WriteBatch,
// writes it with the write-ahead log synced, and only then calls each
// report's callback with OK. Report rules follow proto/moesweep/v1/
// worker.proto: seq counts from 1 without gaps within an attempt, a resend is
// acknowledged and not stored twice, and reports of any attempt but the
// trial's current one are refused with ABORTED (fencing).

#ifndef MOESWEEP_COORDINATOR_STORE_H_
#define MOESWEEP_COORDINATOR_STORE_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace moesweep::coordinator {

struct StoreOptions {
  // Folder of the RocksDB database. Required.
  std::string path;
  // Create an empty store when `path` holds none. Default true.
  bool create_if_missing = true;
  // Called by the writer thread after each synced batch of reports with the
  // seconds the write took (for metrics); must not block. Optional.
  std::function<void(double seconds)> on_commit;
  // Most reports written in one synced WriteBatch. Default 4096; raising it
  // lengthens the longest acknowledgement wait behind a big batch.
  int max_batch_reports = 4096;
  // Every file of the store goes through this RocksDB Env. Borrowed: it must
  // outlive the Store. Null: RocksDB's default. Tests pass one that cuts
  // power and fails writes (tests/testing/faulty_file_system.h).
  rocksdb::Env* env = nullptr;
  // Called once, by the thread whose synced write failed, with that error
  // (UNAVAILABLE); the store is broken from then on (Store::health()). Must
  // not block or call into the Store. Optional.
  std::function<void(const Status&)> on_failure;
  // TEST ONLY: false writes reports without syncing the WAL and still
  // acknowledges them, which breaks the durability contract of AppendReport.
  // It exists so the power-cut test can show that it detects the loss.
  // Default true; nothing but that test sets it.
  bool sync_reports = true;

  // INVALID_ARGUMENT naming the bad field.
  Status Validate() const;
};

// One stored report of one attempt.
struct CurvePoint {
  int64_t seq = 0;
  std::string payload;
};

// Counters since Open; copied under the lock (STYLE.md H6).
struct StoreStats {
  int64_t reports_stored = 0;   // written by a synced batch
  int64_t resends_acked = 0;    // acknowledged again, not stored
  int64_t stale_refused = 0;    // refused with ABORTED (fenced attempt)
  int64_t reports_refused = 0;  // every refusal, stale ones included
  int64_t synced_batches = 0;   // synced WriteBatches with >= 1 report
};

// Families of the records the coordinator keeps beside the curves; the key
// grammar is the caller's (coordinator/records.h), the store only orders
// keys bytewise.
enum class RecordFamily { kCampaigns, kLaws, kEvents };

struct Record {
  RecordFamily family = RecordFamily::kCampaigns;
  std::string key;
  std::string value;
};

// Called once per report: OK when it is durable (stored now or earlier), or
// the refusal. Runs on the store's writer thread: it must not block, and
// must not destroy the Store.
using AckCallback = std::function<void(Status)>;

// Thread-safe. A failed synced write breaks the store: the write it was
// part of is refused (nothing is acknowledged that is not durable), and every
// later write is refused with UNAVAILABLE until the store is reopened
// (crash-only: the caller stops and restarts rather than retrying).
class Store {
 public:
  // Opens or creates the store at options.path. Errors:
  //   INVALID_ARGUMENT     options fail Validate();
  //   FAILED_PRECONDITION  no store there and !create_if_missing, the folder
  //                        cannot be read or written, it holds a RocksDB of
  //                        another program, or a store of another schema
  //                        version (the message names both versions); the
  //                        folder is left unchanged;
  //   DATA_LOSS            RocksDB reports corruption, or a record does not
  //                        decode.
  static StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);

  // Waits until every report already handed to AppendReport is written and
  // its callback has run, then closes the database.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Registers a trial with current attempt 1, durably (synced) before
  // returning. INVALID_ARGUMENT for a bad id (empty, over 256 bytes, holds a
  // NUL); ALREADY_EXISTS if known; UNAVAILABLE if the write fails or the
  // store is broken.
  Status CreateTrial(std::string_view trial_id);

  // Fences the trial's current attempt (its lease expired) and returns the new
  // current attempt, durable before returning. Reports of the old attempt
  // handed over before this call are still stored; later ones are refused.
  // NOT_FOUND for an unknown trial; UNAVAILABLE if the write fails or the
  // store is broken.
  StatusOr<int32_t> BumpAttempt(std::string_view trial_id);

  // The trial's current attempt; NOT_FOUND for an unknown trial.
  StatusOr<int32_t> CurrentAttempt(std::string_view trial_id) const;

  // Hands over one report; returns at once, never waiting for a sync. The
  // callback later receives exactly one of:
  //   OK                   the report is durable: stored now with the WAL
  //                        synced, or a resend (seq already taken) of a
  //                        report that is durable; never stored twice;
  //   ABORTED              `attempt` is not the trial's current attempt;
  //                        counted in StoreStats::stale_refused;
  //   INVALID_ARGUMENT     seq < 1, or seq skips ahead (more than one above
  //                        the highest taken for the attempt); a bad trial id;
  //   NOT_FOUND            unknown trial;
  //   UNAVAILABLE          the synced write of this report's batch failed,
  //                        or the store is broken (an earlier write
  //                        failed) and takes no more reports; reopen it.
  // `payload` is copied; its bytes are stored unparsed.
  void AppendReport(std::string_view trial_id, int32_t attempt, int64_t seq,
                    std::string_view payload, AckCallback callback);

  // The durable reports of one attempt with seq > after_seq, by seq, at most
  // `limit` of them. NOT_FOUND for an unknown trial; DATA_LOSS for a record
  // that does not decode.
  StatusOr<std::vector<CurvePoint>> ReadCurve(
      std::string_view trial_id, int32_t attempt, int64_t after_seq = 0,
      size_t limit = std::numeric_limits<size_t>::max()) const;

  // The highest durable seq of an attempt, 0 when none (Welcome's
  // acked_seq). NOT_FOUND for an unknown trial.
  StatusOr<int64_t> DurableSeq(std::string_view trial_id,
                               int32_t attempt) const;

  // Writes `records` and registers `new_trials` (current attempt 1) in one
  // WriteBatch with the WAL synced, all or nothing. INVALID_ARGUMENT for a
  // bad trial id; ALREADY_EXISTS for a known trial; UNAVAILABLE if the write
  // fails or the store is broken.
  Status WriteRecords(const std::vector<Record>& records,
                      const std::vector<std::string>& new_trials = {});

  // Every record of `family` whose key starts with `prefix`, in key order.
  // DATA_LOSS for corruption.
  StatusOr<std::vector<Record>> ScanRecords(RecordFamily family,
                                            std::string_view prefix) const;

  // OK while every synced write has succeeded; after the first failure,
  // UNAVAILABLE with its error, for good (the store is broken).
  Status health() const;

  StoreStats stats() const;

 private:
  class Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_STORE_H_
