// CampaignRun: validation runs (issue 12). A validation run is the law's
// compute-optimal architecture of the campaign's design space at a FLOPs
// budget past the runs it was fitted on, by default among the shapes (tokens
// per active parameter) the fitted runs covered. The law predicts it when it is
// proposed; its loss never joins the fit, and is compared with that
// prediction when it arrives. The prediction and the comparison live on the
// trial (v1::Trial.validation), so they are stored, and restored, with it.

#include <algorithm>
#include <cmath>
#include <limits>

#include "coordinator/campaign_run.h"

namespace moesweep::coordinator {
namespace {

// Architectures scored per validation run: the space's lists are thinned
// evenly (ends kept) until their product is at most this, so that choosing
// costs milliseconds on the scheduler thread however large the space.
constexpr double kMaxArchitecturesScored = 4096;
// Tokens past this do not fit the int64 fields of a TrialSpec.
constexpr double kMaxTrainTokens = 9e18;
constexpr double kLevel = 0.95;

// Indices into a list of `n`, at most `keep` of them, spread evenly.
std::vector<size_t> Thinned(size_t n, size_t keep) {
  std::vector<size_t> out;
  if (n <= keep) {
    for (size_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  for (size_t j = 0; j < keep; ++j) {
    out.push_back(keep == 1 ? 0 : (j * (n - 1) + (keep - 1) / 2) / (keep - 1));
  }
  return out;
}

// Unit coordinates (ArchitectureAt's first six) of the architectures scored.
std::vector<std::vector<double>> ArchitectureGrid(
    const fitter::ArchitectureAxes& axes) {
  const std::vector<const std::vector<double>*> lists = {
      &axes.d_model, &axes.layers,      &axes.experts,
      &axes.top_k,   &axes.granularity, &axes.shared};
  std::vector<size_t> keep;
  for (const auto* l : lists) keep.push_back(std::max<size_t>(l->size(), 1));
  auto product = [&] {
    double p = 1;
    for (size_t k : keep) p *= static_cast<double>(k);
    return p;
  };
  while (product() > kMaxArchitecturesScored) {
    auto longest = std::max_element(keep.begin(), keep.end());
    *longest = (*longest + 1) / 2;
  }
  std::vector<std::vector<double>> grid = {{}};
  for (size_t axis = 0; axis < lists.size(); ++axis) {
    const size_t n = lists[axis]->size();
    std::vector<std::vector<double>> next;
    for (const std::vector<double>& prefix : grid) {
      for (size_t i : Thinned(n, keep[axis])) {
        std::vector<double> unit = prefix;
        unit.push_back((static_cast<double>(i) + 0.5) / static_cast<double>(n));
        next.push_back(std::move(unit));
      }
    }
    grid = std::move(next);
  }
  return grid;
}

struct Choice {
  fitter::Architecture arch;
  double tokens = 0;
  double loss = 0;
};

// Tokens per active parameter, the shape of a run as the law sees it.
double TokensPerParam(const fitter::Observation& at) {
  return at.tokens / std::max(at.active_params, 1.0);
}

// How far, in log, `ratio` lies outside [lo, hi]; 0 inside.
double OutsideBy(double ratio, double lo, double hi) {
  if (ratio < lo) return std::log(lo / ratio);
  if (ratio > hi) return std::log(ratio / hi);
  return 0;
}

// The architecture of `space` whose run of `flops` the law predicts lowest,
// among those whose tokens per active parameter lie in [lo, hi] (any shape
// with lo = 0, hi = inf); when none does, the one nearest that range.
StatusOr<Choice> OptimalArchitecture(const fitter::Law& law,
                                     const fitter::DesignSpace& space,
                                     double flops, double lo, double hi) {
  if (!space.architecture) {
    return InvalidArgumentError(
        "validation runs need a space of architectures");
  }
  std::optional<Choice> best;
  double best_outside = 0;
  std::vector<double> unit(static_cast<size_t>(space.dims()), 0.5);
  for (const std::vector<double>& u : ArchitectureGrid(*space.architecture)) {
    std::copy(u.begin(), u.end(), unit.begin());
    StatusOr<fitter::Architecture> arch = fitter::ArchitectureAt(space, unit);
    if (!arch.ok()) continue;
    // Every family's cost model is linear in tokens.
    StatusOr<double> per_token =
        fitter::RunFlops(law, fitter::FeaturesOf(*arch, 1));
    if (!per_token.ok() || !(*per_token > 0)) continue;
    const double tokens = flops / *per_token;
    if (!(tokens >= static_cast<double>(arch->seq_len) &&
          tokens < kMaxTrainTokens)) {
      continue;
    }
    const fitter::Observation at = fitter::FeaturesOf(*arch, tokens);
    StatusOr<double> loss = fitter::PredictLoss(law, at);
    if (!loss.ok() || !std::isfinite(*loss)) continue;
    const double outside = OutsideBy(TokensPerParam(at), lo, hi);
    if (!best || outside < best_outside ||
        (outside == best_outside && *loss < best->loss)) {
      best = Choice{*arch, tokens, *loss};
      best_outside = outside;
    }
  }
  if (!best) {
    return InvalidArgumentError(
        "flops: no architecture of the design space trains a run of that "
        "size (at least seq_len tokens, at most 9e18)");
  }
  return *best;
}

}  // namespace

double CampaignRun::LargestFittedFlops() const {
  double largest = 0;
  for (const TrialEntry& t : trials_) {
    if (t.trial.state() == v1::TRIAL_STATE_SUCCEEDED &&
        !t.trial.has_validation()) {
      // The run's own size: a branch is charged less than it trained.
      StatusOr<double> flops = fitter::RunFlops(plan_.shape, t.at);
      if (flops.ok()) largest = std::max(largest, *flops);
    }
  }
  return largest;
}

int CampaignRun::ValidationTrials(bool requested) const {
  int n = 0;
  for (const TrialEntry& t : trials_) {
    n += t.trial.has_validation() &&
         t.trial.validation().requested() == requested;
  }
  return n;
}

StatusOr<int32_t> CampaignRun::AddValidationTrial(double flops, bool requested,
                                                  int64_t now_unix_ms) {
  const std::optional<fitter::Law> law = CurrentLaw();
  if (!law) {
    return FailedPreconditionError("campaign '" + id() +
                                   "': the law is not identifiable yet");
  }
  // The range of shapes the law was fitted on, unless the spec frees it.
  double lo = 0, hi = std::numeric_limits<double>::infinity();
  if (!spec_.validate ||
      spec_.validate->shape == campaign::ValidationShape::kObserved) {
    lo = hi = NAN;
    for (const TrialEntry& f : trials_) {
      if (f.trial.state() != v1::TRIAL_STATE_SUCCEEDED ||
          f.trial.has_validation()) {
        continue;
      }
      const double ratio = TokensPerParam(f.at);
      lo = std::isnan(lo) ? ratio : std::min(lo, ratio);
      hi = std::isnan(hi) ? ratio : std::max(hi, ratio);
    }
    if (std::isnan(lo)) {
      return FailedPreconditionError("campaign '" + id() +
                                     "': no run was fitted");
    }
  }
  MOESWEEP_ASSIGN_OR_RETURN(
      Choice c, OptimalArchitecture(*law, plan_.space, flops, lo, hi));
  TrialEntry t;
  t.index = static_cast<int32_t>(trials_.size());
  MOESWEEP_ASSIGN_OR_RETURN(*t.trial.mutable_spec(),
                            MakeSpec(c.arch, c.tokens, t.index));
  // Bigger than any run the limits allow, by design: none of them applies.
  t.trial.mutable_spec()->set_max_seconds(0);
  // Predicted at the tokens the worker trains (whole batches).
  t.at = fitter::FeaturesOf(c.arch,
                            static_cast<double>(t.trial.spec().train_tokens()));
  StatusOr<double> planned = fitter::RunFlops(*law, t.at);
  t.planned_flops = planned.ok() ? *planned : flops;
  MOESWEEP_ASSIGN_OR_RETURN(
      fitter::Interval interval,
      fitter::PredictionInterval(*law, *uncertainty_, t.at, kLevel,
                                 /*include_noise=*/true));
  v1::Validation* v = t.trial.mutable_validation();
  v->set_trial_id(t.trial.spec().trial_id());
  v->set_law_version(laws_.empty() ? 0 : laws_.back().version());
  const double largest = LargestFittedFlops();
  v->set_flops_multiple(largest > 0 ? t.planned_flops / largest : 0);
  v->set_planned_flops(t.planned_flops);
  v->set_predicted_loss(interval.value);
  *v->mutable_predicted_interval() = ToInterval(interval, kLevel);
  v->set_requested(requested);
  t.trial.set_state(v1::TRIAL_STATE_QUEUED);
  *t.trial.mutable_features() = ToRunFeatures(t.at);
  t.trial.set_proposer("validation");
  t.trial.set_created_unix_ms(now_unix_ms);
  queue_.push_back(t.index);
  const int32_t index = t.index;
  AddLoadedTrial(std::move(t));
  return index;
}

Status CampaignRun::RecordValidation(TrialEntry& t, double loss,
                                     int64_t now_unix_ms) {
  if (!(loss > 0) || !std::isfinite(loss)) {
    return InvalidArgumentError("final_eval_loss must be finite and > 0");
  }
  v1::Validation* v = t.trial.mutable_validation();
  v->set_observed_loss(loss);
  v->set_log_error(std::log(loss / v->predicted_loss()));
  v->set_inside(loss >= v->predicted_interval().lower() &&
                loss <= v->predicted_interval().upper());
  v->set_observed_unix_ms(now_unix_ms);
  return OkStatus();
}

std::vector<v1::Validation> CampaignRun::Validations() const {
  std::vector<v1::Validation> out;
  for (const TrialEntry& t : trials_) {
    if (t.trial.has_validation()) out.push_back(t.trial.validation());
  }
  return out;
}

}  // namespace moesweep::coordinator
