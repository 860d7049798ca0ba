// LeaseTable: grants, renewals and expiry of attempt leases.

#include "coordinator/lease_table.h"

namespace moesweep::coordinator {

v1::Lease LeaseTable::Grant(const std::string& campaign_id,
                            const std::string& trial_id, int32_t attempt,
                            const std::string& worker_id, int64_t ttl_ms) {
  const int64_t now_ms = clock_->NowMs();
  const int64_t now_unix_ms = NowUnixMs();
  absl::MutexLock lock(&mu_);
  LeaseEntry& e = leases_[trial_id];
  e.campaign_id = campaign_id;
  e.worker_id = worker_id;
  e.lease.set_lease_id(trial_id + "/" + std::to_string(attempt) + "/" +
                       std::to_string(next_lease_++));
  e.lease.set_trial_id(trial_id);
  e.lease.set_attempt(attempt);
  e.lease.set_ttl_ms(ttl_ms);
  e.lease.set_deadline_unix_ms(now_unix_ms + ttl_ms);
  e.deadline_ms = now_ms + ttl_ms;
  return e.lease;
}

int64_t LeaseTable::Renew(const std::string& trial_id, int32_t attempt,
                          const std::string& worker_id) {
  const int64_t now_ms = clock_->NowMs();
  const int64_t now_unix_ms = NowUnixMs();
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(trial_id);
  if (it == leases_.end() || it->second.lease.attempt() != attempt ||
      it->second.worker_id != worker_id) {
    return 0;
  }
  LeaseEntry& e = it->second;
  ++renewals_;
  const int64_t deadline_ms = now_ms + e.lease.ttl_ms();
  if (deadline_ms > e.deadline_ms) {
    e.deadline_ms = deadline_ms;
    e.lease.set_deadline_unix_ms(now_unix_ms + e.lease.ttl_ms());
  }
  return e.lease.deadline_unix_ms();
}

int64_t LeaseTable::renewals() const {
  absl::MutexLock lock(&mu_);
  return renewals_;
}

std::optional<LeaseEntry> LeaseTable::Get(const std::string& trial_id) const {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(trial_id);
  if (it == leases_.end()) return std::nullopt;
  return it->second;
}

void LeaseTable::Release(const std::string& trial_id) {
  absl::MutexLock lock(&mu_);
  leases_.erase(trial_id);
}

std::vector<LeaseEntry> LeaseTable::TakeExpired() {
  const int64_t now_ms = clock_->NowMs();
  absl::MutexLock lock(&mu_);
  std::vector<LeaseEntry> out;
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (it->second.deadline_ms <= now_ms) {
      out.push_back(std::move(it->second));
      it = leases_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<LeaseEntry> LeaseTable::HeldBy(const std::string& worker_id) const {
  absl::MutexLock lock(&mu_);
  std::vector<LeaseEntry> out;
  for (const auto& [id, e] : leases_) {
    if (e.worker_id == worker_id) out.push_back(e);
  }
  return out;
}

int64_t LeaseTable::NextDeadlineMs() const {
  absl::MutexLock lock(&mu_);
  int64_t next = std::numeric_limits<int64_t>::max();
  for (const auto& [id, e] : leases_) {
    next = std::min(next, e.deadline_ms);
  }
  return next;
}

int64_t LeaseTable::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(leases_.size());
}

}  // namespace moesweep::coordinator
