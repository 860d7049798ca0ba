// WatchStream: a campaign's events to one client.

#include "coordinator/watch_stream.h"

#include "coordinator/scheduler.h"

namespace moesweep::coordinator {
namespace {

bool EndsCampaign(const v1::CampaignEvent& e) {
  return e.kind_case() == v1::CampaignEvent::kStateChanged &&
         IsFinalState(e.state_changed().state());
}

}  // namespace

WatchStream::WatchStream(Scheduler* scheduler,
                         const v1::WatchCampaignRequest& request, Status auth)
    : scheduler_(scheduler),
      campaign_id_(request.campaign_id()),
      include_progress_(request.include_progress()),
      max_queued_(static_cast<size_t>(scheduler->max_watch_queue())),
      last_seq_queued_(request.after_event_seq()) {
  if (auth.ok()) {
    auth = scheduler_->Subscribe(campaign_id_, request.after_event_seq(),
                                 include_progress_, this);
  }
  absl::MutexLock lock(&mu_);
  if (!auth.ok()) {
    FinishOnce(auth);
    return;
  }
  subscribed_ = true;
  // A campaign that already ended ends the stream after the snapshot and
  // the replay.
  if (!out_.empty() && out_.front().has_snapshot() &&
      IsFinalState(out_.front().snapshot().state())) {
    last_queued_ = true;
  }
  WriteNext();
}

void WatchStream::Push(const v1::CampaignEvent& event) {
  absl::MutexLock lock(&mu_);
  if (finished_ || last_queued_) return;
  if (event.kind_case() == v1::CampaignEvent::kTrialProgress &&
      !include_progress_) {
    return;
  }
  if (out_.size() >= max_queued_) {
    last_queued_ = true;
    end_status_ = ResourceExhaustedError(
        "the watcher fell " + std::to_string(max_queued_) +
        " events behind; resume with after_event_seq=" +
        std::to_string(last_seq_queued_));
    if (subscribed_) WriteNext();
    return;
  }
  if (event.event_seq() > 0) last_seq_queued_ = event.event_seq();
  out_.push_back(event);
  if (EndsCampaign(event)) last_queued_ = true;
  if (subscribed_) WriteNext();
}

void WatchStream::WriteNext() {
  if (writing_ || finished_) return;
  if (out_.empty()) {
    if (last_queued_) FinishOnce(end_status_);
    return;
  }
  writing_ = true;
  StartWrite(&out_.front());
}

void WatchStream::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  out_.pop_front();
  if (!ok) {
    FinishOnce(UnavailableError("watch stream broken"));
    return;
  }
  WriteNext();
}

void WatchStream::FinishOnce(Status status) {
  if (finished_) return;
  finished_ = true;
  out_.clear();
  Finish(ToGrpcStatus(status));
}

void WatchStream::OnCancel() {
  absl::MutexLock lock(&mu_);
  if (!writing_)
    FinishOnce(UnavailableError("watch cancelled"));
  else
    last_queued_ = true;
}

void WatchStream::OnDone() {
  scheduler_->Unsubscribe(campaign_id_, include_progress_, this);
  delete this;
}

}  // namespace moesweep::coordinator
