// WorkerStream: the server reactor of one WorkerService.Connect stream
// (STYLE.md H7, H8). Reports go to the store's group-commit writer; the Ack
// is queued from its callback, after the WAL sync. Lifecycles: gRPC calls
// OnDone last; the reactor then tells the Scheduler, which deletes it on its
// own thread once it holds no pointer to it. Internal to coordinator/.

#ifndef MOESWEEP_COORDINATOR_WORKER_STREAM_H_
#define MOESWEEP_COORDINATOR_WORKER_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "coordinator/convert.h"

namespace moesweep::coordinator {

class Scheduler;
class Store;

// Thread-safe: Send and End may be called from any thread.
class WorkerStream : public grpc::ServerBidiReactor<v1::WorkerMessage,
                                                    v1::CoordinatorMessage> {
 public:
  // `scheduler` and `store` must outlive every stream (the server ends all
  // streams before destroying them). `auth` is the token check's result: a
  // non-OK status ends the stream at once with it.
  WorkerStream(Scheduler* scheduler, Store* store, Status auth);

  // Queues a message; dropped once the stream is ending.
  void Send(v1::CoordinatorMessage message);
  // Ends the stream with `status` once every report handed to the store has
  // been answered. Idempotent; the first status wins.
  void End(Status status);
  // The worker's id; empty before Hello.
  std::string worker_id() const;
  // When the last message of any kind arrived (Scheduler::ClockMs); the
  // stream's start before the first.
  int64_t last_heard_ms() const {
    return last_heard_ms_.load(std::memory_order_relaxed);
  }

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void HandleHello(const v1::Hello& hello);
  void HandleReport(const v1::WorkerMessage& message);
  void HandleHeartbeat(const v1::Heartbeat& heartbeat);
  // `deadline_unix_ms`: the lease deadline the report's renewal set (0: the
  // worker holds no lease of that attempt).
  void ReportAnswered(const v1::WorkerMessage& report, int64_t deadline_unix_ms,
                      const Status& status);
  void MaybeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Scheduler* const scheduler_;
  Store* const store_;

  v1::WorkerMessage in_;  // the one read in flight
  std::atomic<int64_t> last_heard_ms_;
  mutable absl::Mutex mu_;
  std::string worker_id_ ABSL_GUARDED_BY(mu_);
  bool hello_seen_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<v1::CoordinatorMessage> out_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  int pending_reports_ ABSL_GUARDED_BY(mu_) = 0;
  bool reading_ ABSL_GUARDED_BY(mu_) = true;
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  Status end_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_WORKER_STREAM_H_
