// Scheduler: rebuilding every campaign from the store after a restart, and
// exporting a campaign's gauges to the metrics.

#include <algorithm>

#include "coordinator/metrics.h"
#include "coordinator/records.h"
#include "coordinator/scheduler.h"
#include "coordinator/worker_input.h"

namespace moesweep::coordinator {
namespace {

// The last report of an attempt's stored curve, if it ended the attempt.
StatusOr<std::optional<v1::WorkerMessage>> StoredEnd(const Store& store,
                                                     const std::string& trial,
                                                     int32_t attempt) {
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<CurvePoint> curve,
                            store.ReadCurve(trial, attempt));
  if (curve.empty()) return std::optional<v1::WorkerMessage>();
  v1::WorkerMessage m;
  if (!m.ParseFromString(curve.back().payload)) {
    return DataLossError("store: report of " + trial + " does not parse");
  }
  if (m.kind_case() != v1::WorkerMessage::kDone &&
      m.kind_case() != v1::WorkerMessage::kFailed) {
    return std::optional<v1::WorkerMessage>();
  }
  return std::optional<v1::WorkerMessage>(std::move(m));
}

}  // namespace

Status Scheduler::Load() {
  absl::MutexLock lock(&mu_);
  holders_grace_until_ms_ = clock_->NowMs() + options_.reconnect_grace_ms;
  MOESWEEP_ASSIGN_OR_RETURN(
      std::vector<Record> found,
      store_->ScanRecords(RecordFamily::kCampaigns, records::kCampaignPrefix));
  for (const Record& r : found) {
    MOESWEEP_ASSIGN_OR_RETURN(
        v1::Campaign c, records::Decode<v1::Campaign>(r.value, "campaign"));
    const std::string id = c.campaign_id();
    Status loaded = LoadCampaign(c);
    ++next_campaign_;
    if (loaded.ok()) continue;
    // One campaign that cannot be rebuilt (a spec past today's limits, a
    // record that does not decode) must not keep the rest from being served:
    // it is FAILED with the reason, its records kept as they are.
    if (auto it = campaigns_.find(id); it != campaigns_.end()) {
      for (const TrialEntry& t : it->second->trials()) {
        leases_.Release(t.trial.spec().trial_id());
      }
      campaigns_.erase(it);
    }
    std::fprintf(stderr, "coordinator: campaign %s quarantined: %s\n",
                 id.c_str(), loaded.ToString().c_str());
    if (c.state() != v1::CAMPAIGN_STATE_FAILED) {
      c.set_state(v1::CAMPAIGN_STATE_FAILED);
      c.set_state_reason("quarantined at restart: " +
                         Prefix(loaded.message(), 512));
      c.set_updated_unix_ms(NowUnixMs());
      outbox_.records.push_back(records::CampaignRecord(c));
    }
    quarantined_.emplace(id, std::move(c));
  }
  for (const auto& [id, run] : campaigns_) Touch(id);
  for (const auto& [id, c] : quarantined_) Touch(id);
  {
    // No one watches yet: the logs start as the stored events, those the
    // rebuild emitted included.
    absl::MutexLock lock(&view_mu_);
    for (const auto& [id, run] : campaigns_) event_log_[id] = run->events();
  }
  outbox_.events.clear();
  return Flush();
}

Status Scheduler::LoadCampaign(v1::Campaign campaign) {
  const std::string id = campaign.campaign_id();
  StatusOr<std::unique_ptr<CampaignRun>> created =
      CampaignRun::Create(std::move(campaign));
  if (!created.ok()) {
    return DataLossError(
        "store: campaign " + id + ": stored spec no longer " +
        "validates: " + std::string(created.status().message()));
  }
  CampaignRun& run = **created;
  campaigns_.emplace(id, std::move(*created));
  MOESWEEP_ASSIGN_OR_RETURN(
      std::vector<Record> trials,
      store_->ScanRecords(RecordFamily::kCampaigns, records::TrialPrefix(id)));
  for (const Record& r : trials) {
    TrialEntry t;
    t.index = static_cast<int32_t>(run.trials().size());
    MOESWEEP_ASSIGN_OR_RETURN(t.trial,
                              records::Decode<v1::Trial>(r.value, "trial"));
    t.at = FromRunFeatures(t.trial.features());
    // The store's attempt counter is the truth: a requeue bumps it first.
    MOESWEEP_ASSIGN_OR_RETURN(
        int32_t attempt, store_->CurrentAttempt(t.trial.spec().trial_id()));
    t.trial.mutable_spec()->set_attempt(attempt);
    run.AddLoadedTrial(std::move(t));
  }
  MOESWEEP_ASSIGN_OR_RETURN(
      std::vector<Record> laws,
      store_->ScanRecords(RecordFamily::kLaws, records::LawPrefix(id)));
  for (const Record& r : laws) {
    MOESWEEP_ASSIGN_OR_RETURN(v1::LawEstimate law,
                              records::Decode<v1::LawEstimate>(r.value, "law"));
    run.AddLoadedLaw(std::move(law));
  }
  MOESWEEP_ASSIGN_OR_RETURN(
      std::vector<Record> events,
      store_->ScanRecords(RecordFamily::kEvents, records::EventPrefix(id)));
  for (const Record& r : events) {
    MOESWEEP_ASSIGN_OR_RETURN(
        v1::CampaignEvent e,
        records::Decode<v1::CampaignEvent>(r.value, "event"));
    run.events().push_back(std::move(e));
  }

  // Successes rejoin the fit in the order they finished, under the law
  // that was published last: a restart publishes nothing new. Validation
  // runs were never fitted.
  std::vector<const TrialEntry*> succeeded;
  for (const TrialEntry& t : run.trials()) {
    if (t.trial.state() == v1::TRIAL_STATE_SUCCEEDED &&
        !t.trial.has_validation()) {
      succeeded.push_back(&t);
    }
  }
  std::stable_sort(succeeded.begin(), succeeded.end(), [](auto* a, auto* b) {
    return a->trial.finished_unix_ms() < b->trial.finished_unix_ms();
  });
  MOESWEEP_RETURN_IF_ERROR(run.Restore(succeeded));
  for (TrialEntry& t : run.trials()) {
    const std::string& trial_id = t.trial.spec().trial_id();
    if (t.trial.state() == v1::TRIAL_STATE_QUEUED) {
      run.queue().push_back(t.index);
    } else if (t.trial.state() == v1::TRIAL_STATE_RUNNING) {
      // A Done or Failed made durable before the crash ends the attempt now;
      // otherwise the worker gets a grace period to reconnect.
      MOESWEEP_ASSIGN_OR_RETURN(
          std::optional<v1::WorkerMessage> end,
          StoredEnd(*store_, trial_id, t.trial.spec().attempt()));
      if (end) {
        ApplyEnd(run, t, *end);
      } else {
        leases_.Grant(id, trial_id, t.trial.spec().attempt(),
                      t.trial.worker_id(), options_.reconnect_grace_ms);
      }
    }
  }
  StartFit(run);  // runs here: the scheduler has not started
  if (run.campaign().state() == v1::CAMPAIGN_STATE_RUNNING ||
      run.campaign().state() == v1::CAMPAIGN_STATE_VALIDATING) {
    Advance(run);
  } else {
    run.Recount();
    PublishMetrics(run);
  }
  return OkStatus();
}

void Scheduler::PublishMetrics(CampaignRun& run) {
  if (metrics_ == nullptr) return;
  const v1::Campaign& c = run.campaign();
  if (IsFinalState(c.state())) {
    auto [it, added] = metrics_expiry_.try_emplace(
        run.id(), clock_->NowMs() + options_.metrics_retention_ms);
    if (it->second == kForgotten) return;
  } else {
    metrics_expiry_.erase(run.id());  // resumed or amended past its end
  }
  metrics_->SetCampaignState(run.id(), CampaignStateLabel(c.state()));
  const v1::TrialCounts& t = c.trials();
  metrics_->SetTrials(run.id(), "queued", t.queued());
  metrics_->SetTrials(run.id(), "running", t.running());
  metrics_->SetTrials(run.id(), "succeeded", t.succeeded());
  metrics_->SetTrials(run.id(), "failed", t.failed());
  metrics_->SetTrials(run.id(), "cancelled", t.cancelled());
  metrics_->SetFlops(run.id(), c.spent_flops(), c.budget_flops());
  for (const v1::Validation& v : run.Validations()) {
    if (v.has_observed_loss()) {
      metrics_->SetValidationLogError(run.id(), v.trial_id(), v.log_error());
    }
  }
  if (c.has_answer()) {
    metrics_->SetAnswer(
        run.id(), c.answer().value(), c.answer().interval().lower(),
        c.answer().interval().upper(), c.target_interval_width());
  }
  if (run.laws().empty()) return;
  const v1::LawEstimate& law = run.laws().back();
  metrics_->SetLawVersion(run.id(), static_cast<double>(law.version()));
  for (const v1::LawParameter& p : law.parameters()) {
    metrics_->SetLawParameter(run.id(), p.name(), p.value(),
                              p.interval().lower(), p.interval().upper());
    metrics_->SetLawParameterAtBound(run.id(), p.name(), p.at_bound());
  }
}

void Scheduler::ExpireCampaignMetrics() {
  if (metrics_ == nullptr) return;
  const int64_t now = clock_->NowMs();
  for (auto& [id, expiry] : metrics_expiry_) {
    if (expiry != kForgotten && now >= expiry) {
      metrics_->ForgetCampaign(id);
      expiry = kForgotten;
    }
  }
}

}  // namespace moesweep::coordinator
