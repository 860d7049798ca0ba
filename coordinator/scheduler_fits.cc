// Scheduler: fits and proposals off the scheduler thread (issue 13). A task
// takes what a fit needs from the campaign (CampaignRun::TakeFitJob) and
// hands it to a fit thread; the outcome comes back as a task that publishes
// the law and answer and moves the campaign on. One FitJob per campaign is
// out at a time, and it takes one observation, so laws are fitted in the
// order trials finished, one version per observation, as before: the series
// a restart restores. While a campaign's fit is out it neither stops nor
// proposes (Advance), and its queued trials still go out; other campaigns,
// workers, leases and reads never wait for it.

#include <chrono>
#include <cstdio>

#include "coordinator/metrics.h"
#include "coordinator/records.h"
#include "coordinator/scheduler.h"

namespace moesweep::coordinator {

void Scheduler::StartFit(CampaignRun& run) {
  if (run.fit_in_flight() || !run.NeedsFit()) return;
  FitJob job = run.TakeFitJob();
  if (!started_) {
    ApplyFit(run, CampaignRun::RunFit(job));
    return;
  }
  const bool posted = executor_.Post([this, id = run.id(), job] {
    if (options_.on_fit_start) options_.on_fit_start(id);
    FitOutcome outcome = CampaignRun::RunFit(job);
    Post([this, id, outcome = std::move(outcome)] {
      mu_.AssertHeld();  // tasks run under mu_ (Loop)
      StatusOr<CampaignRun*> run = Find(id);
      if (run.ok()) ApplyFit(**run, outcome);
    });
  });
  if (!posted) run.FitAbandoned();  // stopping
}

void Scheduler::ApplyFit(CampaignRun& run, const FitOutcome& outcome) {
  Touch(run.id());
  if (metrics_ != nullptr) {
    if (outcome.observed) metrics_->ObserveFit("warm", outcome.warm_seconds);
    if (outcome.observed && !outcome.added.ok()) metrics_->FitFailed(run.id());
    if (outcome.law) {
      // The covariance and the answer of the new law version.
      metrics_->ObserveFit("uncertainty", outcome.uncertainty_seconds);
    }
  }
  CampaignRun::Refreshed r = run.ApplyFit(outcome, NowUnixMs());
  if (r.law) {
    outbox_.records.push_back(records::LawRecord(*r.law));
    v1::CampaignEvent e;
    *e.mutable_law_updated()->mutable_law() = *r.law;
    if (r.out_of_sample) {
      *e.mutable_law_updated()->mutable_out_of_sample() = *r.out_of_sample;
      if (metrics_ != nullptr) {
        metrics_->ObserveOutOfSampleError(run.id(),
                                          r.out_of_sample->log_error());
      }
    }
    Emit(run, std::move(e));
  }
  if (r.answer_changed) {
    v1::CampaignEvent e;
    *e.mutable_answer_updated()->mutable_answer() = run.campaign().answer();
    Emit(run, std::move(e));
  }
  if (run.NeedsFit()) {
    StartFit(run);
    if (run.fit_busy()) {
      SaveCampaign(run);
      return;
    }
  }
  Advance(run);
}

void Scheduler::StartPropose(CampaignRun& run, int n) {
  ProposeJob job = run.TakeProposeJob(n);
  if (!started_ || !job.heavy()) {
    const auto start = std::chrono::steady_clock::now();
    StatusOr<std::vector<fitter::Candidate>> batch =
        CampaignRun::RunPropose(job);
    ApplyPropose(
        run, job, batch,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
    return;
  }
  const bool posted = executor_.Post([this, id = run.id(), job] {
    if (options_.on_fit_start) options_.on_fit_start(id);
    const auto start = std::chrono::steady_clock::now();
    StatusOr<std::vector<fitter::Candidate>> batch =
        CampaignRun::RunPropose(job);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    Post([this, id, job, batch = std::move(batch), seconds] {
      mu_.AssertHeld();  // tasks run under mu_ (Loop)
      StatusOr<CampaignRun*> run = Find(id);
      if (run.ok()) ApplyPropose(**run, job, batch, seconds);
    });
  });
  if (!posted) run.ProposalDone();  // stopping
}

void Scheduler::ApplyPropose(
    CampaignRun& run, const ProposeJob& job,
    const StatusOr<std::vector<fitter::Candidate>>& batch, double seconds) {
  run.ProposalDone();
  if (metrics_ != nullptr) metrics_->ObserveProposal(seconds);
  run.Recount();
  const NextStep next = run.Next();
  if (static_cast<int>(run.trials().size()) != job.proposed_before ||
      next.final_state != v1::CAMPAIGN_STATE_UNSPECIFIED || next.propose <= 0) {
    // Overtaken (trials added, or the campaign stopped or paused meanwhile):
    // Advance decides again on what the campaign is now.
    Advance(run);
    return;
  }
  if (!batch.ok()) {
    std::fprintf(stderr, "coordinator: campaign %s: %s\n", run.id().c_str(),
                 batch.status().ToString().c_str());
  } else {
    StatusOr<std::vector<int32_t>> added =
        run.AddProposed(job, *batch, next.propose, NowUnixMs());
    if (!added.ok()) {
      std::fprintf(stderr, "coordinator: campaign %s: %s\n", run.id().c_str(),
                   added.status().ToString().c_str());
    } else {
      {
        absl::MutexLock lock(&stats_mu_);
        stats_.proposals += static_cast<int64_t>(added->size());
      }
      for (int32_t index : *added) {
        outbox_.new_trials.push_back(
            run.trials()[index].trial.spec().trial_id());
        SaveTrial(run, run.trials()[index]);
      }
    }
  }
  run.Recount();
  const v1::TrialCounts& c = run.campaign().trials();
  if (c.queued() + c.running() == 0) {
    SetState(run, v1::CAMPAIGN_STATE_FAILED,
             "the design space has no run within the per-run limits");
    return;
  }
  SaveCampaign(run);
  PublishMetrics(run);
}

}  // namespace moesweep::coordinator
