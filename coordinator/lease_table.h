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

namespace moesweep::coordinator {

struct LeaseEntry {
  std::string campaign_id;
  std::string worker_id;
  v1::Lease lease;  // trial_id, attempt, deadline_unix_ms, ttl_ms, lease_id
};

// Thread-safe.
class LeaseTable {
 public:
  // Grants (or re-grants) the trial's lease to `worker_id` until
  // now + ttl_ms and returns it.
  v1::Lease Grant(const std::string& campaign_id, const std::string& trial_id,
                  int32_t attempt, const std::string& worker_id, int64_t ttl_ms,
                  int64_t now_unix_ms);
  // Extends the lease of (trial, attempt) when `worker_id` holds it; returns
  // the new deadline, or 0 when it holds no such lease.
  int64_t Renew(const std::string& trial_id, int32_t attempt,
                const std::string& worker_id, int64_t now_unix_ms);
  std::optional<LeaseEntry> Get(const std::string& trial_id) const;
  // Forgets the trial's lease (it ended, or was requeued).
  void Release(const std::string& trial_id);
  // Removes and returns every lease whose deadline has passed.
  std::vector<LeaseEntry> TakeExpired(int64_t now_unix_ms);
  std::vector<LeaseEntry> HeldBy(const std::string& worker_id) const;
  // The earliest deadline; INT64 max when there is no lease.
  int64_t NextDeadline() const;
  int64_t size() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, LeaseEntry> leases_ ABSL_GUARDED_BY(mu_);  // by trial
  int64_t next_lease_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_LEASE_TABLE_H_
