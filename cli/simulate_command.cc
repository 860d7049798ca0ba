// moesweep simulate: a whole campaign in-process against the simulated
// oracle; prints the FLOPs it spent, its runs, the answer with its interval,
// the true value and the error. Doubles as planning: how much compute does a
// question need?

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <nlohmann/json.hpp>

#include "CLI/CLI.hpp"
#include "campaign/campaign.h"
#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/law_json.h"
#include "fitter/fitter.h"

namespace moesweep::cli {
namespace {

StatusOr<fitter::Law> DefaultTruth(const std::string& family) {
  const char* preset = family == "chinchilla"     ? "epoch"
                       : family == "finegrained"  ? "krajewski2024"
                       : family == "joint"        ? "ludziejewski2025"
                       : family == "datablations" ? "muennighoff2023"
                                                  : nullptr;
  if (!preset) {
    return InvalidArgumentError(
        "family '" + family +
        "' ships no coefficients: give the truth with --truth law.json");
  }
  return fitter::PublishedLaw(family, preset);
}

StatusOr<fitter::CampaignSimulation> ToSimulation(
    const campaign::CampaignSpec& spec, const fitter::Law& truth) {
  MOESWEEP_ASSIGN_OR_RETURN(campaign::CampaignPlan plan,
                            campaign::PlanCampaign(spec));
  fitter::CampaignSimulation sim;
  sim.shape = plan.shape;
  sim.truth = truth;
  sim.space = plan.space;
  sim.question = plan.question;
  sim.target_relative_width = spec.target_relative_width;
  sim.budget_flops = spec.budget.flops;
  sim.max_parallel_runs = spec.max_parallel_runs;
  sim.strategy = spec.strategy;
  sim.seed = spec.seed;
  sim.huber_delta = spec.law.huber_delta;
  return sim;
}

}  // namespace

void AddSimulateCommand(CLI::App* app, SimulateCommandOptions* o) {
  CLI::App* cmd = app->add_subcommand(
      "simulate",
      "Run a campaign against a simulated ground truth (planning, baselines)");
  cmd->add_option("campaign", o->campaign, "Campaign YAML")->required();
  cmd->add_option(
      "--strategy", o->strategy,
      "active, grid, random, sobol or holistic (default: the spec's)");
  cmd->add_option("--truth", o->truth_file,
                  "Law file of the ground truth (default: published)");
  cmd->add_option("--seeds", o->seeds,
                  "Independent campaigns, seeds spec.seed, +1, ...")
      ->capture_default_str();
  cmd->add_option("--cooldown", o->cooldown,
                  "Warmup-stable-decay runs cooling down over this fraction "
                  "of their tokens (0 to 0.5), and runs branched from "
                  "earlier runs' checkpoints (active strategy); default: "
                  "0.2 for a spec with training.branching, else 0");
  cmd->add_flag("--json", o->json, "Print one JSON object");
}

int RunSimulateCommand(const SimulateCommandOptions& o, std::ostream& out,
                       std::ostream& err) {
  auto fail = [&](const Status& s) { return Fail("simulate", s, err); };
  if (o.seeds < 1) return fail(InvalidArgumentError("--seeds must be >= 1"));
  StatusOr<campaign::CampaignSpec> spec =
      campaign::ReadCampaignSpec(o.campaign);
  if (!spec.ok()) return fail(spec.status());
  for (const std::string& w : campaign::CampaignSpecWarnings(*spec))
    err << "moesweep simulate: warning: " << w << "\n";
  if (!o.strategy.empty()) {
    StatusOr<campaign::Strategy> s = campaign::StrategyFromName(o.strategy);
    if (!s.ok()) return fail(s.status());
    spec->strategy = *s;
  }
  StatusOr<fitter::Law> truth = DefaultTruth(spec->law.family);
  if (!o.truth_file.empty()) {
    StatusOr<LawFile> file = ReadLawFile(o.truth_file);
    if (!file.ok()) return fail(file.status());
    truth = file->law;
  }
  if (!truth.ok()) return fail(truth.status());
  StatusOr<fitter::CampaignSimulation> sim = ToSimulation(*spec, *truth);
  if (!sim.ok()) return fail(sim.status());
  sim->cooldown_fraction =
      o.cooldown ? *o.cooldown
                 : (spec->training.branching ? campaign::kWsdDecayFraction : 0);
  if (Status valid = sim->Validate(); !valid.ok()) return fail(valid);

  nlohmann::ordered_json j;
  j["campaign"] = o.campaign;
  j["strategy"] = fitter::StrategyName(spec->strategy);
  j["runs"] = nlohmann::ordered_json::array();
  std::vector<double> flops;
  int covered = 0;
  for (int k = 0; k < o.seeds; ++k) {
    fitter::CampaignSimulation run = *sim;
    run.seed = sim->seed + k;
    StatusOr<fitter::CampaignOutcome> outcome = fitter::SimulateCampaign(run);
    if (!outcome.ok()) return fail(outcome.status());
    const fitter::CampaignOutcome& c = *outcome;
    flops.push_back(c.flops_spent);
    covered += c.covered;
    j["runs"].push_back({{"seed", run.seed},
                         {"stop", c.stop_reason},
                         {"flops", c.flops_spent},
                         {"gpu_hours", c.gpu_seconds / 3600},
                         {"runs", c.runs},
                         {"diverged", c.diverged},
                         {"branches", c.branches},
                         {"answer", c.answer.value},
                         {"interval", {c.answer.lower, c.answer.upper}},
                         {"truth", c.truth},
                         {"relative_error", c.relative_error},
                         {"covered", c.covered}});
    if (!o.json) {
      out << std::setprecision(4) << "seed " << run.seed << ": "
          << c.stop_reason << " after " << c.runs << " runs";
      if (run.cooldown_fraction > 0) out << " (" << c.branches << " branches)";
      out << ", " << c.flops_spent << " FLOPs (" << c.gpu_seconds / 3600
          << " GPU-hours); answer " << c.answer.value << " [" << c.answer.lower
          << ", " << c.answer.upper << "], truth " << c.truth << ", error "
          << 100 * c.relative_error << "%\n";
    }
  }
  std::sort(flops.begin(), flops.end());
  const double median = flops[flops.size() / 2];
  j["median_flops"] = median;
  j["coverage"] = double(covered) / o.seeds;
  if (o.json) {
    out << j.dump() << "\n";
  } else {
    out << std::setprecision(4) << "median FLOPs " << median
        << "; the 95% interval held the truth in " << covered << " of "
        << o.seeds << " campaigns\n";
  }
  return 0;
}

}  // namespace moesweep::cli
