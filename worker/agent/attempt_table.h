// AttemptTable: the attempts a worker holds and their reports until the
// coordinator acknowledges them (worker.proto: seq, cumulative Ack, Refuse,
// Cancel, resumption after a reconnect). Protocol bookkeeping only: no
// threads, no I/O. Internal to worker/agent/.

#ifndef MOESWEEP_WORKER_AGENT_ATTEMPT_TABLE_H_
#define MOESWEEP_WORKER_AGENT_ATTEMPT_TABLE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "moesweep/v1/worker.pb.h"

namespace moesweep::worker::agent {

namespace v1 = ::moesweep::v1;

// (trial_id, attempt): the fencing key of worker.proto.
using AttemptKey = std::pair<std::string, int32_t>;

// The key and seq of a report (Progress, Done or Failed); {"", 0} and 0 for
// any other message.
AttemptKey KeyOfReport(const v1::WorkerMessage& report);
int64_t SeqOfReport(const v1::WorkerMessage& report);

// Not thread-safe: the agent calls it under its lock.
class AttemptTable {
 public:
  struct Attempt {
    v1::TrialSpec spec;
    v1::Lease lease;
    int64_t last_seq = 0;   // seq of the last report numbered; 0: none
    int64_t acked_seq = 0;  // every report up to this seq is durable
    // Reports with seq > acked_seq, in seq order, to resend after a
    // reconnect until an Ack covers them.
    std::deque<v1::WorkerMessage> unacked;
    bool ended = false;      // its Done or Failed is numbered (last_seq)
    bool succeeded = false;  // that last report is a Done
    // Cancelled, refused or void: nothing more is sent for it and its
    // unacknowledged reports are forgotten.
    bool dropped = false;
    std::string outcome;  // how it ended, one line for logs (the agent's)

    // Takes no slot and needs nothing more from the stream.
    bool Complete() const {
      return dropped || (ended && acked_seq >= last_seq);
    }
  };

  // Adds an attempt with no reports. False (nothing changes) when
  // (spec.trial_id, spec.attempt) is already held.
  bool Add(const v1::TrialSpec& spec, const v1::Lease& lease);
  // The attempt, or null when it is not held.
  Attempt* Find(const AttemptKey& key);

  // Gives `report` the attempt's next seq (1, 2, ...) and keeps a copy until
  // an Ack covers it. False, and `report` is to be discarded, when its
  // attempt is not held, dropped, or already ended.
  bool Number(v1::WorkerMessage* report);

  // A cumulative Ack: forgets the attempt's reports up to ack.seq(). Returns
  // the attempt (null when not held).
  Attempt* Ack(const v1::Ack& ack);

  // Marks the attempt dropped and forgets its unacknowledged reports.
  void Drop(Attempt* attempt);

  // The leases to list in Hello.held_leases: every attempt not dropped
  // (ended ones too, whose last report may still need its Ack).
  std::vector<v1::Lease> HeldLeases() const;

  // Applies Welcome.resumed_leases. A held attempt listed there takes the
  // fresh lease and forgets reports up to the larger of its acked_seq and
  // the listed one; the rest of its reports are returned in `resend`, in
  // order. A held attempt not listed is void: dropped, and its key returned
  // in `voided`.
  struct Resumption {
    std::vector<v1::WorkerMessage> resend;
    std::vector<AttemptKey> resumed;
    std::vector<AttemptKey> voided;
  };
  Resumption Resume(const v1::Welcome& welcome);

  // The attempts a Heartbeat lists: held, not dropped, and not Complete.
  v1::Heartbeat MakeHeartbeat() const;

  void Erase(const AttemptKey& key) { attempts_.erase(key); }
  const std::map<AttemptKey, Attempt>& attempts() const { return attempts_; }
  size_t size() const { return attempts_.size(); }

 private:
  // Forgets the reports of `a` up to `seq`.
  static void Forget(Attempt* a, int64_t seq);

  std::map<AttemptKey, Attempt> attempts_;
};

}  // namespace moesweep::worker::agent

#endif  // MOESWEEP_WORKER_AGENT_ATTEMPT_TABLE_H_
