// CampaignRun::Restore: a campaign's fit as it stood before a restart.

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "coordinator/campaign_run.h"

namespace moesweep::coordinator {

Status CampaignRun::Restore(const std::vector<const TrialEntry*>& succeeded) {
  // The last stored law saw its first num_observations runs. Fits run
  // behind the trials they fit (scheduler_fits.cc), so a crash can leave
  // later successes unfitted: they wait for the next FitJob, as they did.
  const size_t fitted = laws_.empty()
                            ? succeeded.size()
                            : static_cast<size_t>(std::max<int64_t>(
                                  laws_.back().num_observations(), 0));
  std::vector<fitter::Observation> runs;
  std::unordered_map<std::string, int> run_of;
  for (const TrialEntry* t : succeeded) {
    fitter::Observation o = t->at;
    o.loss = t->trial.final_eval_loss();
    if (!(o.loss > 0) || !std::isfinite(o.loss)) continue;  // never fitted
    if (runs.size() >= fitted) {
      pending_.push_back(
          {o, t->trial.spec().trial_id(), t->trial.finished_unix_ms()});
      continue;
    }
    run_of[t->trial.spec().trial_id()] = static_cast<int>(runs.size());
    observed_ids_.push_back(t->trial.spec().trial_id());
    observed_unix_ms_.push_back(t->trial.finished_unix_ms());
    runs.push_back(std::move(o));
  }
  std::optional<std::vector<double>> theta;
  int64_t version = 0;
  if (!laws_.empty()) {
    const v1::LawEstimate& law = laws_.back();
    theta.emplace();
    for (const v1::LawParameter& p : law.parameters()) {
      theta->push_back(p.value());
    }
    version = law.version();
  }
  // The out-of-sample series, as the law updates published it.
  // One per run: stores written before that rule may repeat a run's error.
  std::vector<fitter::OutOfSample> out_of_sample;
  std::unordered_set<std::string> restored;
  for (const v1::CampaignEvent& e : events_) {
    if (!e.has_law_updated() || !e.law_updated().has_out_of_sample()) continue;
    const v1::OutOfSampleError& m = e.law_updated().out_of_sample();
    auto it = run_of.find(m.trial_id());
    if (it == run_of.end() || !restored.insert(m.trial_id()).second) continue;
    out_of_sample.push_back({it->second, m.law_version(), m.predicted_loss(),
                             m.observed_loss(), m.log_error()});
  }
  MOESWEEP_RETURN_IF_ERROR(fitter_->Restore(std::move(runs), std::move(theta),
                                            version, std::move(out_of_sample)));
  out_of_sample_ = fitter_->OutOfSampleErrors();
  std::optional<fitter::LawSnapshot> s = fitter_->Current();
  if (!s || laws_.empty()) {
    // A fit made here (no law was stored) is published by the first FitJob.
    return OkStatus();
  }
  StatusOr<fitter::LawUncertainty> u = fitter::EstimateCovariance(
      s->law, fitter_->Runs(), spec_.law.huber_delta, s->lineage_correlation);
  if (u.ok()) uncertainty_ = *u;
  law_ = s;
  fitter_version_ = s->version;  // published already
  return OkStatus();
}

}  // namespace moesweep::coordinator
