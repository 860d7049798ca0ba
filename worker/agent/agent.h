// The training worker's coordinator client (issue 7): one WorkerService.Connect
// stream (proto/moesweep/v1/worker.proto) over which the worker says Hello,
// trains the attempts it is assigned with the CPU trainer (worker/worker.h),
// streams their reports, and resumes its leases after a reconnect.
//
//   StatusOr<std::string> token = agent::ReadTokenFile("worker.token");
//   agent::AgentOptions options{.coordinator = "10.0.0.5:7443",
//                               .token = *token};
//   StatusOr<std::unique_ptr<agent::Agent>> a = agent::Agent::Create(options);
//   // SIGTERM (on another thread): (*a)->Stop();
//   Status s = (*a)->Run();  // returns after Stop() or a fatal error
//
// Depends on common/ and the trainer; gRPC stays inside the .cc files.

#ifndef MOESWEEP_WORKER_AGENT_AGENT_H_
#define MOESWEEP_WORKER_AGENT_AGENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "worker/worker.h"  // MatmulMath

namespace moesweep::worker::agent {

enum class Backend { kCpu, kCuda };

// OK for a backend this build and machine can train with on `gpus` GPUs;
// else CheckTrainBackend's error naming why (no CUDA in this build, no GPU,
// fewer GPUs, no NCCL to join them).
Status CheckBackend(Backend backend, int gpus = 1);

// The worker token of a token file: either the token alone on the first line
// that is neither blank nor a `#` comment, or lines `<role> <token>` in the
// coordinator's tokens-file format (coordinator::ReadTokensFile), of which
// the first `worker` line is used. Surrounding whitespace is trimmed.
// NOT_FOUND when the file cannot be read; INVALID_ARGUMENT naming file:line
// for an empty file, a line of more than two fields, a role file with no
// `worker` line, or a token that is not 16..256 printable ASCII characters.
// No message ever holds the token.
StatusOr<std::string> ReadTokenFile(const std::string& path);

// Something the agent did or was told, for logs and tests.
struct AgentEvent {
  enum class Kind {
    kConnected,     // Welcome received; `message` holds the worker id
    kDisconnected,  // the stream ended; `message` holds the status
    kAssigned,      // an attempt was assigned (and started, unless stopping)
    kResumed,       // a held attempt was re-granted after a reconnect
    kVoided,        // a held attempt was not re-granted: stopped, dropped
    kAcked,         // reports up to `seq` are durable
    kFinished,      // the attempt's Done or Failed is acknowledged
    kCancelled,     // the coordinator cancelled the attempt
    kRefused,       // the coordinator refused a report: attempt dropped
  };
  Kind kind = Kind::kConnected;
  std::string trial_id;  // empty for kConnected and kDisconnected
  int32_t attempt = 0;
  int64_t seq = 0;         // kAcked, kFinished, kRefused
  bool succeeded = false;  // kFinished: Done (true) or Failed (false)
  std::string message;     // one human-readable line; never the token
};
std::string_view EventKindName(AgentEvent::Kind kind);

struct AgentOptions {
  std::string coordinator;  // HOST:PORT of the coordinator's gRPC port
  std::string token;        // worker-role bearer token; required
  // PEM root certificates to trust when the coordinator serves TLS
  // (`moesweep coordinator --tls-cert`); empty: plaintext.
  std::string tls_root_pem;
  // Stable worker id (Hello.worker_id); empty: the coordinator assigns one,
  // which is reused for every reconnect of this agent.
  std::string worker_id;
  Backend backend = Backend::kCpu;
  // kCuda: the GPUs each trial trains on, data parallel (TrainOptions.gpus);
  // 1 to kMaxGpus.
  int gpus = 1;
  // kCuda: how the matmuls multiply (TrainOptions.matmul).
  MatmulMath matmul = MatmulMath::kFp32;
  // Holds one folder per dataset, each with train.bin and val.bin
  // (`moesweep data prepare --out DIR/<dataset>`); TrialSpec.dataset names
  // the folder, "default" when empty.
  std::string data_dir = "data";
  // Branching runs' checkpoints, one folder per lineage. A branch goes to
  // the worker that saved its checkpoint while that worker is connected;
  // point every worker at one shared folder and any of them can resume it.
  std::string checkpoint_dir = "checkpoints";
  int threads = 0;  // trainer threads; 0: every hardware thread
  // Attempts trained at once (WorkerCapabilities.max_concurrent_trials);
  // each one runs its own trainer with `threads` threads.
  int max_concurrent_trials = 1;
  // Streams that may fail before the first Welcome before Run gives up with
  // UNAVAILABLE. After a Welcome the agent reconnects until Stop().
  int connect_attempts = 3;
  // A stream that has no Welcome this long after it started is cancelled
  // and counts as a failed attempt.
  int64_t welcome_timeout_ms = 10000;
  // Reconnect backoff: doubles from initial to max, with +-20% jitter.
  int64_t backoff_initial_ms = 250;
  int64_t backoff_max_ms = 15000;
  // After Stop(), how long to wait for the Acks of the preempted attempts'
  // Failed reports (reconnecting if need be) before returning anyway.
  int64_t stop_timeout_ms = 10000;
  // The steady time behind every deadline above and the heartbeat; must
  // outlive the agent. Null: RealClock(). Tests drive it (FakeClock).
  Clock* clock = nullptr;
  // Called with each event, on the agent's own thread (the one in Run),
  // with no lock held; it must not call Run. Empty: no events.
  std::function<void(const AgentEvent&)> on_event;

  // INVALID_ARGUMENT naming the field (coordinator not HOST:PORT, empty
  // token, a negative or zero count or time); CheckBackend's error.
  Status Validate() const;
};

// Counters, copied under the agent's lock.
struct AgentStats {
  int64_t streams_started = 0;
  int64_t welcomes = 0;
  int64_t attempts_assigned = 0;
  int64_t reports_made = 0;    // numbered reports of all attempts
  int64_t reports_resent = 0;  // unacknowledged reports sent again after a
                               // reconnect
  int64_t heartbeats_sent = 0;
  std::string worker_id;  // as the last Welcome gave it
};

class AgentImpl;
struct TestHooks;

// One worker process's client. Thread-safe: Stop and stats may be called from
// any thread while Run runs on another.
class Agent {
 public:
  // Checks the options and prepares the channel (nothing is dialled yet).
  // Errors: Validate()'s.
  static StatusOr<std::unique_ptr<Agent>> Create(const AgentOptions& options);
  // REQUIRES: Run is not running.
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Connects and serves until Stop() or a fatal error; call once. Returns
  //   OK                   after Stop(): every running attempt was reported
  //                        Failed(FAILURE_KIND_PREEMPTED) and its Ack came,
  //                        or stop_timeout_ms ran out waiting for it;
  //   UNAVAILABLE          naming the address, when connect_attempts streams
  //                        failed before any Welcome;
  //   UNAUTHENTICATED      the coordinator does not know the token;
  //   PERMISSION_DENIED    the token is not a worker token;
  //   FAILED_PRECONDITION  the coordinator refused the stream (protocol);
  //   ABORTED              another worker connected with the same id.
  // On every return, training has stopped and the stream is closed.
  Status Run();

  // Asks Run to preempt every running attempt and return. Not
  // async-signal-safe: call it from a thread that waits for the signal
  // (sigwait), not from a handler. Idempotent; before Run, Run returns OK at
  // once.
  void Stop();

  AgentStats stats() const;

 private:
  friend StatusOr<std::unique_ptr<Agent>> CreateAgentForTest(
      const AgentOptions& options, TestHooks hooks);
  explicit Agent(std::unique_ptr<AgentImpl> impl);
  std::unique_ptr<AgentImpl> impl_;
};

}  // namespace moesweep::worker::agent

#endif  // MOESWEEP_WORKER_AGENT_AGENT_H_
