// WorkerStream: one worker's Connect stream. At most one read and one write
// are in flight; Finish waits for every report handed to the store.

#include "coordinator/worker_stream.h"

#include <random>

#include "coordinator/scheduler.h"
#include "coordinator/store.h"
#include "coordinator/worker_input.h"

namespace moesweep::coordinator {
namespace {

std::string NewWorkerId() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "w-%08x%08x", rd(), rd());
  return buf;
}

// (trial, attempt, seq) of a report; seq 0 for anything else.
void ReportKey(const v1::WorkerMessage& m, std::string* trial, int32_t* attempt,
               int64_t* seq) {
  switch (m.kind_case()) {
    case v1::WorkerMessage::kProgress:
      *trial = m.progress().trial_id();
      *attempt = m.progress().attempt();
      *seq = m.progress().seq();
      return;
    case v1::WorkerMessage::kDone:
      *trial = m.done().trial_id();
      *attempt = m.done().attempt();
      *seq = m.done().seq();
      return;
    case v1::WorkerMessage::kFailed:
      *trial = m.failed().trial_id();
      *attempt = m.failed().attempt();
      *seq = m.failed().seq();
      return;
    default:
      *seq = 0;
  }
}

}  // namespace

WorkerStream::WorkerStream(Scheduler* scheduler, Store* store, Status auth)
    : scheduler_(scheduler),
      store_(store),
      last_heard_ms_(scheduler->ClockMs()) {
  absl::MutexLock lock(&mu_);
  if (!auth.ok()) {
    reading_ = false;
    ending_ = true;
    end_status_ = auth;
    MaybeFinish();
    return;
  }
  StartRead(&in_);
}

std::string WorkerStream::worker_id() const {
  absl::MutexLock lock(&mu_);
  return worker_id_;
}

void WorkerStream::Send(v1::CoordinatorMessage message) {
  absl::MutexLock lock(&mu_);
  if (ending_ || finished_) return;
  out_.push_back(std::move(message));
  WriteNext();
}

void WorkerStream::End(Status status) {
  absl::MutexLock lock(&mu_);
  if (ending_) return;
  ending_ = true;
  end_status_ = std::move(status);
  MaybeFinish();
}

void WorkerStream::WriteNext() {
  if (writing_ || out_.empty() || finished_) return;
  writing_ = true;
  StartWrite(&out_.front());
}

void WorkerStream::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  out_.pop_front();
  if (!ok) out_.clear();  // the stream is broken; nothing more gets through
  WriteNext();
  MaybeFinish();
}

void WorkerStream::MaybeFinish() {
  if (finished_ || (!ending_ && reading_) || pending_reports_ > 0 || writing_) {
    return;
  }
  if (!out_.empty()) {
    WriteNext();  // flush Acks owed before finishing
    return;
  }
  finished_ = true;
  Finish(ToGrpcStatus(end_status_));
}

void WorkerStream::OnReadDone(bool ok) {
  if (!ok) {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    MaybeFinish();
    return;
  }
  last_heard_ms_.store(scheduler_->ClockMs(), std::memory_order_relaxed);
  bool hello_seen;
  {
    absl::MutexLock lock(&mu_);
    hello_seen = hello_seen_;
  }
  if (!hello_seen) {
    if (in_.kind_case() != v1::WorkerMessage::kHello) {
      End(FailedPreconditionError("the first message must be Hello"));
      return;
    }
    HandleHello(in_.hello());
  } else if (in_.kind_case() == v1::WorkerMessage::kHeartbeat) {
    HandleHeartbeat(in_.heartbeat());
  } else if (in_.kind_case() == v1::WorkerMessage::kHello) {
    End(FailedPreconditionError("Hello may be sent only once"));
    return;
  } else {
    HandleReport(in_);
  }
  absl::MutexLock lock(&mu_);
  if (!ending_) StartRead(&in_);
}

void WorkerStream::HandleHello(const v1::Hello& hello) {
  if (Status bad = CheckHello(hello); !bad.ok()) {
    End(bad);
    return;
  }
  if (hello.protocol_version() != v1::PROTOCOL_VERSION_1) {
    End(FailedPreconditionError(
        "protocol version " + std::to_string(hello.protocol_version()) +
        " is not spoken here; this coordinator speaks version 1"));
    return;
  }
  v1::Hello copy = hello;
  if (copy.worker_id().empty()) copy.set_worker_id(NewWorkerId());
  {
    absl::MutexLock lock(&mu_);
    hello_seen_ = true;
    worker_id_ = copy.worker_id();
  }
  scheduler_->WorkerHello(this, std::move(copy));
}

void WorkerStream::HandleHeartbeat(const v1::Heartbeat& heartbeat) {
  if (Status bad = CheckHeartbeat(heartbeat); !bad.ok()) {
    End(bad);
    return;
  }
  const std::string id = worker_id();
  for (const v1::TrialAttempt& a : heartbeat.running()) {
    scheduler_->leases().Renew(a.trial_id(), a.attempt(), id);
  }
}

void WorkerStream::HandleReport(const v1::WorkerMessage& message) {
  std::string trial;
  int32_t attempt = 0;
  int64_t seq = 0;
  ReportKey(message, &trial, &attempt, &seq);
  if (seq == 0 && trial.empty()) {
    End(InvalidArgumentError("a WorkerMessage with no kind set"));
    return;
  }
  // Only the holder of the trial's lease for this attempt may report on it:
  // anything else (a trial never assigned to this worker, leased to
  // another, already ended) is refused before the store sees it.
  const std::string id = worker_id();
  Status admitted = CheckReport(message);
  int64_t deadline_unix_ms = 0;
  if (admitted.ok()) {
    std::optional<LeaseEntry> lease = scheduler_->leases().Get(trial);
    StatusOr<int32_t> current = store_->CurrentAttempt(trial);
    if (!current.ok()) {
      admitted = NotFoundError("trial " + Prefix(trial) + ": unknown");
    } else if (*current != attempt) {
      admitted =
          AbortedError("attempt " + std::to_string(attempt) + " of " +
                       Prefix(trial) + " is fenced (the current attempt is " +
                       std::to_string(*current) + "): drop it");
    } else if (!lease) {
      admitted = FailedPreconditionError(
          "trial " + Prefix(trial) +
          " is not running (never assigned, or already ended): drop it");
    } else if (lease->worker_id != id || lease->lease.attempt() != attempt) {
      admitted = AbortedError("attempt " + std::to_string(attempt) + " of " +
                              Prefix(trial) +
                              " is not leased to this worker: drop it");
    } else {
      // The deadline this report's renewal set is the one its Ack carries.
      deadline_unix_ms = scheduler_->leases().Renew(trial, attempt, id);
    }
  }
  {
    absl::MutexLock lock(&mu_);
    // A cancellation may have finished the stream while this report was
    // read (OnCancel runs beside OnReadDone): the report is not handed
    // over, and the worker resends it on its next stream.
    if (finished_) return;
    ++pending_reports_;
  }
  if (!admitted.ok()) {
    ReportAnswered(message, 0, admitted);
    return;
  }
  v1::WorkerMessage stored = message;
  TrimReport(&stored);
  // The callback runs on the store's writer thread; the reactor cannot
  // finish, so cannot be deleted, while pending_reports_ > 0.
  store_->AppendReport(trial, attempt, seq, stored.SerializeAsString(),
                       [this, stored, deadline_unix_ms](Status status) {
                         ReportAnswered(stored, deadline_unix_ms, status);
                       });
}

void WorkerStream::ReportAnswered(const v1::WorkerMessage& report,
                                  int64_t deadline_unix_ms,
                                  const Status& status) {
  std::string trial;
  int32_t attempt = 0;
  int64_t seq = 0;
  ReportKey(report, &trial, &attempt, &seq);
  v1::CoordinatorMessage reply;
  if (status.ok()) {
    v1::Ack* ack = reply.mutable_ack();
    ack->set_trial_id(trial);
    ack->set_attempt(attempt);
    ack->set_seq(seq);
    if (deadline_unix_ms > 0) ack->set_lease_deadline_unix_ms(deadline_unix_ms);
    scheduler_->ReportStored(worker_id(), report);
  } else {
    v1::Refuse* refuse = reply.mutable_refuse();
    refuse->set_trial_id(trial);
    refuse->set_attempt(attempt);
    refuse->set_seq(seq);
    refuse->set_code(static_cast<int32_t>(status.code()));
    refuse->set_message(std::string(status.message()));
    StatusOr<int32_t> current = store_->CurrentAttempt(trial);
    refuse->set_current_attempt(current.ok() ? *current : 0);
    if (status.code() == StatusCode::kAborted) {
      scheduler_->StaleReportRefused(trial);
    }
  }
  absl::MutexLock lock(&mu_);
  --pending_reports_;
  if (!finished_) {
    // Acks are cumulative: one still queued behind the write in flight, for
    // the same attempt, is raised instead of queueing another.
    v1::CoordinatorMessage* last =
        writing_ && out_.size() >= 2 ? &out_.back() : nullptr;
    if (reply.has_ack() && last != nullptr && last->has_ack() &&
        last->ack().trial_id() == reply.ack().trial_id() &&
        last->ack().attempt() == reply.ack().attempt() &&
        last->ack().seq() < reply.ack().seq()) {
      *last->mutable_ack() = std::move(*reply.mutable_ack());
    } else {
      out_.push_back(std::move(reply));
      WriteNext();
    }
  }
  MaybeFinish();
}

void WorkerStream::OnCancel() {
  absl::MutexLock lock(&mu_);
  ending_ = true;
  if (end_status_.ok()) end_status_ = UnavailableError("stream cancelled");
  MaybeFinish();
}

void WorkerStream::OnDone() { scheduler_->WorkerGone(this); }

}  // namespace moesweep::coordinator
