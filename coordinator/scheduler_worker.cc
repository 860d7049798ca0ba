// Scheduler: workers connecting and leaving, reports that end attempts,
// lease expiry, and assigning queued trials to free worker slots.

#include <algorithm>
#include <chrono>

#include "coordinator/metrics.h"
#include "coordinator/records.h"
#include "coordinator/scheduler.h"
#include "coordinator/watch_stream.h"
#include "coordinator/worker_stream.h"

namespace moesweep::coordinator {
namespace {

// The campaign of a trial id ("<campaign>-t<index>", records.h).
std::string CampaignOf(const std::string& trial_id) {
  const size_t at = trial_id.rfind("-t");
  return at == std::string::npos ? std::string() : trial_id.substr(0, at);
}

}  // namespace

void Scheduler::WorkerHello(WorkerStream* stream, v1::Hello hello) {
  Post([this, stream, hello = std::move(hello)] {
    mu_.AssertHeld();  // tasks run under mu_ (Loop)
    HandleHello(stream, hello);
  });
}

void Scheduler::WorkerGone(WorkerStream* stream) {
  Post([this, stream] {
    mu_.AssertHeld();
    HandleGone(stream);
  });
}

void Scheduler::StaleReportRefused(const std::string& trial_id) {
  {
    absl::MutexLock lock(&stats_mu_);
    ++stale_refused_;
  }
  if (metrics_ != nullptr) metrics_->StaleReportRefused(CampaignOf(trial_id));
}

void Scheduler::ReportStored(const std::string& worker_id,
                             const v1::WorkerMessage& m) {
  if (m.kind_case() == v1::WorkerMessage::kProgress) {
    if (metrics_ != nullptr) {
      const v1::Progress& p = m.progress();
      metrics_->SetWorkerProgress(worker_id, p.tokens_per_second(),
                                  p.train_loss(),
                                  static_cast<double>(p.peak_memory_bytes()));
    }
    // Live only (campaign_state.proto): straight to the watchers, if any
    // asked for progress.
    if (progress_watchers_.load(std::memory_order_relaxed) == 0) return;
    const v1::Progress& p = m.progress();
    v1::CampaignEvent e;
    e.set_time_unix_ms(NowUnixMs());
    e.set_campaign_id(CampaignOf(p.trial_id()));
    v1::TrialProgress* tp = e.mutable_trial_progress();
    tp->set_trial_id(p.trial_id());
    v1::LossPoint* point = tp->mutable_point();
    point->set_attempt(p.attempt());
    point->set_step(p.step());
    point->set_trained_tokens(p.trained_tokens());
    point->set_train_loss(p.train_loss());
    if (p.has_eval_loss()) point->set_eval_loss(p.eval_loss());
    point->set_learning_rate(p.learning_rate());
    point->set_elapsed_seconds(p.elapsed_seconds());
    tp->set_tokens_per_second(p.tokens_per_second());
    Publish({e});
    return;
  }
  Post([this, worker_id, m] {
    mu_.AssertHeld();
    HandleReport(worker_id, m);
  });
}

void Scheduler::HandleHello(WorkerStream* stream, const v1::Hello& hello) {
  const std::string& id = hello.worker_id();
  auto it = workers_.find(id);
  if (it != workers_.end() && it->second.stream != stream) {
    it->second.stream->End(
        AbortedError("replaced by a newer stream of worker " + id));
  }
  Worker& w = workers_[id];
  w.stream = stream;
  w.draining = false;
  w.slots = std::max(1, hello.capabilities().max_concurrent_trials());
  const v1::WorkerCapabilities& caps = hello.capabilities();
  w.memory_bytes = caps.backend() == v1::BACKEND_CUDA
                       ? caps.device_memory_bytes()
                       : caps.host_memory_bytes();

  v1::CoordinatorMessage reply;
  v1::Welcome* welcome = reply.mutable_welcome();
  welcome->set_worker_id(id);
  welcome->set_protocol_version(v1::PROTOCOL_VERSION_1);
  welcome->set_heartbeat_interval_ms(options_.heartbeat_interval_ms);
  const int64_t now = NowUnixMs();
  welcome->set_coordinator_time_unix_ms(now);
  std::set<std::string> resumed;
  for (const v1::Lease& held : hello.held_leases()) {
    std::optional<LeaseEntry> e = leases_.Get(held.trial_id());
    if (!e || e->worker_id != id || e->lease.attempt() != held.attempt()) {
      continue;  // void: not listed in Welcome
    }
    leases_.Renew(held.trial_id(), held.attempt(), id);
    v1::ResumedLease* r = welcome->add_resumed_leases();
    *r->mutable_lease() = leases_.Get(held.trial_id())->lease;
    StatusOr<int64_t> acked =
        store_->DurableSeq(held.trial_id(), held.attempt());
    r->set_acked_seq(acked.ok() ? *acked : 0);
    resumed.insert(held.trial_id());
  }
  stream->Send(std::move(reply));
  // Leases this worker holds but did not list never reached it (an Assign
  // lost with the old stream): requeue them, at no charge.
  for (const LeaseEntry& e : leases_.HeldBy(id)) {
    if (resumed.contains(e.lease.trial_id())) continue;
    leases_.Release(e.lease.trial_id());
    StatusOr<CampaignRun*> run = Find(e.campaign_id);
    if (!run.ok()) continue;
    TrialEntry* t = (*run)->Find(e.lease.trial_id());
    if (t != nullptr && t->trial.state() == v1::TRIAL_STATE_RUNNING) {
      Requeue(**run, *t, /*charge=*/false, "the worker reconnected without it",
              v1::FAILURE_KIND_UNSPECIFIED);
      Advance(**run);
    }
  }
  workers_connected_.store(static_cast<int64_t>(workers_.size()),
                           std::memory_order_relaxed);
  if (metrics_ != nullptr) {
    metrics_->SetWorkersConnected(workers_.size());
    // Its series shows at once; the loop refreshes it once a second.
    metrics_->SetWorkerSilence(id, 0);
  }
}

void Scheduler::HandleGone(WorkerStream* stream) {
  for (auto it = workers_.begin(); it != workers_.end(); ++it) {
    if (it->second.stream == stream) {
      if (metrics_ != nullptr) metrics_->ForgetWorker(it->first);
      workers_.erase(it);
      break;
    }
  }
  gone_.insert(stream);
  workers_connected_.store(static_cast<int64_t>(workers_.size()),
                           std::memory_order_relaxed);
  if (metrics_ != nullptr) metrics_->SetWorkersConnected(workers_.size());
}

void Scheduler::HandleReport(const std::string& worker_id,
                             const v1::WorkerMessage& m) {
  const std::string& trial_id = m.kind_case() == v1::WorkerMessage::kDone
                                    ? m.done().trial_id()
                                    : m.failed().trial_id();
  const int32_t attempt = m.kind_case() == v1::WorkerMessage::kDone
                              ? m.done().attempt()
                              : m.failed().attempt();
  StatusOr<CampaignRun*> run = Find(CampaignOf(trial_id));
  if (!run.ok()) return;
  TrialEntry* t = (*run)->Find(trial_id);
  // A resend of an end already applied, or an attempt since replaced.
  // A report of another worker never gets here (the stream admits only the
  // lease holder's); the check keeps this task honest on its own.
  if (t == nullptr || t->trial.state() != v1::TRIAL_STATE_RUNNING ||
      t->trial.spec().attempt() != attempt ||
      t->trial.worker_id() != worker_id) {
    return;
  }
  leases_.Release(trial_id);
  if (m.kind_case() == v1::WorkerMessage::kFailed &&
      m.failed().kind() == v1::FAILURE_KIND_PREEMPTED) {
    auto w = workers_.find(worker_id);
    if (w != workers_.end()) w->second.draining = true;
  }
  ApplyEnd(**run, *t, m);
  StartFit(**run);  // the law moves off this thread; Advance waits for it
  Advance(**run);
}

void Scheduler::ApplyEnd(CampaignRun& run, TrialEntry& t,
                         const v1::WorkerMessage& m) {
  v1::Trial& trial = t.trial;
  v1::CampaignEvent e;
  v1::TrialFinished* f = e.mutable_trial_finished();
  f->set_trial_id(trial.spec().trial_id());
  f->set_attempt(trial.spec().attempt());
  if (m.kind_case() == v1::WorkerMessage::kDone) {
    const v1::Done& d = m.done();
    // One cost model for the whole budget: the law family's, which also
    // priced the run when it was proposed and prices those in flight. The
    // worker's own figure (Done.training_flops, the trainer's FLOPs with
    // attention) is not charged: a report cannot move the budget.
    const double flops = t.planned_flops;
    trial.set_training_flops(trial.training_flops() + flops);
    trial.set_elapsed_seconds(trial.elapsed_seconds() + d.elapsed_seconds());
    trial.set_trained_tokens(d.trained_tokens());
    trial.set_finished_unix_ms(NowUnixMs());
    Status observed = OkStatus();
    if (trial.has_validation()) {
      // Kept out of the fit: compared with the law's prediction instead.
      observed = run.RecordValidation(t, d.final_eval_loss(), NowUnixMs());
    } else {
      observed = run.Observe(t, d.final_eval_loss());  // fitted by a FitJob
    }
    if (observed.ok()) {
      trial.set_state(v1::TRIAL_STATE_SUCCEEDED);
      trial.set_final_eval_loss(d.final_eval_loss());
      f->set_final_eval_loss(d.final_eval_loss());
    } else {
      trial.set_state(v1::TRIAL_STATE_FAILED);
      trial.set_last_failure_kind(v1::FAILURE_KIND_ERROR);
      trial.set_last_failure_message(std::string(observed.message()));
      f->set_message(std::string(observed.message()));
    }
    f->set_state(trial.state());
    f->set_training_flops(flops);
    SaveTrial(run, t);
    Emit(run, std::move(e));
    if (observed.ok() && trial.has_validation()) {
      PublishValidation(run, trial.validation());
    }
    return;
  }
  const v1::Failed& fail = m.failed();
  // The share of what the attempt adds that it trained: a branch starts at
  // its checkpoint, so the tokens before it are not its own.
  const int64_t from = trial.spec().resume_from_tokens();
  const int64_t adds = trial.spec().train_tokens() - from;
  const double share =
      adds > 0 ? std::clamp(static_cast<double>(fail.trained_tokens() - from) /
                                static_cast<double>(adds),
                            0.0, 1.0)
               : 0;
  trial.set_training_flops(trial.training_flops() + share * t.planned_flops);
  trial.set_elapsed_seconds(trial.elapsed_seconds() + fail.elapsed_seconds());
  trial.set_trained_tokens(fail.trained_tokens());
  trial.set_last_failure_kind(fail.kind());
  trial.set_last_failure_message(fail.message());
  switch (fail.kind()) {
    case v1::FAILURE_KIND_PREEMPTED:
      Requeue(run, t, /*charge=*/false, "preempted: " + fail.message(),
              fail.kind());
      return;
    case v1::FAILURE_KIND_CHECKPOINT_MISSING:
      if (trial.spec().resume_from_tokens() > 0) {
        // The lineage's checkpoint is gone (its worker left, its disk was
        // wiped): train the same spec from scratch, paying for all of it.
        Requeue(
            run, t, /*charge=*/false,
            "checkpoint missing, re-planned as a fresh run: " + fail.message(),
            fail.kind(), /*fresh=*/true);
        return;
      }
      break;  // a fresh run needs no checkpoint: the worker erred
    case v1::FAILURE_KIND_OUT_OF_MEMORY: {
      // Retried only where it may fit: on a worker with more memory than
      // this one, and at least what this one measured it needs.
      auto w = workers_.find(trial.worker_id());
      const int64_t had = w == workers_.end() ? 0 : w->second.memory_bytes;
      const int64_t need = std::max({trial.min_memory_bytes(), had + 1,
                                     fail.needed_memory_bytes(), int64_t{1}});
      trial.set_min_memory_bytes(need);
      if (!AnyWorkerHasMemory(need)) {
        trial.set_charged_failures(options_.max_attempts - 1);
        trial.set_last_failure_message(
            fail.message() + " (no connected worker has " +
            std::to_string(need) + " bytes of memory)");
        Requeue(run, t, /*charge=*/true, trial.last_failure_message(),
                fail.kind());
        return;
      }
      break;
    }
    case v1::FAILURE_KIND_DIVERGED:
      // Deterministic for the spec: a retry would fail the same way.
      trial.set_charged_failures(options_.max_attempts - 1);
      break;
    default:
      break;
  }
  Requeue(run, t, /*charge=*/true, fail.message(), fail.kind());
}

bool Scheduler::AnyWorkerHasMemory(int64_t bytes) const {
  for (const auto& [id, worker] : workers_) {
    if (!worker.draining && worker.memory_bytes >= bytes) return true;
  }
  return false;
}

void Scheduler::Requeue(CampaignRun& run, TrialEntry& t, bool charge,
                        const std::string& why, v1::FailureKind kind,
                        bool fresh) {
  v1::Trial& trial = t.trial;
  v1::CampaignEvent e;
  v1::TrialFinished* f = e.mutable_trial_finished();
  f->set_trial_id(trial.spec().trial_id());
  f->set_attempt(trial.spec().attempt());
  f->set_failure_kind(kind);
  f->set_message(why);
  const int charged = trial.charged_failures() + (charge ? 1 : 0);
  if (charge && charged >= options_.max_attempts) {
    trial.set_charged_failures(charged);
    trial.set_state(v1::TRIAL_STATE_FAILED);
    trial.set_finished_unix_ms(NowUnixMs());
  } else {
    // Fence the attempt before anyone else may train the trial.
    StatusOr<int32_t> next = store_->BumpAttempt(trial.spec().trial_id());
    if (!next.ok()) {
      // The failed synced write broke the store: the server is NOT_SERVING
      // and its owner exits (crash-only). Memory is left exactly as on disk
      // (the trial RUNNING on its old attempt, nothing charged), so nothing
      // runs ahead of the store; the restart requeues the trial.
      std::fprintf(stderr, "coordinator: %s\n",
                   next.status().ToString().c_str());
      return;
    }
    trial.set_charged_failures(charged);
    trial.mutable_spec()->set_attempt(*next);
    if (fresh) run.ReplanFresh(t);
    trial.set_state(v1::TRIAL_STATE_QUEUED);
    trial.clear_worker_id();
    run.queue().push_front(t.index);
  }
  f->set_state(trial.state());
  SaveTrial(run, t);
  Emit(run, std::move(e));
}

void Scheduler::ExpireLeases() {
  for (const LeaseEntry& e : leases_.TakeExpired()) {
    StatusOr<CampaignRun*> run = Find(e.campaign_id);
    if (!run.ok()) continue;
    TrialEntry* t = (*run)->Find(e.lease.trial_id());
    if (t == nullptr || t->trial.state() != v1::TRIAL_STATE_RUNNING ||
        t->trial.spec().attempt() != e.lease.attempt()) {
      continue;
    }
    v1::CoordinatorMessage cancel;
    cancel.mutable_cancel()->set_trial_id(e.lease.trial_id());
    cancel.mutable_cancel()->set_attempt(e.lease.attempt());
    cancel.mutable_cancel()->set_reason(v1::CANCEL_REASON_LEASE_EXPIRED);
    cancel.mutable_cancel()->set_message("no renewal before the deadline");
    SendTo(e.worker_id, std::move(cancel));
    {
      absl::MutexLock lock(&stats_mu_);
      ++stats_.lease_expiries;
    }
    if (metrics_ != nullptr) metrics_->LeaseExpired(e.campaign_id);
    Requeue(**run, *t, /*charge=*/true, "lease expired",
            v1::FAILURE_KIND_UNSPECIFIED);
    Advance(**run);
  }
}

void Scheduler::PublishWorkerSilence() {
  if (metrics_ == nullptr) return;
  const int64_t now = clock_->NowMs();
  for (const auto& [id, worker] : workers_) {
    const int64_t silent_ms =
        std::max<int64_t>(0, now - worker.stream->last_heard_ms());
    metrics_->SetWorkerSilence(id, silent_ms / 1000.0);
  }
}

void Scheduler::Dispatch() {
  for (auto& [worker_id, worker] : workers_) {
    if (worker.draining) continue;
    int free =
        worker.slots - static_cast<int>(leases_.HeldBy(worker_id).size());
    for (auto it = campaigns_.begin(); free > 0 && it != campaigns_.end();) {
      CampaignRun& run = *it->second;
      const v1::CampaignState state = run.campaign().state();
      if ((state != v1::CAMPAIGN_STATE_RUNNING &&
           state != v1::CAMPAIGN_STATE_VALIDATING) ||
          run.queue().empty()) {
        ++it;
        continue;
      }
      // A branch goes to the worker holding its lineage's checkpoint while
      // that worker serves, or may still reconnect after a restart; anyone
      // may take it once it is gone (and, missing the checkpoint, report it
      // so the trial is re-planned fresh).
      std::deque<int32_t>& queue = run.queue();
      const bool in_grace = clock_->NowMs() < holders_grace_until_ms_;
      auto pick = queue.begin();
      for (; pick != queue.end(); ++pick) {
        // A trial that ran out of memory waits for a worker big enough.
        if (run.trials()[*pick].trial.min_memory_bytes() >
            worker.memory_bytes) {
          continue;
        }
        const std::string holder = run.CheckpointHolder(run.trials()[*pick]);
        if (holder.empty() || holder == worker_id) break;
        auto w = workers_.find(holder);
        if (w == workers_.end() ? !in_grace : w->second.draining) break;
      }
      if (pick == queue.end()) {
        ++it;
        continue;
      }
      TrialEntry& t = run.trials()[*pick];
      queue.erase(pick);
      if (t.trial.state() != v1::TRIAL_STATE_QUEUED) continue;
      v1::CoordinatorMessage m;
      v1::Assign* assign = m.mutable_assign();
      *assign->mutable_lease() = leases_.Grant(
          run.id(), t.trial.spec().trial_id(), t.trial.spec().attempt(),
          worker_id, options_.lease_ttl_ms);
      *assign->mutable_spec() = t.trial.spec();
      t.trial.set_state(v1::TRIAL_STATE_RUNNING);
      t.trial.set_worker_id(worker_id);
      SaveTrial(run, t);
      SendTo(worker_id, std::move(m));
      v1::CampaignEvent e;
      v1::TrialStarted* started = e.mutable_trial_started();
      started->set_trial_id(t.trial.spec().trial_id());
      started->set_attempt(t.trial.spec().attempt());
      started->set_worker_id(worker_id);
      *started->mutable_features() = t.trial.features();
      Emit(run, std::move(e));
      run.Recount();
      SaveCampaign(run);
      PublishMetrics(run);
      --free;
    }
  }
}

void Scheduler::SendTo(const std::string& worker_id, v1::CoordinatorMessage m) {
  outbox_.messages.emplace_back(worker_id, std::move(m));
}

}  // namespace moesweep::coordinator
