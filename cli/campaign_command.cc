// moesweep campaign <verb>: a CampaignService client. Prints each answer as
// JSON (the proto3 JSON mapping), one object per line for watch.

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "campaign/campaign.h"
#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/read_file.h"
#include "coordinator/coordinator.h"
#include "moesweep/v1/campaign.grpc.pb.h"

namespace moesweep::cli {
namespace {

namespace v1 = ::moesweep::v1;

const char* const kVerbs[] = {"create", "list",    "get",     "watch",  "law",
                              "trials", "cancel",  "pause",   "resume", "amend",
                              "export", "optimal", "validate"};

// The token for `role` from a tokens file (`<role> <token>` lines, an admin
// token serving as viewer too), or the file's one bare token.
StatusOr<std::string> TokenFor(const std::string& path,
                               coordinator::Role role) {
  StatusOr<std::vector<coordinator::Credential>> creds =
      coordinator::ReadTokensFile(path);
  if (creds.ok()) {
    for (const auto& c : *creds) {
      if (c.role == role) return c.token;
    }
    for (const auto& c : *creds) {
      if (c.role == coordinator::Role::kAdmin) return c.token;
    }
    return InvalidArgumentError(path + ": no " +
                                std::string(coordinator::RoleName(role)) +
                                " or admin token");
  }
  std::ifstream in(path);
  if (!in) return NotFoundError(path + ": cannot read the token file");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line.substr(0, line.find('#')));
    std::string token, extra;
    if (!(fields >> token)) continue;
    if (fields >> extra) break;
    return token;
  }
  return InvalidArgumentError(path +
                              ": no token (a token alone, or '<role> "
                              "<token>' lines)");
}

Status FromGrpc(const grpc::Status& s, const std::string& address) {
  if (s.ok()) return OkStatus();
  std::string message = s.error_message();
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message = "coordinator at " + address + " unavailable: " + message;
  }
  return Status(static_cast<StatusCode>(s.error_code()), message);
}

std::string Json(const google::protobuf::Message& m, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  if (!pretty) out += "\n";
  return out;
}

}  // namespace

void AddCampaignCommand(CLI::App* app, CampaignCommandOptions* o) {
  CLI::App* cmd = app->add_subcommand(
      "campaign",
      "Talk to a coordinator: create, list, get, watch, law, "
      "trials, cancel, pause, resume, amend, export, optimal, validate");
  cmd->add_option("verb", o->verb, "What to do")
      ->required()
      ->check(CLI::IsMember(
          std::vector<std::string>(std::begin(kVerbs), std::end(kVerbs))));
  cmd->add_option("target", o->target,
                  "Campaign YAML (create) or campaign id (the rest)");
  cmd->add_option("--coordinator", o->coordinator, "host:port")
      ->capture_default_str();
  cmd->add_option("--token-file", o->token_file,
                  "A token alone, or the coordinator's '<role> <token>' file")
      ->required();
  cmd->add_option("--request-id", o->request_id, "create: makes retries safe");
  cmd->add_flag("--validate-only", o->validate_only, "create: store nothing");
  cmd->add_option("--budget-flops", o->budget_flops, "amend: new budget");
  cmd->add_option("--target-width", o->target_width,
                  "amend: new relative interval width");
  cmd->add_option("--table", o->table,
                  "export: trials, curves, laws, out_of_sample or validation")
      ->capture_default_str();
  cmd->add_option("--format", o->format, "export: csv or jsonl")
      ->capture_default_str();
  cmd->add_option("--flops", o->flops,
                  "optimal: the budget; validate: the validation run's "
                  "training FLOPs");
  cmd->add_flag("--progress", o->progress, "watch: also every report");
  cmd->add_flag("--stop-running", o->stop_running,
                "pause: cancel running trials too (requeued on resume)");
  cmd->add_option("--tls-ca", o->tls_ca,
                  "PEM certificate(s) to trust: talk TLS to a coordinator "
                  "started with --tls-cert");
}

int RunCampaignCommand(const CampaignCommandOptions& o, std::ostream& out,
                       std::ostream& err) {
  auto fail = [&](const Status& s) {
    return Fail("campaign " + o.verb, s, err);
  };
  const bool mutates = o.verb == "create" || o.verb == "cancel" ||
                       o.verb == "pause" || o.verb == "resume" ||
                       o.verb == "amend" || o.verb == "validate";
  if (o.verb != "list" && o.target.empty()) {
    return fail(InvalidArgumentError(o.verb == "create"
                                         ? "give the campaign YAML file"
                                         : "give a campaign id"));
  }
  StatusOr<std::string> token =
      TokenFor(o.token_file, mutates ? coordinator::Role::kAdmin
                                     : coordinator::Role::kViewer);
  if (!token.ok()) return fail(token.status());
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (!o.tls_ca.empty()) {
    StatusOr<std::string> pem = ReadTextFile(o.tls_ca);
    if (!pem.ok()) return fail(pem.status());
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *pem;
    credentials = grpc::SslCredentials(ssl);
  }
  auto stub = v1::CampaignService::NewStub(
      grpc::CreateChannel(o.coordinator, credentials));
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + *token);
  if (o.verb != "watch") {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(60));
  }
  auto done = [&](const grpc::Status& s, const google::protobuf::Message& m) {
    Status st = FromGrpc(s, o.coordinator);
    if (!st.ok()) return fail(st);
    out << Json(m, true) << "\n";
    return 0;
  };
  if (o.verb == "create") {
    StatusOr<std::string> text = ReadTextFile(o.target);
    if (!text.ok()) return fail(text.status());
    // Advice only: the coordinator judges the spec and names what is wrong.
    if (StatusOr<campaign::CampaignSpec> spec =
            campaign::ParseCampaignSpec(*text);
        spec.ok()) {
      for (const std::string& w : campaign::CampaignSpecWarnings(*spec))
        err << "moesweep campaign create: warning: " << w << "\n";
    }
    v1::CreateCampaignRequest q;
    q.set_spec_yaml(*text);
    q.set_request_id(o.request_id);
    q.set_validate_only(o.validate_only);
    v1::CreateCampaignResponse r;
    return done(stub->Create(&context, q, &r), r);
  }
  if (o.verb == "list") {
    v1::ListCampaignsRequest q;
    v1::ListCampaignsResponse r;
    return done(stub->List(&context, q, &r), r);
  }
  if (o.verb == "get") {
    v1::GetCampaignRequest q;
    q.set_campaign_id(o.target);
    v1::GetCampaignResponse r;
    return done(stub->Get(&context, q, &r), r);
  }
  if (o.verb == "law") {
    v1::GetLawRequest q;
    q.set_campaign_id(o.target);
    v1::GetLawResponse r;
    return done(stub->GetLaw(&context, q, &r), r);
  }
  if (o.verb == "trials") {
    v1::ListTrialsRequest q;
    q.set_campaign_id(o.target);
    q.set_page_size(10000);
    v1::ListTrialsResponse r;
    return done(stub->ListTrials(&context, q, &r), r);
  }
  if (o.verb == "cancel") {
    v1::CancelCampaignRequest q;
    q.set_campaign_id(o.target);
    v1::CancelCampaignResponse r;
    return done(stub->Cancel(&context, q, &r), r);
  }
  if (o.verb == "pause") {
    v1::PauseCampaignRequest q;
    q.set_campaign_id(o.target);
    q.set_stop_running(o.stop_running);
    v1::PauseCampaignResponse r;
    return done(stub->Pause(&context, q, &r), r);
  }
  if (o.verb == "resume") {
    v1::ResumeCampaignRequest q;
    q.set_campaign_id(o.target);
    v1::ResumeCampaignResponse r;
    return done(stub->Resume(&context, q, &r), r);
  }
  if (o.verb == "amend") {
    v1::AmendCampaignRequest q;
    q.set_campaign_id(o.target);
    if (o.budget_flops > 0) q.set_budget_flops(o.budget_flops);
    if (o.target_width > 0) q.set_target_interval_width(o.target_width);
    v1::AmendCampaignResponse r;
    return done(stub->Amend(&context, q, &r), r);
  }
  if (o.verb == "optimal") {
    v1::OptimalRequest q;
    q.set_campaign_id(o.target);
    q.set_budget_flops(o.flops);
    v1::OptimalResponse r;
    return done(stub->Optimal(&context, q, &r), r);
  }
  if (o.verb == "validate") {
    v1::ValidateCampaignRequest q;
    q.set_campaign_id(o.target);
    q.set_flops(o.flops);
    v1::ValidateCampaignResponse r;
    return done(stub->Validate(&context, q, &r), r);
  }
  if (o.verb == "watch") {
    v1::WatchCampaignRequest q;
    q.set_campaign_id(o.target);
    q.set_include_progress(o.progress);
    // A watcher that falls behind is dropped with RESOURCE_EXHAUSTED; it
    // resumes after the last stored event it printed (bounded retries, so a
    // coordinator that keeps dropping it cannot loop it forever).
    for (int resumes = 0;; ++resumes) {
      grpc::ClientContext call;
      call.AddMetadata("authorization", "Bearer " + *token);
      auto reader = stub->Watch(&call, q);
      v1::CampaignEvent e;
      while (reader->Read(&e)) {
        out << Json(e, false) << std::flush;
        if (e.event_seq() > 0) q.set_after_event_seq(e.event_seq());
      }
      grpc::Status s = reader->Finish();
      if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
          resumes < 1000) {
        continue;
      }
      Status st = FromGrpc(s, o.coordinator);
      return st.ok() ? 0 : fail(st);
    }
  }
  // export
  v1::ExportRequest q;
  q.set_campaign_id(o.target);
  const std::string table =
      o.table == "out_of_sample" ? "OUT_OF_SAMPLE" : o.table;
  v1::ExportTable t;
  std::string upper;
  for (char c : table) upper.push_back(static_cast<char>(std::toupper(c)));
  if (!v1::ExportTable_Parse("EXPORT_TABLE_" + upper, &t)) {
    return fail(
        InvalidArgumentError("--table: trials, curves, laws, "
                             "out_of_sample or validation, got '" +
                             o.table + "'"));
  }
  q.set_table(t);
  if (o.format != "csv" && o.format != "jsonl") {
    return fail(
        InvalidArgumentError("--format: csv or jsonl, got '" + o.format + "'"));
  }
  q.set_format(o.format == "csv" ? v1::EXPORT_FORMAT_CSV
                                 : v1::EXPORT_FORMAT_JSONL);
  auto reader = stub->Export(&context, q);
  v1::ExportChunk chunk;
  while (reader->Read(&chunk)) out << chunk.data();
  Status st = FromGrpc(reader->Finish(), o.coordinator);
  return st.ok() ? 0 : fail(st);
}

}  // namespace moesweep::cli
