#include "bench/realrun/seed_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <thread>
#include <utility>

#include "bench/realrun/cluster.h"

namespace moesweep::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The reference campaign's target: never met, so it spends its budget.
constexpr double kUnreachableWidth = 1e-6;
constexpr int kOutOfSampleWindow = 20;

double Seconds(SteadyClock::time_point since) {
  return std::chrono::duration<double>(SteadyClock::now() - since).count();
}

Status FromGrpc(const char* what, const grpc::Status& s) {
  if (s.ok()) return OkStatus();
  return Status(static_cast<StatusCode>(s.error_code()),
                std::string(what) + ": " + s.error_message());
}

bool Terminal(v1::CampaignState s) {
  return s == v1::CAMPAIGN_STATE_SUCCEEDED ||
         s == v1::CAMPAIGN_STATE_BUDGET_EXHAUSTED ||
         s == v1::CAMPAIGN_STATE_CANCELLED || s == v1::CAMPAIGN_STATE_FAILED;
}

StatusOr<v1::Campaign> Create(Cluster& cluster,
                              const campaign::CampaignSpec& spec) {
  v1::CreateCampaignRequest q;
  q.set_spec_yaml(campaign::CampaignSpecToYaml(spec));
  v1::CreateCampaignResponse r;
  MOESWEEP_RETURN_IF_ERROR(FromGrpc(
      "Create",
      cluster.campaigns().Create(cluster.AdminContext().get(), q, &r)));
  return r.campaign();
}

// Polls Get every second (a bench main, not a reaction) until `done` holds.
StatusOr<v1::Campaign> WaitFor(
    Cluster& cluster, const std::string& id,
    const std::function<bool(const v1::Campaign&)>& done,
    SteadyClock::time_point deadline) {
  while (true) {
    MOESWEEP_RETURN_IF_ERROR(cluster.health());
    v1::GetCampaignRequest q;
    q.set_campaign_id(id);
    v1::GetCampaignResponse r;
    MOESWEEP_RETURN_IF_ERROR(FromGrpc(
        "Get", cluster.campaigns().Get(cluster.AdminContext().get(), q, &r)));
    const v1::CampaignState s = r.campaign().state();
    if (s == v1::CAMPAIGN_STATE_FAILED || s == v1::CAMPAIGN_STATE_CANCELLED) {
      return FailedPreconditionError("campaign " + id + " ended " +
                                     v1::CampaignState_Name(s) + ": " +
                                     r.campaign().state_reason());
    }
    if (done(r.campaign())) return r.campaign();
    if (SteadyClock::now() > deadline) {
      return Status(StatusCode::kDeadlineExceeded,
                    "campaign " + id + " still " + v1::CampaignState_Name(s));
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

StatusOr<v1::GetLawResponse> GetLaw(Cluster& cluster, const std::string& id) {
  v1::GetLawRequest q;
  q.set_campaign_id(id);
  v1::GetLawResponse r;
  MOESWEEP_RETURN_IF_ERROR(FromGrpc(
      "GetLaw",
      cluster.campaigns().GetLaw(cluster.AdminContext().get(), q, &r)));
  return r;
}

StatusOr<std::vector<v1::Trial>> ListTrials(Cluster& cluster,
                                            const std::string& id) {
  std::vector<v1::Trial> out;
  v1::ListTrialsRequest q;
  q.set_campaign_id(id);
  q.set_page_size(1000);
  do {
    v1::ListTrialsResponse r;
    MOESWEEP_RETURN_IF_ERROR(FromGrpc(
        "ListTrials",
        cluster.campaigns().ListTrials(cluster.AdminContext().get(), q, &r)));
    out.insert(out.end(), r.trials().begin(), r.trials().end());
    q.set_page_token(r.next_page_token());
  } while (!q.page_token().empty());
  return out;
}

// Mean |log(predicted / observed)| over the last kOutOfSampleWindow
// observations, each predicted before it joined the fit.
double OutOfSampleLast(const v1::GetLawResponse& law) {
  const int n = law.out_of_sample_size();
  const int first = std::max(0, n - kOutOfSampleWindow);
  double sum = 0;
  for (int i = first; i < n; ++i)
    sum += std::abs(law.out_of_sample(i).log_error());
  return n > first ? sum / (n - first) : NAN;
}

campaign::CampaignSpec ActiveSpec(const campaign::CampaignSpec& base,
                                  uint64_t seed, double min_multiple) {
  campaign::CampaignSpec spec = base;
  spec.name = "realrun-seed" + std::to_string(seed) + "-" + spec.law.family;
  spec.seed = seed;
  // One run, so that it sits at the full multiple (run i of N is at
  // multiple^(i/N)).
  const double multiple =
      std::max(min_multiple, base.validate ? base.validate->flops_multiple : 0);
  spec.validate = base.validate.value_or(campaign::ValidationSpec());
  spec.validate->runs = 1;
  spec.validate->flops_multiple = multiple;
  return spec;
}

// The same space, training and limits, fitted with Chinchilla (params: total
// parameters, tokens) on a full-factorial grid visited in a seeded order,
// until `budget_flops` is spent.
campaign::CampaignSpec ReferenceSpec(const campaign::CampaignSpec& active,
                                     double budget_flops) {
  campaign::CampaignSpec spec = active;
  spec.name = "realrun-seed" + std::to_string(active.seed) + "-chinchilla-grid";
  spec.law.family = "chinchilla";
  spec.law.expr = {};
  spec.strategy = campaign::Strategy::kGrid;
  spec.training.branching = false;  // a fixed grid cannot price a branch
  spec.validate.reset();
  spec.budget = campaign::BudgetSpec();
  spec.budget.flops = budget_flops;
  spec.question = campaign::QuestionSpec();
  spec.question.kind = campaign::QuestionKind::kLawParameter;
  spec.question.name = "alpha";
  spec.target_relative_width = kUnreachableWidth;
  return spec;
}

// The reference law's predictions of the validation runs, whose
// architectures ListTrials gives.
Status PredictWithReference(Cluster& cluster, const std::string& active_id,
                            const std::string& ref_id,
                            std::vector<ValidationResult>& validations) {
  if (validations.empty()) return OkStatus();
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<v1::Trial> trials,
                            ListTrials(cluster, active_id));
  v1::PredictRequest q;
  q.set_campaign_id(ref_id);
  for (ValidationResult& v : validations) {
    auto t = std::find_if(
        trials.begin(), trials.end(),
        [&](const v1::Trial& x) { return x.spec().trial_id() == v.trial_id; });
    if (t == trials.end()) {
      return InternalError("validation trial " + v.trial_id + " not listed");
    }
    const v1::ArchitectureSpec& a = t->spec().architecture();
    char run[160];
    std::snprintf(run, sizeof run,
                  "d_model %d, %d layers, %d experts top-%d, %.3g tokens",
                  a.d_model(), a.num_layers(), a.num_experts(), a.top_k(),
                  static_cast<double>(t->spec().train_tokens()));
    v.run = run;
    v1::PredictionInput* in = q.add_inputs();
    *in->mutable_architecture() = t->spec().architecture();
    in->set_train_tokens(t->spec().train_tokens());
  }
  v1::PredictResponse r;
  Status predicted = FromGrpc(
      "Predict",
      cluster.campaigns().Predict(cluster.AdminContext().get(), q, &r));
  // No identifiable reference law (above): it predicts nothing.
  if (predicted.code() == StatusCode::kFailedPrecondition) return OkStatus();
  MOESWEEP_RETURN_IF_ERROR(predicted);
  if (r.predictions_size() != static_cast<int>(validations.size())) {
    return InternalError("Predict answered a different number of runs");
  }
  for (size_t i = 0; i < validations.size(); ++i) {
    const v1::Prediction& p = r.predictions(static_cast<int>(i));
    ValidationResult& v = validations[i];
    v.ref_fitted = true;
    v.ref_predicted = p.loss();
    v.ref_lower = p.prediction_interval().lower();
    v.ref_upper = p.prediction_interval().upper();
    v.ref_log_error = std::log(v.observed / p.loss());
  }
  return OkStatus();
}

}  // namespace

StatusOr<SeedResult> RunSeed(Cluster& cluster,
                             const campaign::CampaignSpec& base, uint64_t seed,
                             double min_multiple, double timeout_s) {
  const SteadyClock::time_point start = SteadyClock::now();
  const SteadyClock::time_point deadline =
      start + std::chrono::duration_cast<SteadyClock::duration>(
                  std::chrono::duration<double>(timeout_s));
  SeedResult result;
  result.seed = seed;
  const campaign::CampaignSpec active = ActiveSpec(base, seed, min_multiple);
  MOESWEEP_RETURN_IF_ERROR(campaign::ValidateCampaignSpec(active));
  MOESWEEP_ASSIGN_OR_RETURN(v1::Campaign created, Create(cluster, active));
  const std::string id = created.campaign_id();

  // The stopping rule: VALIDATING (or ended, should no run be proposed).
  MOESWEEP_ASSIGN_OR_RETURN(v1::Campaign stopped,
                            WaitFor(
                                cluster, id,
                                [](const v1::Campaign& c) {
                                  return c.state() ==
                                             v1::CAMPAIGN_STATE_VALIDATING ||
                                         Terminal(c.state());
                                },
                                deadline));
  result.wall_seconds = Seconds(start);
  result.spent_flops = stopped.spent_flops();
  result.budget_flops = stopped.budget_flops();
  result.runs = stopped.trials().succeeded();
  if (stopped.has_answer() && stopped.answer().value() > 0) {
    const v1::Answer& a = stopped.answer();
    result.answer_width =
        (a.interval().upper() - a.interval().lower()) / a.value();
  }
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<v1::Trial> trials,
                            ListTrials(cluster, id));
  for (const v1::Trial& t : trials) {
    result.branches += t.state() == v1::TRIAL_STATE_SUCCEEDED &&
                       t.spec().resume_from_tokens() > 0;
  }

  // The reference trains beside the validation run, on the other worker.
  const campaign::CampaignSpec reference =
      ReferenceSpec(active, stopped.spent_flops());
  MOESWEEP_RETURN_IF_ERROR(campaign::ValidateCampaignSpec(reference));
  MOESWEEP_ASSIGN_OR_RETURN(v1::Campaign ref_created,
                            Create(cluster, reference));
  const std::string ref_id = ref_created.campaign_id();
  auto ended = [](const v1::Campaign& c) { return Terminal(c.state()); };
  MOESWEEP_ASSIGN_OR_RETURN(v1::Campaign done,
                            WaitFor(cluster, id, ended, deadline));
  MOESWEEP_ASSIGN_OR_RETURN(v1::Campaign ref_done,
                            WaitFor(cluster, ref_id, ended, deadline));
  result.state = v1::CampaignState_Name(done.state());
  result.reason = done.state_reason();
  result.ref_runs = ref_done.trials().succeeded();
  result.ref_spent_flops = ref_done.spent_flops();

  MOESWEEP_ASSIGN_OR_RETURN(v1::GetLawResponse law, GetLaw(cluster, id));
  result.oos_last20 = OutOfSampleLast(law);
  // A grid of equal FLOPs can be too small for Chinchilla's five
  // parameters (a campaign that met its target cheaply): then the reference
  // has no law, which the seed line says, rather than ending the bench.
  StatusOr<v1::GetLawResponse> ref_law = GetLaw(cluster, ref_id);
  if (ref_law.ok()) {
    result.ref_oos_last20 = OutOfSampleLast(*ref_law);
  } else if (ref_law.status().code() == StatusCode::kFailedPrecondition) {
    result.ref_oos_last20 = NAN;
  } else {
    return ref_law.status();
  }
  for (const v1::Validation& v : law.validations()) {
    if (!v.has_observed_loss()) continue;  // the run failed
    result.validations.push_back(
        ValidationResult{.trial_id = v.trial_id(),
                         .run = "",  // PredictWithReference fills it
                         .flops_multiple = v.flops_multiple(),
                         .predicted = v.predicted_loss(),
                         .lower = v.predicted_interval().lower(),
                         .upper = v.predicted_interval().upper(),
                         .observed = v.observed_loss(),
                         .inside = v.inside(),
                         .log_error = v.log_error()});
  }
  MOESWEEP_RETURN_IF_ERROR(
      PredictWithReference(cluster, id, ref_id, result.validations));
  result.seed_seconds = Seconds(start);
  return result;
}

}  // namespace moesweep::bench
