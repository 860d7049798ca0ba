// Scheduler: validation runs (issue 12). When a campaign stops (target met or
// budget spent) and its spec has `validate:`, it is VALIDATING instead: its
// validation runs are queued and dispatched like any trial, their losses are
// compared with the law's predictions and never fitted, and when the last
// one ends the campaign takes the state it stopped in. Validate asks for one
// more run of a stopped campaign the same way. Validation FLOPs are not
// charged to the budget (Campaign.validation_flops).

#include <cmath>
#include <cstdio>

#include "coordinator/metrics.h"
#include "coordinator/records.h"
#include "coordinator/scheduler.h"
#include "coordinator/worker_input.h"

namespace moesweep::coordinator {
namespace {

// Validation runs one campaign may hold, spec's and requested together: each
// is a trial, an event and a labelled gauge series.
constexpr int kMaxValidationTrials = 64;
// As Optimal's budget: past it the tokens overflow their int64 field.
constexpr double kMaxValidationFlops = 1e30;

bool InFlight(const v1::Trial& t) {
  return t.state() == v1::TRIAL_STATE_QUEUED ||
         t.state() == v1::TRIAL_STATE_RUNNING;
}

std::string Flops(double flops) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", flops);
  return buf;
}

}  // namespace

bool Scheduler::StartValidation(CampaignRun& run, NextStep& next) {
  const std::optional<campaign::ValidationSpec>& wanted = run.spec().validate;
  if (!wanted || run.ValidationTrials(/*requested=*/false) > 0 ||
      (next.final_state != v1::CAMPAIGN_STATE_SUCCEEDED &&
       next.final_state != v1::CAMPAIGN_STATE_BUDGET_EXHAUSTED)) {
    return false;
  }
  const double largest = run.LargestFittedFlops();
  std::vector<int32_t> added;
  Status skipped =
      largest > 0 ? OkStatus() : FailedPreconditionError("no run was fitted");
  for (int i = 1; skipped.ok() && i <= wanted->runs; ++i) {
    // Spread geometrically up to the multiple: run i of n at M^(i/n).
    const double flops =
        largest *
        std::pow(wanted->flops_multiple, static_cast<double>(i) / wanted->runs);
    StatusOr<int32_t> index =
        run.AddValidationTrial(flops, /*requested=*/false, NowUnixMs());
    if (index.ok()) {
      added.push_back(*index);
    } else {
      skipped = index.status();
    }
  }
  if (!skipped.ok()) {
    std::fprintf(stderr, "coordinator: campaign %s: validation runs: %s\n",
                 run.id().c_str(), skipped.ToString().c_str());
  }
  if (added.empty()) {
    next.reason +=
        "; validation runs skipped: " + Prefix(skipped.message(), 256);
    return false;
  }
  for (int32_t index : added) {
    const TrialEntry& t = run.trials()[index];
    outbox_.new_trials.push_back(t.trial.spec().trial_id());
    SaveTrial(run, t);
  }
  v1::Campaign& c = run.campaign();
  c.set_after_validation_state(next.final_state);
  c.set_after_validation_reason(next.reason);
  SetState(run, v1::CAMPAIGN_STATE_VALIDATING,
           next.reason + "; validating the law on " +
               std::to_string(added.size()) + " run(s) of up to " +
               Flops(largest * wanted->flops_multiple) + " FLOPs");
  return true;
}

bool Scheduler::AdvanceValidation(CampaignRun& run) {
  v1::Campaign& c = run.campaign();
  if (c.state() != v1::CAMPAIGN_STATE_VALIDATING) return false;
  for (const TrialEntry& t : run.trials()) {
    if (t.trial.has_validation() && InFlight(t.trial)) {
      SaveCampaign(run);
      PublishMetrics(run);
      return true;
    }
  }
  const v1::CampaignState to =
      c.after_validation_state() == v1::CAMPAIGN_STATE_UNSPECIFIED
          ? v1::CAMPAIGN_STATE_SUCCEEDED
          : c.after_validation_state();
  const std::string reason = c.after_validation_reason();
  c.clear_after_validation_state();
  c.clear_after_validation_reason();
  SetState(run, to, reason);
  return true;
}

void Scheduler::PublishValidation(CampaignRun& run, const v1::Validation& v) {
  v1::CampaignEvent e;
  *e.mutable_validated() = v;
  Emit(run, std::move(e));
  if (metrics_ != nullptr) {
    metrics_->SetValidationLogError(run.id(), v.trial_id(), v.log_error());
  }
}

void Scheduler::Validate(
    v1::ValidateCampaignRequest request,
    std::function<void(StatusOr<v1::ValidateCampaignResponse>)> done) {
  Post([this, request = std::move(request), done = std::move(done)] {
    mu_.AssertHeld();  // tasks run under mu_ (Loop)
    StatusOr<v1::ValidateCampaignResponse> r = DoValidate(request);
    Status flushed = Flush();
    if (r.ok() && !flushed.ok()) r = flushed;
    done(std::move(r));
  });
}

StatusOr<v1::ValidateCampaignResponse> Scheduler::DoValidate(
    const v1::ValidateCampaignRequest& request) {
  if (!(request.flops() > 0 && request.flops() <= kMaxValidationFlops)) {
    return InvalidArgumentError("flops: must be in (0, 1e30], got " +
                                Flops(request.flops()));
  }
  MOESWEEP_ASSIGN_OR_RETURN(CampaignRun * found, Find(request.campaign_id()));
  CampaignRun& run = *found;
  v1::Campaign& c = run.campaign();
  const v1::CampaignState state = c.state();
  if (state != v1::CAMPAIGN_STATE_SUCCEEDED &&
      state != v1::CAMPAIGN_STATE_BUDGET_EXHAUSTED &&
      state != v1::CAMPAIGN_STATE_VALIDATING) {
    return FailedPreconditionError(
        "campaign '" + run.id() + "' is " + v1::CampaignState_Name(state) +
        ": validation runs are for a campaign that stopped (SUCCEEDED or "
        "BUDGET_EXHAUSTED)");
  }
  if (run.ValidationTrials(true) + run.ValidationTrials(false) >=
      kMaxValidationTrials) {
    return FailedPreconditionError(
        "campaign '" + run.id() + "' has " +
        std::to_string(kMaxValidationTrials) +
        " validation runs, the most one campaign keeps");
  }
  MOESWEEP_ASSIGN_OR_RETURN(
      int32_t index,
      run.AddValidationTrial(request.flops(), /*requested=*/true, NowUnixMs()));
  const TrialEntry& t = run.trials()[index];
  outbox_.new_trials.push_back(t.trial.spec().trial_id());
  SaveTrial(run, t);
  if (state != v1::CAMPAIGN_STATE_VALIDATING) {
    c.set_after_validation_state(state);
    c.set_after_validation_reason(c.state_reason());
    SetState(run, v1::CAMPAIGN_STATE_VALIDATING,
             "validating the law on a run of " + Flops(request.flops()) +
                 " FLOPs, asked for by a user");
  } else {
    run.Recount();
    SaveCampaign(run);
    PublishMetrics(run);
  }
  v1::ValidateCampaignResponse out;
  *out.mutable_campaign() = c;
  *out.mutable_trial() = run.trials()[index].trial;
  return out;
}

}  // namespace moesweep::coordinator
