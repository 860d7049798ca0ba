// moesweep optimal: the compute-optimal model of a law at a FLOPs budget.

#include <cmath>
#include <iomanip>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "CLI/CLI.hpp"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/law_json.h"
#include "cli/text_table.h"
#include "fitter/fitter.h"

namespace moesweep::cli {
namespace {

double CapOrNone(double cap) {
  return cap > 0 ? cap : std::numeric_limits<double>::infinity();
}

nlohmann::ordered_json PointJson(const fitter::OptimalPoint& p) {
  return {{"loss", p.loss},
          {"params", p.params},
          {"active_params", p.active_params},
          {"tokens", p.tokens},
          {"flops_per_token", p.flops_per_token},
          {"memory_bytes", p.memory_bytes},
          {"num_experts", p.num_experts},
          {"granularity", p.granularity},
          {"active_experts", p.active_experts},
          {"shared_ratio", p.shared_ratio}};
}

// One row per discrete choice in the band: its sizes from smallest to
// largest, and the tokens that go with each at the budget.
void PrintBand(const std::string& family, double band,
               const std::vector<fitter::NearOptimalRange>& ranges,
               std::ostream& out) {
  out << "\nwithin " << 100 * band << "% of the optimum's loss:\n";
  TextTable table(
      {"CHOICE", "ACTIVE PARAMS", "TOTAL PARAMS", "TOKENS", "BEST LOSS"});
  auto range = [](double lo, double hi) { return Sig(lo) + " to " + Sig(hi); };
  for (const fitter::NearOptimalRange& r : ranges) {
    std::string choice = "dense";
    if (family == "joint") choice = "E=" + Sig(r.best.num_experts);
    if (family == "finegrained") choice = "G=" + Sig(r.best.granularity);
    if (family == "comprehensive") {
      choice =
          "G=" + Sig(r.best.active_experts) + " S=" + Sig(r.best.shared_ratio);
    }
    table.Add({choice, range(r.smallest.active_params, r.largest.active_params),
               range(r.smallest.params, r.largest.params),
               range(r.largest.tokens, r.smallest.tokens), Sig(r.best.loss)});
  }
  table.Print(out);
}

}  // namespace

void AddOptimalCommand(CLI::App* app, OptimalCommandOptions* o) {
  CLI::App* cmd =
      app->add_subcommand("optimal",
                          "The compute-optimal model of a law (a law file or a "
                          "campaign's) at a FLOPs budget");
  cmd->add_option("campaign", o->campaign,
                  "Campaign id: ask its coordinator instead of a law file");
  AddConnectionFlags(cmd, &o->connection);
  cmd->add_option("--law-file", o->law_file, "Law file written by fit --out");
  cmd->add_option("--flops", o->flops, "Training budget in FLOPs")->required();
  cmd->add_option("--max-total-params", o->max_total_params,
                  "Cap on total parameters");
  cmd->add_option("--max-active-params", o->max_active_params,
                  "Cap on active parameters");
  cmd->add_option("--max-memory-bytes", o->max_memory_bytes,
                  "Cap on bf16 weights plus the KV cache");
  cmd->add_option("--max-flops-per-token", o->max_flops_per_token,
                  "Cap on FLOPs per token");
  cmd->add_option("--kv-cache-tokens", o->kv_cache_tokens,
                  "KV-cache tokens counted in memory");
  cmd->add_option("--experts", o->experts,
                  "Allowed expert counts, e.g. 1,2,4,8")
      ->delimiter(',');
  cmd->add_option("--granularity", o->granularity, "Allowed granularities")
      ->delimiter(',');
  cmd->add_option("--level", o->level, "Interval level")->capture_default_str();
  cmd->add_option("--band", o->band,
                  "Also list every model within this fraction of the optimum's "
                  "loss (Wan et al. 2026 use 0.001)");
  cmd->add_flag("--json", o->json,
                "Print one JSON object, with the isoFLOP profile");
}

int RunOptimalCommand(const OptimalCommandOptions& o, std::ostream& out,
                      std::ostream& err) {
  auto fail = [&](const Status& s) { return Fail("optimal", s, err); };
  if (!o.campaign.empty() && !o.law_file.empty()) {
    return fail(
        InvalidArgumentError("give a campaign id or --law-file, not both"));
  }
  if (!o.campaign.empty()) return RunRemoteOptimal(o, out, err);
  if (o.law_file.empty()) {
    return fail(InvalidArgumentError("give a campaign id or --law-file"));
  }
  StatusOr<LawFile> file = ReadLawFile(o.law_file);
  if (!file.ok()) return fail(file.status());
  WarnAtBound("optimal", file->law, err);
  fitter::OptimalOptions options;
  options.flops = o.flops;
  options.max_total_params = CapOrNone(o.max_total_params);
  options.max_active_params = CapOrNone(o.max_active_params);
  options.max_memory_bytes = CapOrNone(o.max_memory_bytes);
  options.max_flops_per_token = CapOrNone(o.max_flops_per_token);
  options.kv_cache_tokens = o.kv_cache_tokens;
  options.allowed_experts = o.experts;
  options.allowed_granularity = o.granularity;
  options.band = o.band;
  StatusOr<fitter::OptimalResult> result =
      fitter::SolveOptimal(file->law, options);
  if (!result.ok()) return fail(result.status());

  std::optional<fitter::Interval> interval;
  if (file->uncertainty) {
    // The campaign's own answer interval: on log loss, so always positive.
    fitter::Question question;
    question.kind = fitter::QuestionKind::kComputeOptimalLoss;
    question.optimal = options;
    StatusOr<fitter::Interval> i = fitter::QuestionInterval(
        file->law, *file->uncertainty, question, o.level);
    if (i.ok()) interval = *i;
  }
  const fitter::OptimalPoint& b = result->best;
  if (o.json) {
    nlohmann::ordered_json j;
    j["law"] = file->law.family;
    j["flops"] = o.flops;
    j["best"] = PointJson(b);
    if (interval) {
      j["level"] = o.level;
      j["loss_interval"] = {interval->lower, interval->upper};
    }
    j["isoflop"] = nlohmann::ordered_json::array();
    for (const fitter::OptimalPoint& p : result->isoflop)
      j["isoflop"].push_back(PointJson(p));
    if (o.band > 0) {
      j["band"] = nlohmann::ordered_json::array();
      for (const fitter::NearOptimalRange& r : result->band) {
        j["band"].push_back({{"smallest", PointJson(r.smallest)},
                             {"best", PointJson(r.best)},
                             {"largest", PointJson(r.largest)}});
      }
    }
    out << j.dump() << "\n";
    return 0;
  }
  out << std::setprecision(4) << "budget          " << o.flops << " FLOPs\n"
      << "loss            " << b.loss;
  if (interval) {
    out << "  (" << 100 * o.level << "% interval " << interval->lower << " to "
        << interval->upper << ")";
  }
  out << "\n"
      << "total params    " << b.params << "\n"
      << "active params   " << b.active_params << "\n"
      << "tokens          " << b.tokens << "\n"
      << "FLOPs/token     " << b.flops_per_token << "\n"
      << "memory bytes    " << b.memory_bytes << "\n";
  if (file->law.family == "joint")
    out << "experts         " << b.num_experts << "\n";
  if (file->law.family == "finegrained")
    out << "granularity     " << b.granularity << "\n";
  if (file->law.family == "comprehensive") {
    out << "active experts  " << b.active_experts << "\n"
        << "shared ratio    " << b.shared_ratio << "\n";
  }
  if (o.band > 0) PrintBand(file->law.family, o.band, result->band, out);
  return 0;
}

}  // namespace moesweep::cli
