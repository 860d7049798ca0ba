// Connection: the worker's side of one WorkerService.Connect stream, a gRPC
// client reactor (STYLE.md H7). It owns its ClientContext, holds an AddHold
// from Start until the read side ends (reports are written from runner
// threads, outside any reaction), keeps one write in flight with the rest
// queued, and hands every message and the final status to a StreamListener.
// Internal to worker/agent/.

#ifndef MOESWEEP_WORKER_AGENT_CONNECTION_H_
#define MOESWEEP_WORKER_AGENT_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "moesweep/v1/worker.grpc.pb.h"

namespace moesweep::worker::agent {

namespace v1 = ::moesweep::v1;

// The one conversion from a gRPC status to ours (STYLE.md H4: the numbering
// matches, so code and message are copied unchanged).
Status FromGrpcStatus(const grpc::Status& status);

class Connection;

// Receives what a Connection reads. Both calls run inside reactions: they
// must return quickly, never wait on a condition, and never call Start,
// Flush, CloseSend or Cancel of any Connection.
class StreamListener {
 public:
  virtual ~StreamListener() = default;
  // One message from the coordinator, in stream order.
  virtual void OnStreamMessage(Connection* connection,
                               v1::CoordinatorMessage message) = 0;
  // The stream has ended; the last call for `connection`, after every
  // OnStreamMessage. Once it returns, the connection may be destroyed.
  virtual void OnStreamDone(Connection* connection, Status status) = 0;
};

// Thread-safe. Start, Flush, CloseSend and Cancel may run reactions (and so
// the listener) on the calling thread before they return: call them with no
// lock held that the listener takes. Enqueue never does, so it may be called
// under such a lock, which is how the agent keeps reports in seq order.
class Connection : public grpc::ClientBidiReactor<v1::WorkerMessage,
                                                  v1::CoordinatorMessage> {
 public:
  // `stub` and `listener` must outlive the stream (until OnStreamDone
  // returns). The call carries `authorization: Bearer <token>`; `hello` is
  // its first message.
  Connection(v1::WorkerService::Stub* stub, const std::string& token,
             v1::WorkerMessage hello, StreamListener* listener);
  // REQUIRES: OnStreamDone has been called (or Start never was).
  ~Connection() override = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts the call: the first read and the Hello. Call once.
  void Start();
  // Queues `message` after those queued before; sent by the next Flush or
  // after the write in flight. Dropped once the stream is ending.
  void Enqueue(v1::WorkerMessage message);
  // Starts the next write when none is in flight.
  void Flush();
  // Half-closes the stream (WritesDone) once the queue is written.
  void CloseSend();
  // Cancels the call; OnStreamDone follows with CANCELLED (or the status it
  // had already ended with).
  void Cancel() { context_.TryCancel(); }

 private:
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnWritesDoneDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;
  // After a write or WritesDone completes: releases the hold when the read
  // side has ended, else writes the next message.
  void AfterWrite(bool ok);

  v1::WorkerService::Stub* const stub_;
  StreamListener* const listener_;
  grpc::ClientContext context_;
  v1::CoordinatorMessage incoming_;  // owned by the read in flight

  absl::Mutex mu_;
  std::deque<v1::WorkerMessage> queue_ ABSL_GUARDED_BY(mu_);
  v1::WorkerMessage current_ ABSL_GUARDED_BY(mu_);  // the write in flight
  bool writing_ ABSL_GUARDED_BY(mu_) = false;       // a write or WritesDone
  bool closing_ ABSL_GUARDED_BY(mu_) = false;       // CloseSend was called
  bool writes_done_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace moesweep::worker::agent

#endif  // MOESWEEP_WORKER_AGENT_CONNECTION_H_
