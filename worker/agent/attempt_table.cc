// AttemptTable: seq numbering, cumulative acks and resumption of held leases.

#include "worker/agent/attempt_table.h"

#include <algorithm>

namespace moesweep::worker::agent {

AttemptKey KeyOfReport(const v1::WorkerMessage& m) {
  switch (m.kind_case()) {
    case v1::WorkerMessage::kProgress:
      return {m.progress().trial_id(), m.progress().attempt()};
    case v1::WorkerMessage::kDone:
      return {m.done().trial_id(), m.done().attempt()};
    case v1::WorkerMessage::kFailed:
      return {m.failed().trial_id(), m.failed().attempt()};
    default:
      return {"", 0};
  }
}

int64_t SeqOfReport(const v1::WorkerMessage& m) {
  switch (m.kind_case()) {
    case v1::WorkerMessage::kProgress:
      return m.progress().seq();
    case v1::WorkerMessage::kDone:
      return m.done().seq();
    case v1::WorkerMessage::kFailed:
      return m.failed().seq();
    default:
      return 0;
  }
}

bool AttemptTable::Add(const v1::TrialSpec& spec, const v1::Lease& lease) {
  AttemptKey key{spec.trial_id(), spec.attempt()};
  if (attempts_.count(key) != 0) return false;
  Attempt& a = attempts_[key];
  a.spec = spec;
  a.lease = lease;
  return true;
}

AttemptTable::Attempt* AttemptTable::Find(const AttemptKey& key) {
  auto it = attempts_.find(key);
  return it == attempts_.end() ? nullptr : &it->second;
}

bool AttemptTable::Number(v1::WorkerMessage* report) {
  Attempt* a = Find(KeyOfReport(*report));
  if (a == nullptr || a->dropped || a->ended) return false;
  const int64_t seq = ++a->last_seq;
  switch (report->kind_case()) {
    case v1::WorkerMessage::kProgress:
      report->mutable_progress()->set_seq(seq);
      break;
    case v1::WorkerMessage::kDone:
      report->mutable_done()->set_seq(seq);
      a->ended = true;
      a->succeeded = true;
      break;
    case v1::WorkerMessage::kFailed:
      report->mutable_failed()->set_seq(seq);
      a->ended = true;
      break;
    default:
      --a->last_seq;
      return false;
  }
  a->unacked.push_back(*report);
  return true;
}

void AttemptTable::Forget(Attempt* a, int64_t seq) {
  a->acked_seq = std::max(a->acked_seq, seq);
  while (!a->unacked.empty() && SeqOfReport(a->unacked.front()) <= seq) {
    a->unacked.pop_front();
  }
}

AttemptTable::Attempt* AttemptTable::Ack(const v1::Ack& ack) {
  Attempt* a = Find({ack.trial_id(), ack.attempt()});
  if (a == nullptr) return nullptr;
  Forget(a, ack.seq());
  if (ack.lease_deadline_unix_ms() > 0) {
    a->lease.set_deadline_unix_ms(ack.lease_deadline_unix_ms());
  }
  return a;
}

void AttemptTable::Drop(Attempt* a) {
  a->dropped = true;
  a->unacked.clear();
}

std::vector<v1::Lease> AttemptTable::HeldLeases() const {
  std::vector<v1::Lease> leases;
  for (const auto& [key, a] : attempts_) {
    if (!a.dropped) leases.push_back(a.lease);
  }
  return leases;
}

AttemptTable::Resumption AttemptTable::Resume(const v1::Welcome& welcome) {
  Resumption r;
  for (auto& [key, a] : attempts_) {
    if (a.dropped) continue;
    const v1::ResumedLease* found = nullptr;
    for (const v1::ResumedLease& resumed : welcome.resumed_leases()) {
      if (resumed.lease().trial_id() == key.first &&
          resumed.lease().attempt() == key.second) {
        found = &resumed;
        break;
      }
    }
    if (found == nullptr) {
      Drop(&a);
      r.voided.push_back(key);
      continue;
    }
    a.lease = found->lease();
    Forget(&a, found->acked_seq());
    r.resend.insert(r.resend.end(), a.unacked.begin(), a.unacked.end());
    r.resumed.push_back(key);
  }
  return r;
}

v1::Heartbeat AttemptTable::MakeHeartbeat() const {
  v1::Heartbeat heartbeat;
  for (const auto& [key, a] : attempts_) {
    if (a.Complete()) continue;
    v1::TrialAttempt* running = heartbeat.add_running();
    running->set_trial_id(key.first);
    running->set_attempt(key.second);
  }
  return heartbeat;
}

}  // namespace moesweep::worker::agent
