// moesweep law CAMPAIGN | --law-file F: a law as a table (--json: as stored),
// from a coordinator or a law file; and the coordinator side of
// `moesweep predict CAMPAIGN` and `moesweep optimal CAMPAIGN`.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "CLI/CLI.hpp"
#include "cli/campaign_print.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/feature_value.h"
#include "cli/read_file.h"
#include "cli/text_table.h"

namespace moesweep::cli {
namespace {

std::string Json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

// A law file's parameters, with their intervals when it has them.
Status PrintLawFile(const std::string& path, bool json, std::ostream& out) {
  MOESWEEP_ASSIGN_OR_RETURN(const std::string text, ReadTextFile(path));
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("params") || !j["params"].is_object()) {
    return InvalidArgumentError(path + ": not a law file (moesweep fit --out)");
  }
  if (json) {
    out << j.dump(2) << "\n";
    return OkStatus();
  }
  out << "law " << j.value("law", "?") << ", " << j.value("runs", 0)
      << " runs (" << path << ")\n\n";
  TextTable t({"parameter", "value", "95% lower", "95% upper"});
  const nlohmann::json intervals =
      j.value("intervals", nlohmann::json::object());
  for (const auto& [name, value] : j["params"].items()) {
    const bool has = intervals.contains(name) && intervals[name].size() == 2;
    t.Add({name, value.is_number() ? Sig(value.get<double>()) : "?",
           has ? Sig(intervals[name][0].get<double>()) : "-",
           has ? Sig(intervals[name][1].get<double>()) : "-"});
  }
  t.Print(out);
  return OkStatus();
}

}  // namespace

void AddLawCommand(CLI::App* app, LawCommandOptions* o) {
  CLI::App* cmd = app->add_subcommand(
      "law", "Show a campaign's current law (or a law file's)");
  cmd->add_option("campaign", o->campaign, "Campaign id on a coordinator");
  cmd->add_option("--law-file", o->law_file, "Law file written by fit --out");
  AddConnectionFlags(cmd, &o->connection);
  cmd->add_flag("--json", o->json, "Print the law as JSON");
}

int RunLawCommand(const LawCommandOptions& o, std::ostream& out,
                  std::ostream& err) {
  if (o.campaign.empty() == o.law_file.empty()) {
    return ClientFail(
        "law", InvalidArgumentError("give a campaign id or --law-file"), err);
  }
  if (!o.law_file.empty()) {
    Status s = PrintLawFile(o.law_file, o.json, out);
    return s.ok() ? 0 : ClientFail("law", s, err);
  }
  CampaignCommandOptions c;
  c.verb = "law";
  c.target = o.campaign;
  c.connection = o.connection;
  c.json = o.json;
  return RunCampaignCommand(c, out, err);
}

StatusOr<v1::RunFeatures> RunFeaturesFrom(const std::vector<std::string>& at) {
  v1::RunFeatures features;
  const google::protobuf::Descriptor* d = features.GetDescriptor();
  const google::protobuf::Reflection* r = features.GetReflection();
  for (const std::string& item : at) {
    MOESWEEP_ASSIGN_OR_RETURN(FeatureValue fv, ParseFeatureValue(item));
    const google::protobuf::FieldDescriptor* f = d->FindFieldByName(fv.name);
    if (f == nullptr ||
        f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE) {
      std::string names;
      for (int i = 0; i < d->field_count(); ++i) {
        names += (i ? ", " : "") + d->field(i)->name();
      }
      return InvalidArgumentError("--at '" + item +
                                  "': against a coordinator, give name=value "
                                  "with a name of " +
                                  names);
    }
    r->SetDouble(&features, f, fv.value);
  }
  return features;
}

int RunRemotePredict(const PredictCommandOptions& o, std::ostream& out,
                     std::ostream& err) {
  auto fail = [&](const Status& s) { return ClientFail("predict", s, err); };
  StatusOr<v1::RunFeatures> features = RunFeaturesFrom(o.at);
  if (!features.ok()) return fail(features.status());
  StatusOr<std::unique_ptr<Client>> client =
      Client::Open(o.connection, coordinator::Role::kViewer);
  if (!client.ok()) return fail(client.status());
  v1::PredictRequest q;
  q.set_campaign_id(o.campaign);
  q.set_confidence_level(o.level);
  *q.add_inputs()->mutable_features() = *features;
  v1::PredictResponse r;
  Status s = (*client)->Check(
      (*client)->campaigns().Predict((*client)->Context().get(), q, &r));
  if (!s.ok()) return fail(s);
  if (o.json) {
    out << Json(r) << "\n";
    return 0;
  }
  for (const v1::Prediction& p : r.predictions()) {
    out << "loss " << Sig(p.loss(), 6) << "  " << 100 * o.level
        << "% interval [" << Sig(p.confidence_interval().lower(), 6) << ", "
        << Sig(p.confidence_interval().upper(), 6) << "]; a new run: ["
        << Sig(p.prediction_interval().lower(), 6) << ", "
        << Sig(p.prediction_interval().upper(), 6) << "] (law version "
        << r.law_version() << ")\n";
  }
  return 0;
}

int RunRemoteOptimal(const OptimalCommandOptions& o, std::ostream& out,
                     std::ostream& err) {
  auto fail = [&](const Status& s) { return ClientFail("optimal", s, err); };
  if (!o.experts.empty() || !o.granularity.empty() || o.kv_cache_tokens > 0) {
    return fail(InvalidArgumentError(
        "--experts, --granularity and --kv-cache-tokens apply to a law file; "
        "a campaign's optimum ranges over its own design space"));
  }
  StatusOr<std::unique_ptr<Client>> client =
      Client::Open(o.connection, coordinator::Role::kViewer);
  if (!client.ok()) return fail(client.status());
  v1::OptimalRequest q;
  q.set_campaign_id(o.campaign);
  q.set_budget_flops(o.flops);
  q.set_max_total_params(o.max_total_params);
  q.set_max_active_params(o.max_active_params);
  q.set_max_memory_bytes(static_cast<int64_t>(o.max_memory_bytes));
  q.set_max_flops_per_token(o.max_flops_per_token);
  q.set_confidence_level(o.level);
  v1::OptimalResponse r;
  Status s = (*client)->Check(
      (*client)->campaigns().Optimal((*client)->Context().get(), q, &r));
  if (!s.ok()) return fail(s);
  if (o.json) {
    out << Json(r) << "\n";
  } else {
    PrintOptimal(r, out);
  }
  return 0;
}

}  // namespace moesweep::cli
