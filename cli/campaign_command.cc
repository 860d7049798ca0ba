// moesweep campaign <verb>: a CampaignService client. Prints tables for a
// person by default and the proto3 JSON with --json; watch prints a live
// progress line on a terminal and one JSON event a line when piped.

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cmath>
#include <sstream>

#include "CLI/CLI.hpp"
#include "campaign/campaign.h"
#include "cli/campaign_print.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/read_file.h"

namespace moesweep::cli {
namespace {

const char* const kVerbs[] = {"create", "list",    "get",     "watch",  "law",
                              "trials", "cancel",  "pause",   "resume", "amend",
                              "export", "optimal", "validate"};

// Pages a reader may ask for before it stops (100,000 campaigns or 1e8
// trials at the coordinator's page size): a bound on a coordinator that
// keeps handing out page tokens.
constexpr int kMaxPages = 100'000;

std::string Json(const google::protobuf::Message& m, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  if (!pretty) out += "\n";
  return out;
}

// One verb's run: the client, the options and where to print.
struct Call {
  const CampaignCommandOptions& o;
  Client& client;
  std::ostream& out;
  std::ostream& err;

  int Fail(const Status& s) const {
    return ClientFail("campaign " + o.verb, s, err);
  }
  // Prints `m` as JSON, or `human` when not --json.
  template <typename F>
  int Done(const grpc::Status& s, const google::protobuf::Message& m,
           F human) const {
    if (Status st = client.Check(s); !st.ok()) return Fail(st);
    if (o.json) {
      out << Json(m, true) << "\n";
    } else {
      human();
    }
    return 0;
  }
};

int Create(const Call& c) {
  StatusOr<std::string> text = ReadTextFile(c.o.target);
  if (!text.ok()) return c.Fail(text.status());
  // Advice only: the coordinator judges the spec and names what is wrong.
  if (StatusOr<campaign::CampaignSpec> spec =
          campaign::ParseCampaignSpec(*text);
      spec.ok()) {
    for (const std::string& w : campaign::CampaignSpecWarnings(*spec))
      c.err << "moesweep campaign create: warning: " << w << "\n";
  }
  v1::CreateCampaignRequest q;
  q.set_spec_yaml(*text);
  q.set_request_id(c.o.request_id);
  q.set_validate_only(c.o.validate_only);
  v1::CreateCampaignResponse r;
  return c.Done(c.client.campaigns().Create(c.client.Context().get(), q, &r), r,
                [&] {
                  if (c.o.validate_only) {
                    c.out << "spec is valid (nothing stored)\n";
                  } else {
                    c.out << "created " << r.campaign().campaign_id() << "\n";
                  }
                });
}

// Every campaign, page after page.
int List(const Call& c) {
  v1::ListCampaignsRequest q;
  q.set_page_size(c.o.page_size);
  v1::ListCampaignsResponse all;
  for (int pages = 0; pages < kMaxPages; ++pages) {
    v1::ListCampaignsResponse r;
    grpc::Status s = c.client.campaigns().List(c.client.Context().get(), q, &r);
    if (Status st = c.client.Check(s); !st.ok()) return c.Fail(st);
    for (v1::Campaign& x : *r.mutable_campaigns()) {
      *all.add_campaigns() = std::move(x);
    }
    if (r.next_page_token().empty()) break;
    q.set_page_token(r.next_page_token());
  }
  return c.Done(grpc::Status::OK, all, [&] {
    PrintCampaigns({all.campaigns().begin(), all.campaigns().end()}, c.out);
  });
}

int Get(const Call& c) {
  v1::GetCampaignRequest q;
  q.set_campaign_id(c.o.target);
  v1::GetCampaignResponse r;
  return c.Done(c.client.campaigns().Get(c.client.Context().get(), q, &r), r,
                [&] { PrintCampaign(r.campaign(), c.out); });
}

int Law(const Call& c) {
  v1::GetLawRequest q;
  q.set_campaign_id(c.o.target);
  v1::GetLawResponse r;
  return c.Done(c.client.campaigns().GetLaw(c.client.Context().get(), q, &r), r,
                [&] { PrintLaw(r, c.out); });
}

// Every trial, page after page.
int Trials(const Call& c) {
  v1::ListTrialsRequest q;
  q.set_campaign_id(c.o.target);
  q.set_page_size(c.o.page_size);
  v1::ListTrialsResponse all;
  for (int pages = 0; pages < kMaxPages; ++pages) {
    v1::ListTrialsResponse r;
    grpc::Status s =
        c.client.campaigns().ListTrials(c.client.Context().get(), q, &r);
    if (Status st = c.client.Check(s); !st.ok()) return c.Fail(st);
    for (v1::Trial& x : *r.mutable_trials()) *all.add_trials() = std::move(x);
    if (r.next_page_token().empty()) break;
    q.set_page_token(r.next_page_token());
  }
  return c.Done(grpc::Status::OK, all, [&] {
    PrintTrials({all.trials().begin(), all.trials().end()}, c.out);
  });
}

// cancel, pause, resume, amend and validate answer with the campaign.
template <typename Response>
int Changed(const Call& c, const grpc::Status& s, const Response& r) {
  return c.Done(s, r, [&] {
    c.out << r.campaign().campaign_id() << " "
          << StateName(r.campaign().state()) << "\n";
  });
}

int Optimal(const Call& c) {
  v1::OptimalRequest q;
  q.set_campaign_id(c.o.target);
  q.set_budget_flops(c.o.flops);
  v1::OptimalResponse r;
  return c.Done(c.client.campaigns().Optimal(c.client.Context().get(), q, &r),
                r, [&] { PrintOptimal(r, c.out); });
}

// The campaign now, for the progress line.
StatusOr<v1::Campaign> Fetch(const Call& c) {
  v1::GetCampaignRequest q;
  q.set_campaign_id(c.o.target);
  v1::GetCampaignResponse r;
  MOESWEEP_RETURN_IF_ERROR(c.client.Check(
      c.client.campaigns().Get(c.client.Context().get(), q, &r)));
  return r.campaign();
}

int Watch(const Call& c) {
  v1::WatchCampaignRequest q;
  q.set_campaign_id(c.o.target);
  q.set_include_progress(c.o.progress);
  const bool live = c.o.terminal && !c.o.json;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  double start_flops = NAN;
  Clock::time_point drawn;
  v1::Campaign last;
  // Redraws the line at most 4 times a second, and always at the end.
  auto draw = [&](bool force) -> Status {
    if (!force && Clock::now() - drawn < std::chrono::milliseconds(250)) {
      return OkStatus();
    }
    MOESWEEP_ASSIGN_OR_RETURN(last, Fetch(c));
    drawn = Clock::now();
    if (std::isnan(start_flops)) start_flops = last.spent_flops();
    const double seconds = std::chrono::duration<double>(drawn - start).count();
    const double rate =
        seconds > 1 ? (last.spent_flops() - start_flops) / seconds : 0;
    c.out << "\r\033[K" << ProgressLine(last, rate) << std::flush;
    return OkStatus();
  };
  // A watcher that falls behind is dropped with RESOURCE_EXHAUSTED; it
  // resumes after the last stored event it printed (bounded retries, so a
  // coordinator that keeps dropping it cannot loop it forever).
  for (int resumes = 0;; ++resumes) {
    std::unique_ptr<grpc::ClientContext> call = c.client.Context(0);
    auto reader = c.client.campaigns().Watch(call.get(), q);
    v1::CampaignEvent e;
    while (reader->Read(&e)) {
      if (e.event_seq() > 0) q.set_after_event_seq(e.event_seq());
      if (!live) {
        c.out << Json(e, false) << std::flush;
        continue;
      }
      const bool final = e.has_state_changed() || e.has_law_updated();
      if (Status s = draw(final); !s.ok()) return c.Fail(s);
    }
    grpc::Status s = reader->Finish();
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
        resumes < 1000) {
      continue;
    }
    if (live) {
      if (Status d = draw(true); !d.ok()) return c.Fail(d);
      c.out << "\n";
      if (!last.state_reason().empty()) {
        c.out << StateName(last.state()) << ": " << last.state_reason() << "\n";
      }
    }
    Status st = c.client.Check(s);
    return st.ok() ? 0 : c.Fail(st);
  }
}

int Export(const Call& c) {
  v1::ExportRequest q;
  q.set_campaign_id(c.o.target);
  const std::string table =
      c.o.table == "out_of_sample" ? "OUT_OF_SAMPLE" : c.o.table;
  v1::ExportTable t;
  std::string upper;
  for (char ch : table) upper.push_back(static_cast<char>(std::toupper(ch)));
  if (!v1::ExportTable_Parse("EXPORT_TABLE_" + upper, &t)) {
    return c.Fail(
        InvalidArgumentError("--table: trials, curves, laws, "
                             "out_of_sample or validation, got '" +
                             c.o.table + "'"));
  }
  q.set_table(t);
  if (c.o.format != "csv" && c.o.format != "jsonl") {
    return c.Fail(InvalidArgumentError("--format: csv or jsonl, got '" +
                                       c.o.format + "'"));
  }
  q.set_format(c.o.format == "csv" ? v1::EXPORT_FORMAT_CSV
                                   : v1::EXPORT_FORMAT_JSONL);
  std::unique_ptr<grpc::ClientContext> context = c.client.Context();
  auto reader = c.client.campaigns().Export(context.get(), q);
  v1::ExportChunk chunk;
  while (reader->Read(&chunk)) c.out << chunk.data();
  Status st = c.client.Check(reader->Finish());
  return st.ok() ? 0 : c.Fail(st);
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
  AddConnectionFlags(cmd, &o->connection);
  cmd->add_flag("--json", o->json,
                "Print the coordinator's answer as JSON (watch: one event a "
                "line) instead of a table");
  cmd->add_option("--page-size", o->page_size,
                  "list, trials: items per request (1-1000; default the "
                  "coordinator's, 100); every page is read")
      ->check(CLI::Range(0, 1000));
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
}

int RunCampaignCommand(const CampaignCommandOptions& o, std::ostream& out,
                       std::ostream& err) {
  auto fail = [&](const Status& s) {
    return ClientFail("campaign " + o.verb, s, err);
  };
  const bool mutates = o.verb == "create" || o.verb == "cancel" ||
                       o.verb == "pause" || o.verb == "resume" ||
                       o.verb == "amend" || o.verb == "validate";
  if (o.verb != "list" && o.target.empty()) {
    return fail(InvalidArgumentError(o.verb == "create"
                                         ? "give the campaign YAML file"
                                         : "give a campaign id"));
  }
  StatusOr<std::unique_ptr<Client>> client =
      Client::Open(o.connection, mutates ? coordinator::Role::kAdmin
                                         : coordinator::Role::kViewer);
  if (!client.ok()) return fail(client.status());
  const Call c{o, **client, out, err};
  v1::CampaignService::Stub& stub = (*client)->campaigns();
  if (o.verb == "create") return Create(c);
  if (o.verb == "list") return List(c);
  if (o.verb == "get") return Get(c);
  if (o.verb == "law") return Law(c);
  if (o.verb == "trials") return Trials(c);
  if (o.verb == "watch") return Watch(c);
  if (o.verb == "optimal") return Optimal(c);
  if (o.verb == "export") return Export(c);
  auto context = (*client)->Context();
  if (o.verb == "cancel") {
    v1::CancelCampaignRequest q;
    q.set_campaign_id(o.target);
    v1::CancelCampaignResponse r;
    return Changed(c, stub.Cancel(context.get(), q, &r), r);
  }
  if (o.verb == "pause") {
    v1::PauseCampaignRequest q;
    q.set_campaign_id(o.target);
    q.set_stop_running(o.stop_running);
    v1::PauseCampaignResponse r;
    return Changed(c, stub.Pause(context.get(), q, &r), r);
  }
  if (o.verb == "resume") {
    v1::ResumeCampaignRequest q;
    q.set_campaign_id(o.target);
    v1::ResumeCampaignResponse r;
    return Changed(c, stub.Resume(context.get(), q, &r), r);
  }
  if (o.verb == "amend") {
    v1::AmendCampaignRequest q;
    q.set_campaign_id(o.target);
    if (o.budget_flops > 0) q.set_budget_flops(o.budget_flops);
    if (o.target_width > 0) q.set_target_interval_width(o.target_width);
    v1::AmendCampaignResponse r;
    return Changed(c, stub.Amend(context.get(), q, &r), r);
  }
  // validate
  v1::ValidateCampaignRequest q;
  q.set_campaign_id(o.target);
  q.set_flops(o.flops);
  v1::ValidateCampaignResponse r;
  return Changed(c, stub.Validate(context.get(), q, &r), r);
}

}  // namespace moesweep::cli
