// moesweep predict: a law's predicted loss at given features, with intervals.

#include <algorithm>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "CLI/CLI.hpp"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/feature_value.h"
#include "cli/law_json.h"
#include "fitter/fitter.h"

namespace moesweep::cli {
namespace {

StatusOr<fitter::Observation> ParseAt(const std::vector<std::string>& at,
                                      std::span<const fitter::Feature> needed) {
  fitter::Observation point;
  std::vector<fitter::Feature> given;
  for (const std::string& item : at) {
    StatusOr<FeatureValue> fv = ParseFeatureValue(item);
    if (!fv.ok()) return fv.status();
    const std::string name = fv->name == "N"   ? "params"
                             : fv->name == "D" ? "tokens"
                                               : fv->name;
    MOESWEEP_ASSIGN_OR_RETURN(fitter::Feature f, fitter::FeatureFromName(name));
    point.Set(f, fv->value);
    given.push_back(f);
  }
  for (fitter::Feature f : needed) {
    if (std::find(given.begin(), given.end(), f) == given.end()) {
      return InvalidArgumentError("--at lacks " +
                                  std::string(fitter::FeatureName(f)) +
                                  ", which this law reads");
    }
  }
  return point;
}

}  // namespace

void AddPredictCommand(CLI::App* app, PredictCommandOptions* o) {
  CLI::App* cmd = app->add_subcommand(
      "predict",
      "Predict the loss of a run from a law file or a campaign's law");
  cmd->add_option("campaign", o->campaign,
                  "Campaign id: ask its coordinator instead of a law file");
  AddConnectionFlags(cmd, &o->connection);
  cmd->add_option("--law-file", o->law_file, "Law file written by fit --out");
  cmd->add_option("--at", o->at, "Features, e.g. N=1e9,D=2e10")
      ->delimiter(',')
      ->required();
  cmd->add_option("--level", o->level, "Interval level")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object");
}

int RunPredictCommand(const PredictCommandOptions& o, std::ostream& out,
                      std::ostream& err) {
  auto fail = [&](const Status& s) { return Fail("predict", s, err); };
  if (!o.campaign.empty() && !o.law_file.empty()) {
    return fail(
        InvalidArgumentError("give a campaign id or --law-file, not both"));
  }
  if (!o.campaign.empty()) return RunRemotePredict(o, out, err);
  if (o.law_file.empty()) {
    return fail(InvalidArgumentError("give a campaign id or --law-file"));
  }
  StatusOr<LawFile> file = ReadLawFile(o.law_file);
  if (!file.ok()) return fail(file.status());
  WarnAtBound("predict", file->law, err);
  StatusOr<std::vector<fitter::Feature>> features =
      fitter::LawFeatures(file->law);
  if (!features.ok()) return fail(features.status());
  StatusOr<fitter::Observation> at = ParseAt(o.at, *features);
  if (!at.ok()) return fail(at.status());
  StatusOr<double> loss = fitter::PredictLoss(file->law, *at);
  if (!loss.ok()) return fail(loss.status());

  nlohmann::ordered_json j;
  j["law"] = file->law.family;
  for (fitter::Feature f : *features)
    j["at"][std::string(fitter::FeatureName(f))] = at->Get(f);
  j["loss"] = *loss;
  std::ostringstream text;
  text << std::setprecision(6) << "loss " << *loss;
  if (file->uncertainty) {
    auto mean = fitter::PredictionInterval(file->law, *file->uncertainty, *at,
                                           o.level, false);
    auto run = fitter::PredictionInterval(file->law, *file->uncertainty, *at,
                                          o.level, true);
    if (!mean.ok()) return fail(mean.status());
    if (!run.ok()) return fail(run.status());
    j["level"] = o.level;
    j["interval"] = {mean->lower, mean->upper};
    j["run_interval"] = {run->lower, run->upper};
    text << "  " << 100 * o.level << "% interval [" << mean->lower << ", "
         << mean->upper << "]; a new run: [" << run->lower << ", " << run->upper
         << "]";
  }
  out << (o.json ? j.dump() : text.str()) << "\n";
  return 0;
}

}  // namespace moesweep::cli
