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

// Every value an axis allows; a continuous range keeps min and max only when
// `integers` is false (the caller then uses it as a range).
std::vector<double> Values(const campaign::Axis& axis, bool integers) {
  if (axis.is_list()) return axis.values;
  std::vector<double> out;
  if (axis.step > 0) {
    for (double v = axis.min; v <= axis.max * (1 + 1e-12);
         v = axis.log ? v * axis.step : v + axis.step) {
      out.push_back(v);
    }
  } else if (integers) {
    for (double v = std::ceil(axis.min); v <= axis.max; ++v) out.push_back(v);
  }
  return out;
}

fitter::FeatureRange Range(fitter::Feature feature,
                           const campaign::Axis& axis) {
  fitter::FeatureRange r{feature, axis.min, axis.max, axis.log,
                         Values(axis, false)};
  return r;
}

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
  fitter::CampaignSimulation sim;
  MOESWEEP_ASSIGN_OR_RETURN(sim.shape, campaign::LawShape(spec));
  sim.truth = truth;
  const campaign::SpaceSpec& space = spec.space;
  if (space.kind == campaign::SpaceKind::kFeatures) {
    sim.space.axes.push_back(Range(fitter::Feature::kParams, space.params));
    if (space.active_params) {
      sim.space.axes.push_back(
          Range(fitter::Feature::kActiveParams, *space.active_params));
    }
  } else {
    fitter::ArchitectureAxes arch;
    arch.base.vocab_size = space.vocab_size;
    arch.base.seq_len = space.seq_len;
    arch.d_model = Values(space.d_model, true);
    arch.layers = Values(space.layers, true);
    arch.experts = Values(space.experts, true);
    arch.top_k = Values(space.top_k, true);
    arch.granularity = Values(space.granularity, true);
    arch.shared = Values(space.shared_experts, true);
    arch.head_dim =
        space.head_dim ? *space.head_dim : arch.d_model.front() / *space.heads;
    sim.space.architecture = arch;
  }
  sim.space.axes.push_back(Range(fitter::Feature::kTokens, space.tokens));
  sim.space.max_run_flops = spec.limits.max_flops.value_or(0);
  sim.space.max_run_tokens = spec.limits.max_tokens.value_or(0);

  const campaign::QuestionSpec& q = spec.question;
  sim.question.optimal.flops = q.flops;
  sim.question.optimal.profile_points = 25;
  switch (q.kind) {
    case campaign::QuestionKind::kComputeOptimalLoss:
      sim.question.kind = fitter::QuestionKind::kComputeOptimalLoss;
      break;
    case campaign::QuestionKind::kOptimalArchitecture:
      sim.question.kind = fitter::QuestionKind::kOptimalSize;
      sim.question.optimal.max_total_params =
          q.max_total_params.value_or(sim.question.optimal.max_total_params);
      sim.question.optimal.max_active_params =
          q.max_active_params.value_or(sim.question.optimal.max_active_params);
      sim.question.optimal.max_memory_bytes =
          q.max_memory_bytes.value_or(sim.question.optimal.max_memory_bytes);
      sim.question.optimal.max_flops_per_token = q.max_flops_per_token.value_or(
          sim.question.optimal.max_flops_per_token);
      break;
    case campaign::QuestionKind::kLawParameter: {
      sim.question.kind = fitter::QuestionKind::kLawParameter;
      MOESWEEP_ASSIGN_OR_RETURN(std::vector<std::string> names,
                                campaign::LawParameterNames(spec));
      const auto it = std::find(names.begin(), names.end(), q.name);
      if (it == names.end())
        return InvalidArgumentError("question.name: unknown parameter");
      sim.question.param_index = static_cast<int>(it - names.begin());
      break;
    }
    case campaign::QuestionKind::kPrediction:
      sim.question.kind = fitter::QuestionKind::kPrediction;
      for (const campaign::FeatureValue& fv : q.at)
        sim.question.at.Set(fv.feature, fv.value);
      break;
  }
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
  cmd->add_option("--strategy", o->strategy,
                  "active, grid, random or sobol (default: the spec's)");
  cmd->add_option("--truth", o->truth_file,
                  "Law file of the ground truth (default: published)");
  cmd->add_option("--seeds", o->seeds,
                  "Independent campaigns, seeds spec.seed, +1, ...")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object");
}

int RunSimulateCommand(const SimulateCommandOptions& o, std::ostream& out,
                       std::ostream& err) {
  auto fail = [&](const Status& s) { return Fail("simulate", s, err); };
  if (o.seeds < 1) return fail(InvalidArgumentError("--seeds must be >= 1"));
  StatusOr<campaign::CampaignSpec> spec =
      campaign::ReadCampaignSpec(o.campaign);
  if (!spec.ok()) return fail(spec.status());
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
                         {"answer", c.answer.value},
                         {"interval", {c.answer.lower, c.answer.upper}},
                         {"truth", c.truth},
                         {"relative_error", c.relative_error},
                         {"covered", c.covered}});
    if (!o.json) {
      out << std::setprecision(4) << "seed " << run.seed << ": "
          << c.stop_reason << " after " << c.runs << " runs, " << c.flops_spent
          << " FLOPs (" << c.gpu_seconds / 3600 << " GPU-hours); answer "
          << c.answer.value << " [" << c.answer.lower << ", " << c.answer.upper
          << "], truth " << c.truth << ", error " << 100 * c.relative_error
          << "%\n";
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
