// A whole campaign run in-process against the simulated oracle: propose,
// "train", observe, refit, until the question's interval is narrower than the
// target or the budget is spent. Included by fitter/fitter.h.
//
// Thread-safety: thread-safe (no shared state).

#ifndef MOESWEEP_FITTER_CAMPAIGN_SIM_H_
#define MOESWEEP_FITTER_CAMPAIGN_SIM_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "fitter/core.h"
#include "fitter/oracle.h"
#include "fitter/proposer.h"
#include "fitter/uncertainty.h"

namespace moesweep::fitter {

// Finished runs a law parameter a campaign needs before it may stop: a
// delta-method interval from a handful of runs is too narrow to trust.
inline constexpr std::size_t kRunsPerParameter = 4;

// The stopping rule, one for the coordinator and the simulation: true when
// the answer's interval is narrower than `target_relative_width`
// (RelativeWidth), the fit has kRunsPerParameter runs a parameter (`runs`:
// observations in the fit), and no parameter sits on a bound
// (ParametersAtBound): a bound pins that parameter where the data would not,
// so the covariance, and the answer's interval with it, understate what is
// unknown. False too when the law cannot be resolved.
bool MeetsStoppingRule(const Law& law, std::size_t runs, const Interval& answer,
                       double target_relative_width);

struct CampaignSimulation {
  Law shape;  // the law fitted (family, or expr); θ unused
  Law truth;  // the oracle's law (any family)
  DesignSpace space;
  Question question;
  double target_relative_width = 0.01;  // of the question's 95% interval
  double budget_flops = 0;
  int max_parallel_runs = 4;  // runs proposed together
  Strategy strategy = Strategy::kActive;
  std::uint64_t seed = 0;
  OracleOptions oracle;
  double huber_delta = 1e-3;
  int max_runs = 5000;  // a guard against a target never reached
  // Each run's fixed cost in the active score, as a fraction of the largest
  // run the space allows: the coordinator's rule (kRunOverheadFraction).
  double run_overhead_fraction = kRunOverheadFraction;
  // 0: the stopping rule is checked after every batch, as the coordinator
  // does. g > 0: the space-filling baselines (which never read the law) check
  // it only once their runs have grown by the fraction g since the last check,
  // refitting then: campaigns of tens of thousands of runs become affordable,
  // and the FLOPs a baseline spends overshoot the every-batch rule's by at
  // most about g. The active strategy always checks every batch.
  double check_growth = 0;
  // c > 0 (at most 0.5; active strategy only): every run is warmup-stable-
  // decay with a cooldown of c of its tokens (Oracle::TrainWsd), and the
  // proposer may branch new runs from earlier runs' stable phases, paying
  // only the tokens they add (ProposeRequest::cooldown_fraction).
  double cooldown_fraction = 0;

  Status Validate() const;
};

struct CampaignOutcome {
  std::string stop_reason;  // "target reached", "budget spent" or "run limit"
  double flops_spent = 0;
  double gpu_seconds = 0;
  int runs = 0;  // runs trained, diverged ones included
  int diverged = 0;
  int branches = 0;       // runs that branched from a stable run
  bool answered = false;  // an interval exists
  Interval answer;        // the question's estimate and 95% interval
  double truth = 0;       // the question asked of the oracle's law
  double relative_error = 0;
  bool covered = false;  // truth inside the interval
};

StatusOr<CampaignOutcome> SimulateCampaign(const CampaignSimulation& sim);

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_CAMPAIGN_SIM_H_
