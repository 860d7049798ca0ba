#include "fitter/campaign_sim.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <vector>

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
  if (!(check_growth >= 0))
    return InvalidArgumentError("check_growth must be >= 0");
  if (!(cooldown_fraction >= 0 && cooldown_fraction <= 0.5)) {
    return InvalidArgumentError("cooldown_fraction must be in [0, 0.5]");
  }
  if (cooldown_fraction > 0 && strategy != Strategy::kActive) {
    return InvalidArgumentError(
        "branching (cooldown_fraction > 0) needs the active strategy");
  }
  if (!(run_overhead_fraction >= 0)) {
    return InvalidArgumentError("run_overhead_fraction must be >= 0");
  }
  return OkStatus();
}

namespace {

// The question's interval from the current law, recorded in `outcome`; true
// when it is narrow enough to stop. `uncertainty` receives the covariance
// when there is one.
bool CheckStop(const CampaignSimulation& sim, const IncrementalFitter& fitter,
               const LawSnapshot& law,
               std::optional<LawUncertainty>& uncertainty,
               CampaignOutcome& outcome) {
  const std::vector<Observation> runs = fitter.Runs();
  StatusOr<LawUncertainty> u = EstimateCovariance(
      law.law, runs, sim.huber_delta, law.lineage_correlation);
  if (!u.ok()) return false;
  StatusOr<Interval> interval =
      QuestionInterval(law.law, *u, sim.question, 0.95);
  if (!interval.ok() || !std::isfinite(interval->lower) ||
      !std::isfinite(interval->upper)) {
    return false;
  }
  uncertainty = *u;
  outcome.answered = true;
  outcome.answer = *interval;
  if (MeetsStoppingRule(law.law, runs.size(), *interval,
                        sim.target_relative_width)) {
    outcome.stop_reason = "target reached";
    return true;
  }
  return false;
}

}  // namespace

bool MeetsStoppingRule(const Law& law, std::size_t runs, const Interval& answer,
                       double target_relative_width) {
  if (runs < kRunsPerParameter * law.theta.size()) return false;
  if (!(RelativeWidth(answer) < target_relative_width)) return false;
  StatusOr<std::vector<ParameterAtBound>> at_bound = ParametersAtBound(law);
  return at_bound.ok() && at_bound->empty();
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

  const double overhead_flops =
      sim.run_overhead_fraction * LargestRunFlops(sim.shape, sim.space);
  int proposed = 0;
  int next_check = 0;                 // runs at which the rule is next checked
  std::vector<Observation> unfitted;  // trained, not yet in the fit
  std::optional<LawSnapshot> law;
  std::optional<LawUncertainty> uncertainty;
  const bool adaptive = sim.strategy == Strategy::kActive;
  const double cooldown = sim.cooldown_fraction;
  std::vector<StableRun> stable;  // with branching: every stable phase
  std::uint64_t next_lineage = 1;
  while (true) {
    const bool out_of_budget = outcome.flops_spent >= sim.budget_flops;
    const bool out_of_runs = outcome.runs >= sim.max_runs;
    if (adaptive || sim.check_growth <= 0 || outcome.runs >= next_check ||
        out_of_budget || out_of_runs) {
      // The runs trained since the last check join the fit together.
      MOESWEEP_RETURN_IF_ERROR(fitter->AddBatch(unfitted));
      unfitted.clear();
      next_check = static_cast<int>(
          std::ceil(outcome.runs * (1 + std::max(sim.check_growth, 0.0))));
      law = fitter->Current();
      uncertainty.reset();
      if (law && CheckStop(sim, *fitter, *law, uncertainty, outcome)) break;
    }
    if (out_of_budget) {
      outcome.stop_reason = "budget spent";
      break;
    }
    if (out_of_runs) {
      outcome.stop_reason = "run limit";
      break;
    }
    ProposeRequest request;
    request.strategy = sim.strategy;
    request.batch = sim.max_parallel_runs;
    request.seed = sim.seed;
    request.proposed_before = proposed;
    request.noise_reference_flops = sim.oracle.reference_flops;
    request.run_overhead_flops = overhead_flops;
    request.cooldown_fraction = cooldown;
    // The latest kMaxStableRuns stable phases may be branched from.
    const std::size_t first =
        stable.size() > kMaxStableRuns ? stable.size() - kMaxStableRuns : 0;
    request.stable_runs = std::span<const StableRun>(stable).subspan(first);
    if (law && uncertainty) {
      request.law = &law->law;
      request.uncertainty = &*uncertainty;
    }
    MOESWEEP_ASSIGN_OR_RETURN(
        std::vector<Candidate> batch,
        ProposeRuns(sim.shape, sim.space, sim.question, request));
    proposed += static_cast<int>(batch.size());
    for (const Candidate& c : batch) {
      SimulatedRun run;
      std::uint64_t lineage = 0;
      if (cooldown > 0) {
        lineage =
            c.parent >= 0 ? stable[first + c.parent].lineage : next_lineage++;
        MOESWEEP_ASSIGN_OR_RETURN(
            run,
            oracle.TrainWsd(c.at, c.flops, {lineage, cooldown, c.resume_tokens},
                            outcome.runs));
      } else {
        MOESWEEP_ASSIGN_OR_RETURN(run,
                                  oracle.Train(c.at, c.flops, outcome.runs));
      }
      ++outcome.runs;
      outcome.branches += c.parent >= 0;
      outcome.flops_spent += run.flops_spent;
      outcome.gpu_seconds += run.gpu_seconds;
      if (run.diverged) {
        ++outcome.diverged;
        continue;
      }
      unfitted.push_back(c.at);
      unfitted.back().loss = run.final_loss;
      unfitted.back().lineage = lineage;
      if (cooldown <= 0) continue;
      const double stable_end = (1 - cooldown) * c.at.tokens;
      if (c.parent < 0) {
        stable.push_back({c.at,
                          lineage,
                          stable_end,
                          StableCheckpoints(0, stable_end),
                          {c.at.tokens}});
        continue;
      }
      StableRun& parent = stable[first + c.parent];
      parent.branch_tokens.push_back(c.at.tokens);
      if (stable_end > parent.stable_tokens) {
        for (double t : StableCheckpoints(parent.stable_tokens, stable_end))
          parent.checkpoints.push_back(t);
        parent.stable_tokens = stable_end;
      }
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
