// Scheduler: creating and steering campaigns, and the decisions after every
// change (propose, stop).

#include <chrono>
#include <cmath>

#include "coordinator/metrics.h"
#include "coordinator/records.h"
#include "coordinator/scheduler.h"
#include "coordinator/worker_stream.h"

namespace moesweep::coordinator {
namespace {

// A campaign's budget: far beyond any compute on Earth, and finite, so that
// spent/budget ratios and the stopping rule stay meaningful.
constexpr double kMaxBudgetFlops = 1e35;

}  // namespace

void Scheduler::Create(
    v1::CreateCampaignRequest request,
    std::function<void(StatusOr<v1::CreateCampaignResponse>)> done) {
  Post([this, request = std::move(request), done = std::move(done)] {
    mu_.AssertHeld();  // tasks run under mu_ (Loop)
    StatusOr<v1::CreateCampaignResponse> r = DoCreate(request);
    Status flushed = Flush();
    if (r.ok() && !flushed.ok()) r = flushed;
    done(std::move(r));
  });
}

StatusOr<v1::CreateCampaignResponse> Scheduler::DoCreate(
    const v1::CreateCampaignRequest& request) {
  if (request.request_id().size() > 256) {
    return InvalidArgumentError("request_id: longer than 256 bytes");
  }
  if (!request.request_id().empty()) {
    MOESWEEP_ASSIGN_OR_RETURN(
        std::vector<Record> found,
        store_->ScanRecords(RecordFamily::kCampaigns,
                            records::RequestKey(request.request_id())));
    for (const Record& r : found) {
      if (r.key != records::RequestKey(request.request_id())) continue;
      MOESWEEP_ASSIGN_OR_RETURN(records::RequestEntry entry,
                                records::DecodeRequest(r.value));
      if (entry.spec_yaml != request.spec_yaml()) {
        return AlreadyExistsError("request_id '" + request.request_id() +
                                  "' was used with another spec");
      }
      MOESWEEP_ASSIGN_OR_RETURN(CampaignRun * run, Find(entry.campaign_id));
      v1::CreateCampaignResponse out;
      *out.mutable_campaign() = run->campaign();
      out.set_replayed(true);
      return out;
    }
  }
  const int64_t now = NowUnixMs();
  v1::Campaign c;
  c.set_campaign_id(
      request.validate_only() ? "" : records::CampaignId(next_campaign_));
  c.set_state(v1::CAMPAIGN_STATE_RUNNING);
  c.set_spec_yaml(request.spec_yaml());
  c.set_created_unix_ms(now);
  c.set_updated_unix_ms(now);
  MOESWEEP_ASSIGN_OR_RETURN(std::unique_ptr<CampaignRun> run,
                            CampaignRun::Create(c));
  const campaign::CampaignSpec& spec = run->spec();
  if (!spec.name.empty()) {
    for (const auto& [id, other] : campaigns_) {
      if (other->campaign().name() == spec.name) {
        return AlreadyExistsError("name: campaign '" + id +
                                  "' is already named '" + spec.name + "'");
      }
    }
  }
  v1::Campaign& campaign = run->campaign();
  // The normalized spec is what is kept (and shown): comments, anchors and
  // formatting of the text sent are not, and it reads back as the same spec.
  campaign.set_spec_yaml(campaign::CampaignSpecToYaml(spec));
  campaign.set_name(spec.name);
  campaign.set_budget_flops(spec.budget.flops);
  campaign.set_target_interval_width(spec.target_relative_width);
  v1::CreateCampaignResponse out;
  if (request.validate_only()) {
    *out.mutable_campaign() = campaign;
    return out;
  }
  ++next_campaign_;
  CampaignRun& r = *run;
  campaigns_.emplace(campaign.campaign_id(), std::move(run));
  if (!request.request_id().empty()) {
    outbox_.records.push_back(records::RequestRecord(
        request.request_id(), r.id(), request.spec_yaml()));
  }
  v1::CampaignEvent e;
  e.mutable_state_changed()->set_state(v1::CAMPAIGN_STATE_RUNNING);
  e.mutable_state_changed()->set_reason("created");
  Emit(r, std::move(e));
  Advance(r);
  *out.mutable_campaign() = r.campaign();
  return out;
}

void Scheduler::Cancel(v1::CancelCampaignRequest request, CampaignDone done) {
  Post([this, request = std::move(request), done = std::move(done)] {
    mu_.AssertHeld();  // tasks run under mu_ (Loop)
    StatusOr<CampaignRun*> run = Find(request.campaign_id());
    if (!run.ok()) return done(run.status());
    CampaignRun& r = **run;
    if (request.reason().size() > 1024) {
      return done(InvalidArgumentError(
          "reason: " + std::to_string(request.reason().size()) +
          " bytes, above the limit of 1024"));
    }
    if (IsFinalState(r.campaign().state())) {
      return done(FailedPreconditionError(
          "campaign '" + r.id() + "' already ended (" +
          v1::CampaignState_Name(r.campaign().state()) + ")"));
    }
    CancelTrials(r, /*running=*/true, v1::CANCEL_REASON_CAMPAIGN_CANCELLED,
                 v1::TRIAL_STATE_CANCELLED);
    SetState(r, v1::CAMPAIGN_STATE_CANCELLED,
             request.reason().empty() ? "cancelled by a user"
                                      : "cancelled: " + request.reason());
    Status flushed = Flush();
    if (!flushed.ok()) return done(flushed);
    done(r.campaign());
  });
}

void Scheduler::Pause(v1::PauseCampaignRequest request, CampaignDone done) {
  Post([this, request = std::move(request), done = std::move(done)] {
    mu_.AssertHeld();  // tasks run under mu_ (Loop)
    StatusOr<CampaignRun*> run = Find(request.campaign_id());
    if (!run.ok()) return done(run.status());
    CampaignRun& r = **run;
    if (r.campaign().state() != v1::CAMPAIGN_STATE_RUNNING) {
      return done(
          FailedPreconditionError("campaign '" + r.id() + "' is not RUNNING"));
    }
    if (request.stop_running()) {
      // Running trials stop and wait in the queue for Resume.
      CancelTrials(r, /*running=*/true, v1::CANCEL_REASON_CAMPAIGN_PAUSED,
                   v1::TRIAL_STATE_QUEUED);
    }
    SetState(r, v1::CAMPAIGN_STATE_PAUSED, "paused by a user");
    Status flushed = Flush();
    if (!flushed.ok()) return done(flushed);
    done(r.campaign());
  });
}

void Scheduler::Resume(v1::ResumeCampaignRequest request, CampaignDone done) {
  Post([this, request = std::move(request), done = std::move(done)] {
    mu_.AssertHeld();  // tasks run under mu_ (Loop)
    StatusOr<CampaignRun*> run = Find(request.campaign_id());
    if (!run.ok()) return done(run.status());
    CampaignRun& r = **run;
    if (r.campaign().state() != v1::CAMPAIGN_STATE_PAUSED) {
      return done(
          FailedPreconditionError("campaign '" + r.id() + "' is not PAUSED"));
    }
    SetState(r, v1::CAMPAIGN_STATE_RUNNING, "resumed by a user");
    Advance(r);
    Status flushed = Flush();
    if (!flushed.ok()) return done(flushed);
    done(r.campaign());
  });
}

void Scheduler::Amend(v1::AmendCampaignRequest request, CampaignDone done) {
  Post([this, request = std::move(request), done = std::move(done)] {
    mu_.AssertHeld();  // tasks run under mu_ (Loop)
    StatusOr<CampaignRun*> run = Find(request.campaign_id());
    if (!run.ok()) return done(run.status());
    CampaignRun& r = **run;
    v1::Campaign& c = r.campaign();
    if (!request.has_budget_flops() && !request.has_target_interval_width()) {
      return done(InvalidArgumentError(
          "set budget_flops or target_interval_width (or both)"));
    }
    // A VALIDATING campaign has stopped; amend it once its validation runs
    // have ended.
    if (c.state() == v1::CAMPAIGN_STATE_CANCELLED ||
        c.state() == v1::CAMPAIGN_STATE_FAILED ||
        c.state() == v1::CAMPAIGN_STATE_VALIDATING) {
      return done(FailedPreconditionError("campaign '" + r.id() + "' is " +
                                          v1::CampaignState_Name(c.state())));
    }
    if (request.has_budget_flops() &&
        !(request.budget_flops() >= c.budget_flops() &&
          request.budget_flops() <= kMaxBudgetFlops)) {
      char buf[128];
      std::snprintf(buf, sizeof(buf),
                    "budget_flops: must be finite, not below the current %g "
                    "and <= %g",
                    c.budget_flops(), kMaxBudgetFlops);
      return done(InvalidArgumentError(buf));
    }
    if (request.has_target_interval_width() &&
        !(request.target_interval_width() > 0 &&
          request.target_interval_width() <= c.target_interval_width())) {
      return done(InvalidArgumentError(
          "target_interval_width: must be > 0 and not above the current " +
          std::to_string(c.target_interval_width())));
    }
    if (request.has_budget_flops()) c.set_budget_flops(request.budget_flops());
    if (request.has_target_interval_width()) {
      c.set_target_interval_width(request.target_interval_width());
      if (c.has_answer()) {
        const v1::Answer& a = c.answer();
        const double width = fitter::RelativeWidth(
            {a.value(), a.interval().lower(), a.interval().upper()});
        c.mutable_answer()->set_target_met(a.target_met() &&
                                           width < c.target_interval_width());
      }
    }
    if (c.state() == v1::CAMPAIGN_STATE_SUCCEEDED ||
        c.state() == v1::CAMPAIGN_STATE_BUDGET_EXHAUSTED) {
      SetState(r, v1::CAMPAIGN_STATE_RUNNING, "amended");
    }
    Advance(r);
    Status flushed = Flush();
    if (!flushed.ok()) return done(flushed);
    done(r.campaign());
  });
}

void Scheduler::Advance(CampaignRun& run) {
  run.Recount();
  if (AdvanceValidation(run)) return;
  if (run.fit_busy()) {
    // The law is about to move: stopping and proposing wait for it (ApplyFit
    // Advances again), while the queued trials still go out.
    SaveCampaign(run);
    PublishMetrics(run);
    return;
  }
  NextStep next = run.Next();
  if (next.final_state != v1::CAMPAIGN_STATE_UNSPECIFIED) {
    CancelTrials(run, /*running=*/true, v1::CANCEL_REASON_CAMPAIGN_FINISHED,
                 v1::TRIAL_STATE_CANCELLED);
    if (StartValidation(run, next)) return;
    SetState(run, next.final_state, next.reason);
    return;
  }
  if (next.propose > 0 && !run.proposal_in_flight()) {
    StartPropose(run, next.propose);  // saves the campaign when it is done
    if (!run.proposal_in_flight()) return;
  }
  SaveCampaign(run);
  PublishMetrics(run);
}

void Scheduler::SetState(CampaignRun& run, v1::CampaignState state,
                         const std::string& reason) {
  run.campaign().set_state(state);
  run.campaign().set_state_reason(reason);
  run.Recount();
  SaveCampaign(run);
  PublishMetrics(run);
  v1::CampaignEvent e;
  e.mutable_state_changed()->set_state(state);
  e.mutable_state_changed()->set_reason(reason);
  Emit(run, std::move(e));
}

void Scheduler::CancelTrials(CampaignRun& run, bool running,
                             v1::CancelReason reason, v1::TrialState to) {
  std::deque<int32_t> keep;
  for (TrialEntry& t : run.trials()) {
    const v1::TrialState s = t.trial.state();
    const bool is_running = s == v1::TRIAL_STATE_RUNNING;
    if (s != v1::TRIAL_STATE_QUEUED && !(running && is_running)) continue;
    if (s == v1::TRIAL_STATE_QUEUED && to == v1::TRIAL_STATE_QUEUED) {
      keep.push_back(t.index);
      continue;
    }
    if (is_running) {
      const std::string& id = t.trial.spec().trial_id();
      if (std::optional<LeaseEntry> lease = leases_.Get(id)) {
        v1::CoordinatorMessage m;
        m.mutable_cancel()->set_trial_id(id);
        m.mutable_cancel()->set_attempt(t.trial.spec().attempt());
        m.mutable_cancel()->set_reason(reason);
        SendTo(lease->worker_id, std::move(m));
        leases_.Release(id);
      }
      // Fence the attempt: its late reports are refused, not stored.
      StatusOr<int32_t> next = store_->BumpAttempt(id);
      if (next.ok()) t.trial.mutable_spec()->set_attempt(*next);
    }
    t.trial.set_state(to);
    if (to == v1::TRIAL_STATE_QUEUED) {
      t.trial.clear_worker_id();
      keep.push_back(t.index);
    } else {
      t.trial.set_finished_unix_ms(NowUnixMs());
    }
    SaveTrial(run, t);
  }
  run.queue() = std::move(keep);
  run.Recount();
}

void Scheduler::Emit(CampaignRun& run, v1::CampaignEvent event) {
  Touch(run.id());
  event.set_event_seq(run.next_event_seq());
  event.set_time_unix_ms(NowUnixMs());
  event.set_campaign_id(run.id());
  outbox_.records.push_back(records::EventRecord(event));
  outbox_.events.push_back(event);
  run.events().push_back(std::move(event));
}

void Scheduler::SaveCampaign(CampaignRun& run) {
  Touch(run.id());
  run.campaign().set_updated_unix_ms(NowUnixMs());
  outbox_.records.push_back(records::CampaignRecord(run.campaign()));
}

void Scheduler::SaveTrial(CampaignRun& run, const TrialEntry& t) {
  Touch(run.id(), t.index);
  outbox_.records.push_back(records::TrialRecord(run.id(), t.index, t.trial));
}

}  // namespace moesweep::coordinator
