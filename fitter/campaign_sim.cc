#include "fitter/campaign_sim.h"

#include <cmath>
#include <memory>

#include "fitter/fitter.h"

namespace moesweep::fitter {

Status CampaignSimulation::Validate() const {
  MOESWEEP_RETURN_IF_ERROR(space.Validate());
  MOESWEEP_RETURN_IF_ERROR(oracle.Validate());
  if (!(target_relative_width > 0)) {
    return InvalidArgumentError("target_relative_width must be > 0");
  }
  if (!(budget_flops > 0))
    return InvalidArgumentError("budget_flops must be > 0");
  if (max_parallel_runs < 1)
    return InvalidArgumentError("max_parallel_runs must be >= 1");
  if (max_runs < 1) return InvalidArgumentError("max_runs must be >= 1");
  return OkStatus();
}

StatusOr<CampaignOutcome> SimulateCampaign(const CampaignSimulation& sim) {
  MOESWEEP_RETURN_IF_ERROR(sim.Validate());
  IncrementalOptions fit_options;
  fit_options.huber_delta = sim.huber_delta;
  fit_options.background = false;  // deterministic
  fit_options.num_threads = 1;
  fit_options.full_refit_every = 50;
  fit_options.full_refit_growth = 0.5;
  fit_options.max_grid_starts = 500;
  std::unique_ptr<IncrementalFitter> fitter;
  if (sim.shape.family == "expr") {
    MOESWEEP_ASSIGN_OR_RETURN(
        fitter, IncrementalFitter::Create(sim.shape.expr, fit_options));
  } else {
    MOESWEEP_ASSIGN_OR_RETURN(
        fitter, IncrementalFitter::Create(sim.shape.family, fit_options));
  }
  const Oracle oracle(sim.truth, sim.oracle, sim.seed);
  CampaignOutcome outcome;
  MOESWEEP_ASSIGN_OR_RETURN(outcome.truth,
                            EvaluateQuestion(sim.truth, sim.question));

  int proposed = 0;
  while (true) {
    std::optional<LawSnapshot> law = fitter->Current();
    std::optional<LawUncertainty> uncertainty;
    if (law) {
      const std::vector<Observation> runs = fitter->Runs();
      StatusOr<LawUncertainty> u =
          EstimateCovariance(law->law, runs, sim.huber_delta);
      if (u.ok()) {
        StatusOr<Interval> interval = DeltaMethodInterval(
            law->law, *u,
            [&](const Law& l) { return EvaluateQuestion(l, sim.question); },
            0.95);
        if (interval.ok() && std::isfinite(interval->lower) &&
            std::isfinite(interval->upper)) {
          uncertainty = *u;
          outcome.answered = true;
          outcome.answer = *interval;
          const double width =
              (interval->upper - interval->lower) / std::abs(interval->value);
          // A delta-method interval from a handful of runs is too narrow to
          // trust: stopping needs four runs a parameter.
          const bool enough = runs.size() >= 4 * law->law.theta.size();
          if (enough && width < sim.target_relative_width) {
            outcome.stop_reason = "target reached";
            break;
          }
        }
      }
    }
    if (outcome.flops_spent >= sim.budget_flops) {
      outcome.stop_reason = "budget spent";
      break;
    }
    if (outcome.runs >= sim.max_runs) {
      outcome.stop_reason = "run limit";
      break;
    }
    ProposeRequest request;
    request.strategy = sim.strategy;
    request.batch = sim.max_parallel_runs;
    request.seed = sim.seed;
    request.proposed_before = proposed;
    request.noise_reference_flops = sim.oracle.reference_flops;
    if (law && uncertainty) {
      request.law = &law->law;
      request.uncertainty = &*uncertainty;
    }
    MOESWEEP_ASSIGN_OR_RETURN(
        std::vector<Candidate> batch,
        ProposeRuns(sim.shape, sim.space, sim.question, request));
    proposed += static_cast<int>(batch.size());
    for (const Candidate& c : batch) {
      MOESWEEP_ASSIGN_OR_RETURN(SimulatedRun run,
                                oracle.Train(c.at, c.flops, outcome.runs));
      ++outcome.runs;
      outcome.flops_spent += run.flops_spent;
      outcome.gpu_seconds += run.gpu_seconds;
      if (run.diverged) {
        ++outcome.diverged;
        continue;
      }
      Observation observed = c.at;
      observed.loss = run.final_loss;
      MOESWEEP_RETURN_IF_ERROR(fitter->Add(observed));
    }
  }
  if (outcome.answered) {
    outcome.relative_error = std::abs(outcome.answer.value - outcome.truth) /
                             std::abs(outcome.truth);
    outcome.covered = outcome.answer.lower <= outcome.truth &&
                      outcome.truth <= outcome.answer.upper;
  }
  return outcome;
}

}  // namespace moesweep::fitter
