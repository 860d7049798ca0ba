// TrialRunner: one attempt, trained step by step (STYLE.md H11's loop lives in
// the Trainer); this file decides when to report and how an attempt ends.

#include "worker/agent/trial_runner.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <new>

#include "worker/agent/spec_mapping.h"
#include "worker/worker.h"

namespace moesweep::worker::agent {
namespace {

// Peak resident memory of the process: the trainer's host memory on CPU.
int64_t PeakMemoryBytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return int64_t{usage.ru_maxrss} * 1024;  // ru_maxrss is in KiB on Linux
}

}  // namespace

// Mean training loss and throughput over the steps since the last Progress.
struct TrialRunner::Interval {
  double loss_sum = 0;
  int64_t steps = 0;
  int64_t tokens = 0;
  double train_seconds = 0;

  void Add(const StepReport& r, int64_t tokens_per_step) {
    loss_sum += r.loss;
    ++steps;
    tokens += tokens_per_step;
    train_seconds += r.seconds;
  }
  double Mean() const { return steps > 0 ? loss_sum / double(steps) : 0; }
};

TrialRunner::TrialRunner(v1::TrialSpec spec, RunnerOptions options,
                         ReportSink* sink)
    : spec_(std::move(spec)),
      options_(std::move(options)),
      key_(spec_.trial_id(), spec_.attempt()),
      sink_(sink),
      start_(std::chrono::steady_clock::now()),
      thread_([this] { Train(); }) {}

TrialRunner::~TrialRunner() {
  RequestStop(StopMode::kSilent);
  if (thread_.joinable()) thread_.join();
}

void TrialRunner::RequestStop(StopMode mode) {
  int want = static_cast<int>(mode);
  int have = stop_.load();
  while (have < want && !stop_.compare_exchange_weak(have, want)) {
  }
}

double TrialRunner::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       start_)
      .count();
}

v1::WorkerMessage TrialRunner::Failure(v1::FailureKind kind,
                                       const std::string& message) {
  v1::WorkerMessage m;
  v1::Failed* f = m.mutable_failed();
  f->set_trial_id(spec_.trial_id());
  f->set_attempt(spec_.attempt());
  f->set_kind(kind);
  f->set_message(message);
  f->set_step(steps_done_);
  f->set_trained_tokens(tokens_done_);
  f->set_elapsed_seconds(ElapsedSeconds());
  return m;
}

void TrialRunner::Train() {
  std::optional<v1::WorkerMessage> last;
  // The trainer reports errors as Status; only allocation failures and
  // library exceptions arrive here, and each becomes the attempt's Failed.
  try {
    last = TrainSteps();
  } catch (const std::bad_alloc&) {
    last = Failure(v1::FAILURE_KIND_OUT_OF_MEMORY,
                   "out of host memory at step " + std::to_string(steps_done_));
  } catch (const std::exception& e) {
    last = Failure(v1::FAILURE_KIND_ERROR,
                   std::string("trainer exception: ") + e.what());
  }
  if (last && stop_.load() != static_cast<int>(StopMode::kSilent)) {
    sink_->OnReport(std::move(*last));
  }
  exited_.store(true, std::memory_order_release);
  sink_->OnRunnerExit(key_);
}

void TrialRunner::SaveCheckpoint(const Trainer& trainer, int64_t tokens) {
  const std::string path =
      CheckpointPath(options_.checkpoint_dir, spec_, tokens);
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(),
                                      error);
  Status saved =
      error ? InternalError(error.message()) : trainer.SaveCheckpoint(path);
  if (!saved.ok()) {
    std::fprintf(stderr, "worker: trial %s: checkpoint at %lld tokens: %s\n",
                 spec_.trial_id().c_str(), static_cast<long long>(tokens),
                 saved.ToString().c_str());
  }
}

v1::WorkerMessage TrialRunner::MakeProgress(const StepReport& r,
                                            const Interval& interval) const {
  v1::WorkerMessage m;
  v1::Progress* p = m.mutable_progress();
  p->set_trial_id(spec_.trial_id());
  p->set_attempt(spec_.attempt());
  p->set_step(r.step);
  p->set_trained_tokens(r.tokens);
  p->set_train_loss(interval.Mean());
  if (r.eval_loss) p->set_eval_loss(*r.eval_loss);
  p->set_learning_rate(r.lr);
  p->set_grad_norm(r.grad_norm);
  p->set_tokens_per_second(interval.train_seconds > 0
                               ? double(interval.tokens) /
                                     interval.train_seconds
                               : 0);
  p->set_peak_memory_bytes(PeakMemoryBytes());
  p->set_elapsed_seconds(ElapsedSeconds());
  return m;
}

std::optional<v1::WorkerMessage> TrialRunner::TrainSteps() {
  StatusOr<TrainOptions> options =
      TrainOptionsFromSpec(spec_, options_.data_root, options_.threads);
  if (!options.ok()) {
    return Failure(v1::FAILURE_KIND_ERROR,
                   std::string(options.status().message()));
  }
  options->backend = options_.backend;
  options->gpus = options_.gpus;
  options->matmul = options_.matmul;
  StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(*options);
  if (!trainer.ok()) {
    // A model too big for this worker's memory is refused before it is
    // allocated; the coordinator retries such a trial only elsewhere.
    const bool memory =
        trainer.status().code() == StatusCode::kResourceExhausted;
    v1::WorkerMessage failed = Failure(
        memory ? v1::FAILURE_KIND_OUT_OF_MEMORY : v1::FAILURE_KIND_ERROR,
        "cannot start the trainer: " + std::string(trainer.status().message()));
    if (memory) {
      const size_t need = Trainer::MemoryNeeded(*options);
      failed.mutable_failed()->set_needed_memory_bytes(
          int64_t(std::min<size_t>(need, INT64_MAX)));
    }
    return failed;
  }
  const int64_t tokens_per_step = TokensPerStep(spec_);
  const int64_t resume = spec_.resume_from_tokens();
  if (resume > 0) {
    const std::string path =
        CheckpointPath(options_.checkpoint_dir, spec_, resume);
    Status restored = (*trainer)->RestoreCheckpoint(path);
    if (restored.ok() && (*trainer)->step() * tokens_per_step != resume) {
      restored = InvalidArgumentError(
          "it holds step " + std::to_string((*trainer)->step()) + ", not " +
          std::to_string(resume / tokens_per_step));
    }
    if (!restored.ok()) {
      return Failure(v1::FAILURE_KIND_CHECKPOINT_MISSING,
                     "lineage " + spec_.lineage() + " at " +
                         std::to_string(resume) + " tokens (" + path +
                         "): " + std::string(restored.message()));
    }
    steps_done_ = (*trainer)->step();
    tokens_done_ = resume;
  }
  int next_checkpoint = 0;
  Interval interval;
  std::optional<float> last_eval;
  while (!(*trainer)->Done()) {
    if (options_.before_step) options_.before_step(spec_, steps_done_);
    const int stop = stop_.load();
    if (stop == static_cast<int>(StopMode::kSilent)) return std::nullopt;
    if (stop == static_cast<int>(StopMode::kPreempt)) {
      return Failure(v1::FAILURE_KIND_PREEMPTED, "the worker is stopping");
    }
    if (spec_.max_seconds() > 0 && ElapsedSeconds() > spec_.max_seconds()) {
      return Failure(v1::FAILURE_KIND_TIME_LIMIT,
                     "ran " + std::to_string(ElapsedSeconds()) +
                         " s, past max_seconds " +
                         std::to_string(spec_.max_seconds()));
    }
    StatusOr<StepReport> r = (*trainer)->Step();
    if (!r.ok()) {
      return Failure(v1::FAILURE_KIND_ERROR,
                     "step " + std::to_string(steps_done_ + 1) + ": " +
                         std::string(r.status().message()));
    }
    steps_done_ = r->step;
    tokens_done_ = r->tokens;
    if (!std::isfinite(r->loss) ||
        (r->eval_loss && !std::isfinite(*r->eval_loss))) {
      std::string what = "loss " + std::to_string(r->loss);
      if (r->eval_loss) what += ", eval loss " + std::to_string(*r->eval_loss);
      return Failure(v1::FAILURE_KIND_DIVERGED,
                     what + " at step " + std::to_string(r->step));
    }
    while (next_checkpoint < spec_.checkpoint_at_tokens_size() &&
           spec_.checkpoint_at_tokens(next_checkpoint) <= r->tokens) {
      SaveCheckpoint(**trainer, spec_.checkpoint_at_tokens(next_checkpoint++));
    }
    interval.Add(*r, tokens_per_step);
    if (r->eval_loss) last_eval = r->eval_loss;
    // The coordinator keeps every report as a point of the curve, Done
    // included: the last step's point is the Done, not a Progress too.
    if ((*trainer)->Done()) break;
    if (r->step % spec_.report_every_steps() != 0 && !r->eval_loss) continue;
    sink_->OnReport(MakeProgress(*r, interval));
    interval = Interval{};
  }
  // The trainer evaluates after its last step, so last_eval is the final
  // held-out loss; the interval holds the steps since the last Progress.
  v1::WorkerMessage m;
  v1::Done* d = m.mutable_done();
  d->set_trial_id(spec_.trial_id());
  d->set_attempt(spec_.attempt());
  d->set_final_eval_loss(last_eval.value_or(0));
  d->set_final_train_loss(interval.Mean());
  d->set_trained_tokens(tokens_done_);
  d->set_steps(steps_done_);
  d->set_training_flops(options->model.TrainingFlopsPerToken() *
                        double(tokens_done_ - resume));
  d->set_elapsed_seconds(ElapsedSeconds());
  return m;
}

}  // namespace moesweep::worker::agent
