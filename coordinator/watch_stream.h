// WatchStream: the server reactor of one CampaignService.Watch call
// (STYLE.md H7): the snapshot, the replayed events, then live ones, one
// write in flight; finishes OK after the event that ends the campaign.
// Internal to coordinator/.

#ifndef MOESWEEP_COORDINATOR_WATCH_STREAM_H_
#define MOESWEEP_COORDINATOR_WATCH_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "coordinator/convert.h"

namespace moesweep::coordinator {

class Scheduler;

// Thread-safe.
class WatchStream : public grpc::ServerWriteReactor<v1::CampaignEvent> {
 public:
  // Subscribes to the campaign, or finishes at once with `auth`'s error or
  // NOT_FOUND. `scheduler` must outlive the stream.
  WatchStream(Scheduler* scheduler, const v1::WatchCampaignRequest& request,
              Status auth);

  // Queues an event (progress only when the request asked for it). Never
  // calls back into the Scheduler.
  void Push(const v1::CampaignEvent& event);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void WriteNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishOnce(Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Scheduler* const scheduler_;
  const std::string campaign_id_;
  const bool include_progress_;
  // ServerOptions::max_watch_queue. A watcher that falls further behind (it
  // does not read, or the replay it asked for is longer) gets the queue,
  // then RESOURCE_EXHAUSTED naming the after_event_seq to resume from, so
  // memory per watcher stays bounded.
  const size_t max_queued_;

  absl::Mutex mu_;
  std::deque<v1::CampaignEvent> out_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool last_queued_ ABSL_GUARDED_BY(mu_) = false;  // the final event
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  // The stored event queued last (event_seq), where a dropped watcher
  // resumes; and the status the stream ends with once out_ drains.
  int64_t last_seq_queued_ ABSL_GUARDED_BY(mu_) = 0;
  Status end_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_WATCH_STREAM_H_
