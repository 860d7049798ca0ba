// CampaignRun: fit, answer, stopping rule and proposals of one campaign.

#include "coordinator/campaign_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace moesweep::coordinator {
namespace {

// A campaign whose trials keep failing stops: this many failures and more
// than three for each success.
constexpr int kFailuresBeforeGivingUp = 5;
v1::Question QuestionOf(campaign::QuestionKind kind) {
  switch (kind) {
    case campaign::QuestionKind::kComputeOptimalLoss:
      return v1::QUESTION_OPTIMAL_LOSS;
    case campaign::QuestionKind::kOptimalArchitecture:
      return v1::QUESTION_OPTIMAL_ACTIVE_PARAMS;
    case campaign::QuestionKind::kLawParameter:
      return v1::QUESTION_PARAMETER;
    case campaign::QuestionKind::kPrediction:
      return v1::QUESTION_PREDICTION;
  }
  return v1::QUESTION_UNSPECIFIED;
}

bool InFlight(const v1::Trial& t) {
  return t.state() == v1::TRIAL_STATE_QUEUED ||
         t.state() == v1::TRIAL_STATE_RUNNING;
}

}  // namespace

StatusOr<std::unique_ptr<CampaignRun>> CampaignRun::Create(
    v1::Campaign campaign) {
  MOESWEEP_ASSIGN_OR_RETURN(campaign::CampaignSpec spec,
                            campaign::ParseCampaignSpec(campaign.spec_yaml()));
  if (spec.space.kind != campaign::SpaceKind::kArchitecture) {
    return InvalidArgumentError(
        "space: the coordinator trains architectures (d_model, layers, "
        "experts, ...); a space of params/active_params is for `moesweep "
        "simulate`");
  }
  MOESWEEP_ASSIGN_OR_RETURN(campaign::CampaignPlan plan,
                            campaign::PlanCampaign(spec));
  fitter::IncrementalOptions options;
  options.huber_delta = spec.law.huber_delta;
  options.num_threads = 1;
  options.full_refit_every = 50;
  options.full_refit_growth = 0.5;
  options.max_grid_starts = 500;
  options.background = true;  // a full refit never holds up the scheduler
  std::unique_ptr<fitter::IncrementalFitter> fitter;
  if (spec.law.family == "expr") {
    MOESWEEP_ASSIGN_OR_RETURN(
        fitter, fitter::IncrementalFitter::Create(spec.law.expr, options));
  } else {
    MOESWEEP_ASSIGN_OR_RETURN(
        fitter, fitter::IncrementalFitter::Create(spec.law.family, options));
  }
  campaign.set_family(spec.law.family);
  return std::unique_ptr<CampaignRun>(
      new CampaignRun(std::move(campaign), std::move(spec), std::move(plan),
                      std::move(fitter)));
}

CampaignRun::CampaignRun(v1::Campaign campaign, campaign::CampaignSpec spec,
                         campaign::CampaignPlan plan,
                         std::unique_ptr<fitter::IncrementalFitter> fitter)
    : campaign_(std::move(campaign)),
      spec_(std::move(spec)),
      plan_(std::move(plan)),
      fitter_(std::move(fitter)) {}

TrialEntry* CampaignRun::Find(std::string_view trial_id) {
  auto it = by_id_.find(std::string(trial_id));
  return it == by_id_.end() ? nullptr : &trials_[it->second];
}

void CampaignRun::AddLoadedTrial(TrialEntry entry) {
  by_id_[entry.trial.spec().trial_id()] = static_cast<int32_t>(trials_.size());
  SetLineage(entry);
  // A validation run made here brings its own (priced under the law).
  if (!entry.trial.has_validation() || entry.planned_flops <= 0)
    entry.planned_flops = PlannedFlops(entry);
  trials_.push_back(std::move(entry));
}

Status CampaignRun::Observe(const TrialEntry& trial, double loss) {
  if (!(loss > 0) || !std::isfinite(loss)) {
    return InvalidArgumentError("final_eval_loss must be finite and > 0");
  }
  Pending p;
  p.at = trial.at;
  p.at.loss = loss;
  p.trial_id = trial.trial.spec().trial_id();
  p.finished_unix_ms = trial.trial.finished_unix_ms();
  pending_.push_back(std::move(p));
  return OkStatus();
}

bool CampaignRun::NeedsFit() const {
  if (!pending_.empty()) return true;
  std::optional<fitter::LawSnapshot> s = fitter_->Current();
  return s && s->version != fitter_version_;
}

FitJob CampaignRun::TakeFitJob() {
  fit_in_flight_ = true;
  FitJob job;
  job.fitter = fitter_.get();
  job.question = &plan_.question;
  job.since_version = fitter_version_;
  job.huber_delta = spec_.law.huber_delta;
  if (!pending_.empty()) {
    // In fitter run order: ids are numbered as the fitter numbers runs.
    job.observation = pending_.front().at;
    observed_ids_.push_back(pending_.front().trial_id);
    observed_unix_ms_.push_back(pending_.front().finished_unix_ms);
    pending_.pop_front();
  }
  return job;
}

FitOutcome CampaignRun::RunFit(const FitJob& job) {
  using Clock = std::chrono::steady_clock;
  FitOutcome out;
  auto start = Clock::now();
  if (job.observation) {
    out.observed = true;
    out.added = job.fitter->Add(*job.observation);  // a warm refit
    out.warm_seconds =
        std::chrono::duration<double>(Clock::now() - start).count();
  }
  out.out_of_sample = job.fitter->OutOfSampleErrors();
  std::optional<fitter::LawSnapshot> s = job.fitter->Current();
  if (!s || s->version == job.since_version) return out;
  start = Clock::now();
  const std::vector<fitter::Observation> runs = job.fitter->Runs();
  out.runs = static_cast<int>(runs.size());
  StatusOr<fitter::LawUncertainty> u = fitter::EstimateCovariance(
      s->law, runs, job.huber_delta, s->lineage_correlation);
  if (u.ok()) {
    out.uncertainty = *u;
    // On log Q for a positive question (a loss, a size), so the interval
    // stays positive however few runs the law has seen.
    StatusOr<fitter::Interval> interval =
        fitter::QuestionInterval(s->law, *u, *job.question, 0.95);
    if (interval.ok() && std::isfinite(interval->lower) &&
        std::isfinite(interval->upper)) {
      out.interval = *interval;
    }
  }
  out.law = std::move(s);
  out.uncertainty_seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

std::optional<fitter::Law> CampaignRun::CurrentLaw() const {
  if (!law_ || !uncertainty_) return std::nullopt;
  return law_->law;
}

std::vector<v1::OutOfSampleError> CampaignRun::OutOfSampleErrors() const {
  std::vector<v1::OutOfSampleError> out;
  for (const fitter::OutOfSample& e : out_of_sample_) {
    v1::OutOfSampleError m;
    if (e.run >= 0 && e.run < static_cast<int>(observed_ids_.size())) {
      m.set_trial_id(observed_ids_[e.run]);
      m.set_observed_unix_ms(observed_unix_ms_[e.run]);
    }
    m.set_law_version(e.version);
    m.set_predicted_loss(e.predicted);
    m.set_observed_loss(e.actual);
    m.set_log_error(e.log_error);
    out.push_back(std::move(m));
  }
  return out;
}

CampaignRun::Refreshed CampaignRun::ApplyFit(const FitOutcome& o,
                                             int64_t now_unix_ms) {
  fit_in_flight_ = false;
  Refreshed out;
  if (o.observed && !o.added.ok()) {
    // Not in the fit after all: the fitter numbers runs without it.
    std::fprintf(stderr, "coordinator: campaign %s: trial %s not fitted: %s\n",
                 id().c_str(), observed_ids_.back().c_str(),
                 o.added.ToString().c_str());
    observed_ids_.pop_back();
    observed_unix_ms_.pop_back();
  }
  out_of_sample_ = o.out_of_sample;
  if (!o.law || o.law->version == fitter_version_) return out;
  const fitter::LawSnapshot& s = *o.law;
  fitter_version_ = s.version;
  law_ = s;
  uncertainty_ = o.uncertainty;
  StatusOr<v1::LawEstimate> law =
      ToLawEstimate(id(), s, uncertainty_ ? &*uncertainty_ : nullptr,
                    spec_.law.huber_delta, now_unix_ms);
  if (!law.ok()) return out;
  law->set_version(laws_.empty() ? 1 : laws_.back().version() + 1);
  laws_.push_back(*law);
  out.law = *law;
  campaign_.set_law_version(law->version());
  const std::vector<v1::OutOfSampleError> oos = OutOfSampleErrors();
  // Only a fit that took an observation measured one: a law from a full
  // refit alone would repeat the last run's error in its event, and a
  // restart would count it twice.
  if (o.observed && o.added.ok() && !oos.empty() && !observed_ids_.empty() &&
      oos.back().trial_id() == observed_ids_.back()) {
    out.out_of_sample = oos.back();
  }
  const std::string before = campaign_.answer().SerializeAsString();
  UpdateAnswer(o, law->version());
  out.answer_changed = campaign_.answer().SerializeAsString() != before;
  return out;
}

void CampaignRun::UpdateAnswer(const FitOutcome& o, int64_t version) {
  if (!uncertainty_ || !o.interval) return;
  const fitter::Interval& interval = *o.interval;
  v1::Answer* a = campaign_.mutable_answer();
  a->set_question(QuestionOf(spec_.question.kind));
  a->set_parameter(spec_.question.name);
  a->set_budget_flops(spec_.question.flops);
  a->set_value(interval.value);
  *a->mutable_interval() = ToInterval(interval, 0.95);
  // The simulation's rule (fitter::MeetsStoppingRule): narrow enough, enough
  // runs, and no parameter on its bound.
  a->set_target_met(fitter::MeetsStoppingRule(
      o.law->law, o.runs, interval, campaign_.target_interval_width()));
  a->set_law_version(version);
}

void CampaignRun::Recount() {
  v1::TrialCounts counts;
  double spent = 0;
  double validation = 0;  // not charged to the budget
  double hours = 0;       // worker-hours of the runs charged
  for (const TrialEntry& t : trials_) {
    switch (t.trial.state()) {
      case v1::TRIAL_STATE_QUEUED:
        counts.set_queued(counts.queued() + 1);
        break;
      case v1::TRIAL_STATE_RUNNING:
        counts.set_running(counts.running() + 1);
        break;
      case v1::TRIAL_STATE_SUCCEEDED:
        counts.set_succeeded(counts.succeeded() + 1);
        break;
      case v1::TRIAL_STATE_FAILED:
        counts.set_failed(counts.failed() + 1);
        break;
      case v1::TRIAL_STATE_CANCELLED:
        counts.set_cancelled(counts.cancelled() + 1);
        break;
      default:
        break;
    }
    (t.trial.has_validation() ? validation : spent) += t.trial.training_flops();
    if (!t.trial.has_validation()) hours += t.trial.elapsed_seconds() / 3600;
  }
  *campaign_.mutable_trials() = counts;
  campaign_.set_spent_flops(spent);
  campaign_.set_validation_flops(validation);
  campaign_.set_spent_gpu_hours(hours);
  campaign_.set_budget_gpu_hours(spec_.budget.gpu_hours.value_or(0));
}

double CampaignRun::ScaleFlops() const {
  if (scale_flops_ <= 0)
    scale_flops_ = fitter::LargestRunFlops(plan_.shape, plan_.space);
  return scale_flops_;
}

NextStep CampaignRun::Next(int) const {
  NextStep next;
  if (campaign_.state() != v1::CAMPAIGN_STATE_RUNNING) return next;
  const v1::TrialCounts& c = campaign_.trials();
  if (campaign_.has_answer() && campaign_.answer().target_met()) {
    next.final_state = v1::CAMPAIGN_STATE_SUCCEEDED;
    next.reason = "target reached: the 95% interval is narrower than " +
                  std::to_string(campaign_.target_interval_width());
    return next;
  }
  const double spent = campaign_.spent_flops();
  if (spent >= campaign_.budget_flops()) {
    if (c.running() == 0) {
      next.final_state = v1::CAMPAIGN_STATE_BUDGET_EXHAUSTED;
      next.reason = "budget spent before the target was met";
    }
    return next;
  }
  // Worker time is known only when a run ends: runs in flight are not
  // counted, so the last ones can take the spend past the budget.
  const double hours = campaign_.budget_gpu_hours();
  if (hours > 0 && campaign_.spent_gpu_hours() >= hours) {
    if (c.running() == 0) {
      next.final_state = v1::CAMPAIGN_STATE_BUDGET_EXHAUSTED;
      next.reason = "GPU-hour budget spent before the target was met";
    }
    return next;
  }
  if (c.failed() >= kFailuresBeforeGivingUp && c.failed() > 3 * c.succeeded()) {
    next.final_state = v1::CAMPAIGN_STATE_FAILED;
    next.reason = std::to_string(c.failed()) + " trials failed, " +
                  std::to_string(c.succeeded()) + " succeeded";
    return next;
  }
  double in_flight = 0;
  for (const TrialEntry& t : trials_) {
    if (InFlight(t.trial)) in_flight += t.planned_flops;
  }
  if (spent + in_flight >= campaign_.budget_flops()) return next;
  next.propose =
      std::max(0, spec_.max_parallel_runs - c.queued() - c.running());
  return next;
}

ProposeJob CampaignRun::TakeProposeJob(int n) {
  proposal_in_flight_ = true;
  ProposeJob job;
  job.plan = &plan_;
  for (const TrialEntry& t : trials_) {
    if (InFlight(t.trial)) job.pending.push_back(t.at);
  }
  fitter::ProposeRequest& request = job.request;
  request.strategy = spec_.strategy;
  request.batch = n;
  request.seed = spec_.seed;
  request.proposed_before = static_cast<int>(trials_.size());
  // Small runs are noisier and each run costs more than its FLOPs: both
  // scaled to the largest run the space allows (ScaleFlops()).
  const double scale = ScaleFlops();
  request.noise_reference_flops = scale;
  request.run_overhead_flops = fitter::kRunOverheadFraction * scale;
  const bool informed = law_ && uncertainty_;
  if (informed) {
    job.law = law_->law;
    job.uncertainty = *uncertainty_;
  }
  job.proposer = spec_.strategy == fitter::Strategy::kActive && !informed
                     ? "space_filling"
                     : std::string(fitter::StrategyName(spec_.strategy));
  job.proposed_before = request.proposed_before;
  job.law_version = laws_.empty() ? 0 : laws_.back().version();
  if (spec_.training.branching && informed) {
    request.cooldown_fraction = kWsdDecayFraction;
    job.stable_runs = StableRuns(&job.stable_roots);
  }
  return job;
}

StatusOr<std::vector<fitter::Candidate>> CampaignRun::RunPropose(
    const ProposeJob& job) {
  fitter::ProposeRequest request = job.request;
  request.pending = job.pending;
  request.stable_runs = job.stable_runs;
  if (job.law && job.uncertainty) {
    request.law = &*job.law;
    request.uncertainty = &*job.uncertainty;
  }
  return fitter::ProposeRuns(job.plan->shape, job.plan->space,
                             job.plan->question, request);
}

StatusOr<std::vector<int32_t>> CampaignRun::AddProposed(
    const ProposeJob& job, const std::vector<fitter::Candidate>& batch, int n,
    int64_t now_unix_ms) {
  std::vector<int32_t> added;
  for (const fitter::Candidate& c : batch) {
    if (static_cast<int>(added.size()) >= n) break;
    TrialEntry t;
    t.index = static_cast<int32_t>(trials_.size());
    if (c.parent >= 0) {
      // A run of an existing lineage: its architecture and seed are the
      // lineage's, its tokens set by the checkpoint it resumes from.
      const auto parent = static_cast<std::size_t>(c.parent);
      if (parent >= job.stable_roots.size()) {
        return InternalError("proposal names stable run " +
                             std::to_string(c.parent) + " of " +
                             std::to_string(job.stable_roots.size()));
      }
      const TrialEntry& root = trials_[job.stable_roots[parent]];
      const bool extension =
          c.resume_tokens >= job.stable_runs[parent].stable_tokens &&
          c.at.tokens > 1.01 * c.resume_tokens / (1 - kWsdDecayFraction);
      MOESWEEP_ASSIGN_OR_RETURN(
          *t.trial.mutable_spec(),
          BranchSpec(root, c.at.tokens, c.resume_tokens, extension, t.index));
      t.at = root.at;
    } else {
      MOESWEEP_ASSIGN_OR_RETURN(fitter::Architecture arch,
                                fitter::ArchitectureAt(plan_.space, c.unit));
      MOESWEEP_ASSIGN_OR_RETURN(*t.trial.mutable_spec(),
                                MakeSpec(arch, c.at.tokens, t.index));
      if (spec_.training.branching) StartLineage(*t.trial.mutable_spec());
      t.at = c.at;
    }
    t.at.tokens = static_cast<double>(t.trial.spec().train_tokens());
    t.at.unique_tokens = t.at.tokens;
    t.trial.set_state(v1::TRIAL_STATE_QUEUED);
    *t.trial.mutable_features() = ToRunFeatures(t.at);
    t.trial.set_proposer(job.proposer);
    t.trial.set_created_unix_ms(now_unix_ms);
    queue_.push_back(t.index);
    added.push_back(t.index);
    AddLoadedTrial(std::move(t));
  }
  return added;
}

}  // namespace moesweep::coordinator
