// TrialRunner: trains one attempt of a trial on its own thread with the CPU
// trainer and hands its reports to a ReportSink (worker.proto): Progress every
// report_every_steps steps and after every eval, then Done or Failed. The
// last step has no Progress of its own: its point is the Done (final eval
// loss, and the mean training loss since the last Progress), since the
// coordinator keeps every report as a point of the curve.
// Internal to worker/agent/.

#ifndef MOESWEEP_WORKER_AGENT_TRIAL_RUNNER_H_
#define MOESWEEP_WORKER_AGENT_TRIAL_RUNNER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "moesweep/v1/worker.pb.h"
#include "worker/agent/attempt_table.h"
#include "worker/worker.h"

namespace moesweep::worker {
struct StepReport;
class Trainer;
}  // namespace moesweep::worker

namespace moesweep::worker::agent {

// Where a runner's reports go. Thread-safe: called on runner threads.
class ReportSink {
 public:
  virtual ~ReportSink() = default;
  // A Progress, Done or Failed of the runner's attempt with seq 0 (the sink
  // numbers it). Done or Failed is the runner's last report. Must not wait
  // for the network.
  virtual void OnReport(v1::WorkerMessage report) = 0;
  // The runner's last call; its thread returns right after.
  virtual void OnRunnerExit(const AttemptKey& key) = 0;
};

struct RunnerOptions {
  std::string data_root = "data";  // datasets' parent folder (spec_mapping.h)
  int threads = 0;                 // trainer threads; 0: every core
  TrainBackend backend = TrainBackend::kCpu;
  int gpus = 1;  // kCuda: data parallel over this many (TrainOptions.gpus)
  MatmulMath matmul = MatmulMath::kFp32;  // kCuda: TrainOptions.matmul
  // Where lineages' checkpoints live (spec_mapping.h, CheckpointPath).
  std::string checkpoint_dir = "checkpoints";
  // Test seam: called on the runner thread before each optimizer step and
  // before the stop and time checks, with the steps done so far.
  std::function<void(const v1::TrialSpec&, int64_t steps_done)> before_step;
};

// Thread-safe: RequestStop and exited may be called from any thread.
class TrialRunner {
 public:
  enum class StopMode : int {
    kNone = 0,
    kPreempt = 1,  // report Failed(FAILURE_KIND_PREEMPTED), then exit
    kSilent = 2,   // exit without another report (Cancel, Refuse, void)
  };

  // Starts training `spec` on a new thread. `sink` must outlive the runner.
  // A spec the trainer cannot run, missing shards or a trainer error end in
  // Failed(FAILURE_KIND_ERROR) naming the cause; a non-finite loss in
  // FAILURE_KIND_DIVERGED; running past spec.max_seconds in
  // FAILURE_KIND_TIME_LIMIT; a failed allocation in OUT_OF_MEMORY; a spec
  // resuming from a checkpoint this worker lacks (or that is not whole, or
  // of another run) in FAILURE_KIND_CHECKPOINT_MISSING. The checkpoints a
  // spec asks for are saved after the step that reaches each; one that
  // cannot be written does not fail the run (a branch from it is re-planned).
  TrialRunner(v1::TrialSpec spec, RunnerOptions options, ReportSink* sink);
  // RequestStop(kSilent), then joins the thread.
  ~TrialRunner();
  TrialRunner(const TrialRunner&) = delete;
  TrialRunner& operator=(const TrialRunner&) = delete;

  // Stops training before the next step. kSilent overrides kPreempt; a
  // runner that has already sent Done or Failed sends nothing more.
  void RequestStop(StopMode mode);
  // True once OnRunnerExit has been called.
  bool exited() const { return exited_.load(std::memory_order_acquire); }
  const AttemptKey& key() const { return key_; }

 private:
  struct Interval;  // the steps since the last Progress

  void Train();
  // Trains to the end or to a stop; returns the last report (Done or
  // Failed), or nothing for a silent stop.
  std::optional<v1::WorkerMessage> TrainSteps();
  // Saves the trainer's state as the lineage's checkpoint at `tokens`; a
  // failure is logged, not fatal.
  void SaveCheckpoint(const Trainer& trainer, int64_t tokens);
  v1::WorkerMessage MakeProgress(const StepReport& r,
                                 const Interval& interval) const;
  v1::WorkerMessage Failure(v1::FailureKind kind, const std::string& message);
  double ElapsedSeconds() const;

  const v1::TrialSpec spec_;
  const RunnerOptions options_;
  const AttemptKey key_;
  ReportSink* const sink_;
  const std::chrono::steady_clock::time_point start_;
  // Written by the runner thread only.
  int64_t steps_done_ = 0;
  int64_t tokens_done_ = 0;

  std::atomic<int> stop_{0};  // a StopMode
  std::atomic<bool> exited_{false};
  std::thread thread_;  // last: starts once every field above is set
};

}  // namespace moesweep::worker::agent

#endif  // MOESWEEP_WORKER_AGENT_TRIAL_RUNNER_H_
