// AgentImpl: the coordinator's messages (worker.proto) and the reports of the
// attempts they start. Everything here runs under the agent's lock and never
// blocks: runners start on their own threads and are joined by the control
// loop once they have exited.

#include <unistd.h>

#include <cstdio>
#include <thread>

#include "worker/agent/agent_impl.h"

#ifndef MOESWEEP_VERSION
#define MOESWEEP_VERSION "unknown"
#endif

namespace moesweep::worker::agent {
namespace {

std::string Describe(const v1::TrialSpec& spec) {
  const v1::ArchitectureSpec& a = spec.architecture();
  return "d_model " + std::to_string(a.d_model()) + ", " +
         std::to_string(a.num_layers()) + " layers, " +
         std::to_string(a.num_experts()) + " experts top-" +
         std::to_string(a.top_k()) + ", " +
         std::to_string(spec.train_tokens()) + " tokens";
}

std::string Outcome(const v1::WorkerMessage& report) {
  char text[160];
  if (report.has_done()) {
    const v1::Done& d = report.done();
    std::snprintf(text, sizeof(text),
                  "done: eval loss %.4f after %lld steps, %.1f s",
                  d.final_eval_loss(), static_cast<long long>(d.steps()),
                  d.elapsed_seconds());
    return text;
  }
  const v1::Failed& f = report.failed();
  return "failed (" + v1::FailureKind_Name(f.kind()) + "): " + f.message();
}

int64_t HostMemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? int64_t{pages} * size : 0;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

}  // namespace

v1::WorkerMessage AgentImpl::MakeHello() const {
  v1::WorkerMessage message;
  v1::Hello* hello = message.mutable_hello();
  hello->set_worker_id(worker_id_);
  hello->set_protocol_version(v1::PROTOCOL_VERSION_1);
  v1::WorkerCapabilities* caps = hello->mutable_capabilities();
  caps->set_backend(options_.backend == Backend::kCuda ? v1::BACKEND_CUDA
                                                       : v1::BACKEND_CPU);
  if (options_.backend == Backend::kCuda) {
    caps->set_gpu_count(options_.gpus);
    // What the coordinator compares an out-of-memory trial's need with.
    StatusOr<GpuInfo> gpus = QueryGpus(options_.gpus);
    if (gpus.ok()) {
      caps->set_gpu_model(gpus->model.substr(0, 128));
      caps->set_device_memory_bytes(gpus->memory_bytes);
    }
  }
  caps->set_host_memory_bytes(HostMemoryBytes());
  caps->set_cpu_threads(options_.threads > 0
                            ? options_.threads
                            : int(std::thread::hardware_concurrency()));
  caps->set_max_concurrent_trials(options_.max_concurrent_trials);
  for (const v1::Lease& lease : attempts_.HeldLeases()) {
    *hello->add_held_leases() = lease;
  }
  hello->set_software_version(MOESWEEP_VERSION);
  hello->set_hostname(HostName());
  return message;
}

void AgentImpl::OnStreamMessage(Connection* connection,
                                v1::CoordinatorMessage message) {
  absl::MutexLock lock(&mu_);
  if (connection != connection_.get()) return;
  inbox_.push_back(std::move(message));
}

void AgentImpl::OnStreamDone(Connection* connection, Status status) {
  absl::MutexLock lock(&mu_);
  if (connection != connection_.get()) return;
  stream_status_ = std::move(status);
}

void AgentImpl::OnReport(v1::WorkerMessage report) {
  std::shared_ptr<Connection> flush;
  {
    absl::MutexLock lock(&mu_);
    if (!attempts_.Number(&report)) return;
    ++stats_.reports_made;
    if (!report.has_progress()) {
      attempts_.Find(KeyOfReport(report))->outcome = Outcome(report);
    }
    if (live_) {
      connection_->Enqueue(std::move(report));
      flush = connection_;
    }
  }
  if (flush) flush->Flush();
}

void AgentImpl::OnRunnerExit(const AttemptKey&) {
  absl::MutexLock lock(&mu_);
  runner_exited_ = true;
}

void AgentImpl::Handle(const v1::CoordinatorMessage& m, Pass* pass) {
  switch (m.kind_case()) {
    case v1::CoordinatorMessage::kWelcome:
      OnWelcome(m.welcome(), pass);
      break;
    case v1::CoordinatorMessage::kAssign:
      OnAssign(m.assign(), pass);
      break;
    case v1::CoordinatorMessage::kAck:
      OnAck(m.ack());
      break;
    case v1::CoordinatorMessage::kRefuse: {
      const v1::Refuse& r = m.refuse();
      AttemptKey key{r.trial_id(), r.attempt()};
      AttemptTable::Attempt* a = attempts_.Find(key);
      if (a == nullptr || a->dropped) break;
      const bool retry_later =
          r.code() == static_cast<int32_t>(StatusCode::kUnavailable) ||
          r.code() == static_cast<int32_t>(StatusCode::kResourceExhausted);
      Event(AgentEvent::Kind::kRefused, key,
            "refused (code " + std::to_string(r.code()) + "): " + r.message() +
                (retry_later ? "; reconnecting to resend" : ""),
            r.seq());
      if (retry_later) {
        // The coordinator could not store it now (worker.proto, Refuse):
        // keep the attempt; the next stream resends what is unacknowledged.
        pass->cancel = connection_;
        break;
      }
      DropAttempt(key);
      break;
    }
    case v1::CoordinatorMessage::kCancel: {
      const v1::Cancel& c = m.cancel();
      AttemptKey key{c.trial_id(), c.attempt()};
      AttemptTable::Attempt* a = attempts_.Find(key);
      if (a == nullptr || a->dropped) break;  // another attempt: ignored
      Event(AgentEvent::Kind::kCancelled, key,
            "cancelled (" + v1::CancelReason_Name(c.reason()) +
                "): " + c.message());
      DropAttempt(key);
      break;
    }
    default:
      break;
  }
}

void AgentImpl::OnWelcome(const v1::Welcome& welcome, Pass* pass) {
  if (live_) return;  // only the first message of a stream is a Welcome
  if (!welcome.worker_id().empty()) worker_id_ = welcome.worker_id();
  heartbeat_interval_ms_ =
      std::max<int64_t>(welcome.heartbeat_interval_ms(), 100);
  AttemptTable::Resumption r = attempts_.Resume(welcome);
  for (const AttemptKey& key : r.voided) {
    auto runner = runners_.find(key);
    if (runner != runners_.end()) {
      runner->second->RequestStop(TrialRunner::StopMode::kSilent);
    }
    Event(AgentEvent::Kind::kVoided, key,
          "lease not re-granted after the reconnect: attempt dropped");
  }
  for (const AttemptKey& key : r.resumed) {
    Event(AgentEvent::Kind::kResumed, key, "lease resumed");
  }
  live_ = true;
  welcomed_stream_ = true;
  ever_welcomed_ = true;
  for (v1::WorkerMessage& report : r.resend) {
    Send(std::move(report), pass);
    ++stats_.reports_resent;
  }
  heartbeat_at_ = Now() + std::chrono::milliseconds(heartbeat_interval_ms_);
  ++stats_.welcomes;
  stats_.worker_id = worker_id_;
  Event(AgentEvent::Kind::kConnected, AttemptKey{},
        "connected to " + options_.coordinator + " as worker " + worker_id_);
}

void AgentImpl::OnAssign(const v1::Assign& assign, Pass* pass) {
  const v1::TrialSpec& spec = assign.spec();
  AttemptKey key{spec.trial_id(), spec.attempt()};
  if (!attempts_.Add(spec, assign.lease())) return;  // already held
  ++stats_.attempts_assigned;
  if (stopping_) {
    // Preempted before it starts: the coordinator requeues it at no cost.
    // Its Ack is not waited for: the coordinator may well assign the trial
    // straight back, and the stop must end.
    Event(AgentEvent::Kind::kAssigned, key,
          "assigned while stopping: reported preempted");
    v1::WorkerMessage report;
    v1::Failed* f = report.mutable_failed();
    f->set_trial_id(key.first);
    f->set_attempt(key.second);
    f->set_kind(v1::FAILURE_KIND_PREEMPTED);
    f->set_message("the worker is stopping");
    attempts_.Number(&report);
    ++stats_.reports_made;
    attempts_.Find(key)->outcome = Outcome(report);
    Send(std::move(report), pass);
    return;
  }
  Event(AgentEvent::Kind::kAssigned, key, "assigned: " + Describe(spec));
  RunnerOptions options{.data_root = options_.data_dir,
                        .threads = options_.threads,
                        .backend = options_.backend == Backend::kCuda
                                       ? TrainBackend::kCuda
                                       : TrainBackend::kCpu,
                        .gpus = options_.gpus,
                        .matmul = options_.matmul,
                        .checkpoint_dir = options_.checkpoint_dir,
                        .before_step = hooks_.before_step};
  runners_[key] = std::make_unique<TrialRunner>(spec, options, this);
}

void AgentImpl::OnAck(const v1::Ack& ack) {
  AttemptTable::Attempt* a = attempts_.Ack(ack);
  if (a == nullptr) return;
  Event(AgentEvent::Kind::kAcked, {ack.trial_id(), ack.attempt()}, "",
        ack.seq());
}

void AgentImpl::DropAttempt(const AttemptKey& key) {
  AttemptTable::Attempt* a = attempts_.Find(key);
  if (a == nullptr) return;
  attempts_.Drop(a);
  auto runner = runners_.find(key);
  if (runner != runners_.end()) {
    runner->second->RequestStop(TrialRunner::StopMode::kSilent);
  }
}

void AgentImpl::BeginStop(Time::time_point now) {
  stopping_ = true;
  stop_deadline_ = now + std::chrono::milliseconds(options_.stop_timeout_ms);
  for (const auto& [key, a] : attempts_.attempts()) {
    if (!a.Complete()) preempting_.insert(key);
  }
  for (auto& [key, runner] : runners_) {
    runner->RequestStop(TrialRunner::StopMode::kPreempt);
  }
}

void AgentImpl::Reap(Pass* pass) {
  std::vector<AttemptKey> done;
  for (const auto& [key, a] : attempts_.attempts()) {
    if (!a.Complete()) continue;
    auto runner = runners_.find(key);
    if (runner != runners_.end()) {
      if (!runner->second->exited()) continue;
      pass->reaped.push_back(std::move(runner->second));
      runners_.erase(runner);
    }
    if (!a.dropped) {
      Event(AgentEvent::Kind::kFinished, key, a.outcome, a.last_seq,
            a.succeeded);
    }
    done.push_back(key);
  }
  for (const AttemptKey& key : done) attempts_.Erase(key);
}

bool AgentImpl::Send(v1::WorkerMessage message, Pass* pass) {
  if (!live_) return false;
  connection_->Enqueue(std::move(message));
  pass->flush = connection_;
  return true;
}

void AgentImpl::Event(AgentEvent::Kind kind, const AttemptKey& key,
                      std::string message, int64_t seq, bool succeeded) {
  if (!options_.on_event) return;
  events_.push_back(AgentEvent{.kind = kind,
                               .trial_id = key.first,
                               .attempt = key.second,
                               .seq = seq,
                               .succeeded = succeeded,
                               .message = std::move(message)});
}

}  // namespace moesweep::worker::agent
