// AgentImpl: the state behind Agent. One control thread (the caller of Run)
// makes every decision: it opens streams, applies the coordinator's
// messages, starts and reaps trial runners, heartbeats, backs off and stops.
// Reactions (StreamListener) and runner threads (ReportSink) only queue what
// they bring under the lock and wake it; reports go straight onto the live
// stream, numbered under the same lock so the wire order is the seq order.
// Internal to worker/agent/.

#ifndef MOESWEEP_WORKER_AGENT_AGENT_IMPL_H_
#define MOESWEEP_WORKER_AGENT_AGENT_IMPL_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "moesweep/v1/worker.grpc.pb.h"
#include "worker/agent/agent.h"
#include "worker/agent/agent_internal.h"
#include "worker/agent/attempt_table.h"
#include "worker/agent/connection.h"
#include "worker/agent/trial_runner.h"

namespace moesweep::worker::agent {

// Deadlines as time points of options.clock (milliseconds since its origin).
using Time = std::chrono::steady_clock;

// Thread-safe, as Agent.
class AgentImpl : public StreamListener, public ReportSink {
 public:
  AgentImpl(AgentOptions options, TestHooks hooks);
  ~AgentImpl() override;

  Status Run();
  void Stop();
  AgentStats stats() const;

  // StreamListener: called in reactions.
  void OnStreamMessage(Connection* connection,
                       v1::CoordinatorMessage message) override;
  void OnStreamDone(Connection* connection, Status status) override;
  // ReportSink: called on runner threads.
  void OnReport(v1::WorkerMessage report) override;
  void OnRunnerExit(const AttemptKey& key) override;

 private:
  // What one pass of the control loop decided.
  struct Pass {
    std::shared_ptr<Connection> flush;   // has new queued messages
    std::shared_ptr<Connection> cancel;  // no Welcome in time
    std::vector<std::unique_ptr<TrialRunner>> reaped;  // to join
    std::optional<Status> stream_ended;  // the stream's final status
  };

  // agent_impl.cc: the control loop and the stream's lifecycle.
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Time::time_point NextDeadline() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartStream() ABSL_LOCKS_EXCLUDED(mu_);
  // Handles the end of a stream: OK to reconnect later, or the fatal error.
  Status AfterStream(const Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  void Timers(Time::time_point now, Pass* pass)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool StopFinished(Time::time_point now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stops training, closes the stream and joins every runner.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  v1::WorkerMessage MakeHello() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t Jittered(int64_t ms);
  Time::time_point Now() const;

  // agent_messages.cc: the coordinator's messages and the attempts.
  void Handle(const v1::CoordinatorMessage& message, Pass* pass)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnWelcome(const v1::Welcome& welcome, Pass* pass)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnAssign(const v1::Assign& assign, Pass* pass)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnAck(const v1::Ack& ack) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops an attempt (Cancel, Refuse, void) and silences its runner.
  void DropAttempt(const AttemptKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BeginStop(Time::time_point now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves out runners of complete attempts that have exited, and forgets
  // those attempts.
  void Reap(Pass* pass) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues `message` on the live stream; false when there is none.
  bool Send(v1::WorkerMessage message, Pass* pass)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Event(AgentEvent::Kind kind, const AttemptKey& key, std::string message,
             int64_t seq = 0, bool succeeded = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeliverEvents() ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const AgentOptions options_;
  Clock* const clock_;  // options_.clock or RealClock()
  int waker_ = 0;       // clock_'s, for clock_moved_
  const TestHooks hooks_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;

  // Used by the control thread only.
  std::mt19937_64 rng_;
  int failed_streams_ = 0;  // ended before any Welcome ever came
  bool ever_welcomed_ = false;
  int64_t backoff_ms_ = 0;

  // State below is protected by mu_.
  mutable absl::Mutex mu_;
  AttemptTable attempts_ ABSL_GUARDED_BY(mu_);
  std::map<AttemptKey, std::unique_ptr<TrialRunner>> runners_
      ABSL_GUARDED_BY(mu_);
  // Shared with threads that flush a report they queued (OnReport); the
  // control thread drops its reference once the stream has ended.
  std::shared_ptr<Connection> connection_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::CoordinatorMessage> inbox_ ABSL_GUARDED_BY(mu_);
  std::optional<Status> stream_status_ ABSL_GUARDED_BY(mu_);  // OnDone came
  bool live_ ABSL_GUARDED_BY(mu_) = false;  // connection_ has its Welcome
  bool welcomed_stream_ ABSL_GUARDED_BY(mu_) = false;  // the same, until
                                                       // AfterStream reads it
  bool welcome_timed_out_ ABSL_GUARDED_BY(mu_) = false;
  Time::time_point welcome_deadline_ ABSL_GUARDED_BY(mu_);
  Time::time_point reconnect_at_ ABSL_GUARDED_BY(mu_);
  Time::time_point heartbeat_at_ ABSL_GUARDED_BY(mu_);
  int64_t heartbeat_interval_ms_ ABSL_GUARDED_BY(mu_) = 0;
  std::string worker_id_ ABSL_GUARDED_BY(mu_);
  bool runner_exited_ ABSL_GUARDED_BY(mu_) = false;
  bool clock_moved_ ABSL_GUARDED_BY(mu_) = false;  // a test's clock jumped
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_noticed_ ABSL_GUARDED_BY(mu_) = false;  // by the control loop
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;      // BeginStop ran
  Time::time_point stop_deadline_ ABSL_GUARDED_BY(mu_);
  std::set<AttemptKey> preempting_ ABSL_GUARDED_BY(mu_);  // held at Stop
  AgentStats stats_ ABSL_GUARDED_BY(mu_);
  std::vector<AgentEvent> events_ ABSL_GUARDED_BY(mu_);  // not yet delivered
};

}  // namespace moesweep::worker::agent

#endif  // MOESWEEP_WORKER_AGENT_AGENT_IMPL_H_
