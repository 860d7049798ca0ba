// LeaseTable: which worker trains which attempt, until when. The one piece of
// scheduling state the report path touches, so it has its own lock and every
// call is short. Internal to coordinator/.

#ifndef MOESWEEP_COORDINATOR_LEASE_TABLE_H_
#define MOESWEEP_COORDINATOR_LEASE_TABLE_H_

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/convert.h"
#include "coordinator/coordinator.h"

namespace moesweep::coordinator {

struct LeaseEntry {
  std::string campaign_id;
  std::string worker_id;
  // trial_id, attempt, ttl_ms, lease_id, and deadline_unix_ms: the deadline
  // as the wall clock read when it was set (what the worker is told).
  v1::Lease lease;
  int64_t deadline_ms = 0;  // on the table's Clock: what expiry goes by
};

// Deadlines run on a steady Clock, so a step of the wall clock neither
// expires a lease nor stretches one. Thread-safe.
class LeaseTable {
 public:
  // `clock` must outlive the table.
  explicit LeaseTable(const Clock* clock) : clock_(clock) {}

  // Grants (or re-grants) the trial's lease to `worker_id` for ttl_ms from
  // now and returns it.
  v1::Lease Grant(const std::string& campaign_id, const std::string& trial_id,
                  int32_t attempt, const std::string& worker_id,
                  int64_t ttl_ms);
  // Extends the lease of (trial, attempt) to ttl_ms from now when `worker_id`
  // holds it; returns its new deadline_unix_ms, or 0 when it holds no such
  // lease. A renewal never shortens a lease.
  int64_t Renew(const std::string& trial_id, int32_t attempt,
                const std::string& worker_id);
  // Renew calls that found the holder's lease, since construction.
  int64_t renewals() const;
  std::optional<LeaseEntry> Get(const std::string& trial_id) const;
  // Forgets the trial's lease (it ended, or was requeued).
  void Release(const std::string& trial_id);
  // Removes and returns every lease whose deadline has come.
  std::vector<LeaseEntry> TakeExpired();
  std::vector<LeaseEntry> HeldBy(const std::string& worker_id) const;
  // The earliest deadline on the clock (ms); INT64 max when there is no lease.
  int64_t NextDeadlineMs() const;
  int64_t size() const;

 private:
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, LeaseEntry> leases_ ABSL_GUARDED_BY(mu_);  // by trial
  int64_t next_lease_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t renewals_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_LEASE_TABLE_H_
