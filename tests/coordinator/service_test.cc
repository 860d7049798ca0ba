// CampaignService over loopback: bad specs refused with the field named and
// nothing stored, idempotent Create, the lifecycle calls, Watch replay,
// Export, and every call's token check.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "tests/testing/coordinator_fixture.h"

namespace moesweep::testing {
namespace {

namespace v1 = ::moesweep::v1;
using ServiceTest = CoordinatorFixture;

std::string Replace(std::string text, const std::string& from,
                    const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

grpc::Status Create(v1::CampaignService::Stub* stub, const std::string& yaml,
                    const std::string& request_id = "",
                    v1::CreateCampaignResponse* out = nullptr) {
  v1::CreateCampaignRequest q;
  q.set_spec_yaml(yaml);
  q.set_request_id(request_id);
  v1::CreateCampaignResponse r;
  auto context = AuthContext(kAdminToken);
  grpc::Status s = stub->Create(context.get(), q, &r);
  if (out != nullptr) *out = r;
  return s;
}

int CampaignCount(v1::CampaignService::Stub* stub) {
  v1::ListCampaignsRequest q;
  v1::ListCampaignsResponse r;
  auto context = AuthContext(kViewerToken);
  EXPECT_TRUE(stub->List(context.get(), q, &r).ok());
  return r.campaigns_size();
}

TEST_F(ServiceTest, BadSpecsAreRefusedNamingTheFieldAndNothingIsStored) {
  StartServer();
  const std::string base = SmallCampaignYaml("bad");
  // (text to replace, replacement, the path the error must name)
  const std::vector<std::tuple<std::string, std::string, std::string>> bad = {
      {"family: chinchilla", "family: nope", "law.family"},
      {"experts: [1]", "experts: [0]", "space.experts"},
      {"d_model: [64, 128, 256, 512, 1024]", "d_model: []", "space.d_model"},
      {"layers: [2, 4, 8, 16]", "layers: [2, -4]", "space.layers"},
      {"top_k: [1]", "top_k: [2]", "space.top_k"},
      {"granularity: [1]", "granularity: [0]", "space.granularity"},
      {"shared_experts: [0]", "shared_experts: [-1]", "space.shared_experts"},
      {"tokens: {min: 1.0e7, max: 3.0e9, log: true}",
       "tokens: {min: 3.0e9, max: 1.0e7, log: true}", "space.tokens"},
      {"vocab_size: 256", "vocab_size: 0", "space.vocab_size"},
      {"seq_len: 256", "seq_len: -5", "space.seq_len"},
      {"max_flops: 1.0e18", "max_flops: -1", "limits.max_flops"},
      {"flops: 1.0e21", "flops: 0", "question.flops"},
      {"kind: compute_optimal_loss", "kind: best_guess", "question.kind"},
      {"relative_width: 0.05", "relative_width: 1.5", "target.relative_width"},
      {"max_parallel_runs: 4", "max_parallel_runs: 0", "max_parallel_runs"},
      {"strategy: active", "strategy: clever", "strategy"},
      {"seed: 1", "seed: -3", "seed"},
      {"name: bad", "name: 'has space'", "name"},
      {"seed: 1", "seed: 1\nbogus_key: 3", "bogus_key"},
      {"  family: chinchilla", "  family: chinchilla\n  huber_delta: -1",
       "law.huber_delta"},
      {"experts: [1]", "experts: one", "space.experts"},
      {"budget:\n", "budget:\n  gpu_hours: -2\n", "budget.gpu_hours"},
      {"name: bad", "name: bad\nname: twice", "name"},
      {"law:\n", "law: [\n", ""},  // not YAML at all
  };
  auto stub = CampaignStub();
  for (const auto& [from, to, path] : bad) {
    const grpc::Status s = Create(stub.get(), Replace(base, from, to));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << to;
    EXPECT_NE(s.error_message().find(path), std::string::npos)
        << "'" << s.error_message() << "' should name " << path;
  }
  // A space of features cannot be trained by workers.
  const grpc::Status features = Create(
      stub.get(),
      "law: chinchilla\nspace: {params: {min: 1.0e7, max: 1.0e9, log: true}, "
      "tokens: {min: 1.0e8, max: 1.0e10, log: true}}\nbudget: {flops: "
      "1.0e20}\nquestion: {kind: compute_optimal_loss, flops: 1.0e22}\n"
      "target: {relative_width: 0.05}\n");
  EXPECT_EQ(features.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(features.error_message().find("space"), std::string::npos);
  EXPECT_EQ(CampaignCount(stub.get()), 0);
  // Nothing reached the store either: a restart finds no campaign.
  StopServer();
  StartServer();
  EXPECT_EQ(CampaignCount(CampaignStub().get()), 0);
}

TEST_F(ServiceTest, CreateIsIdempotentByRequestIdAndNamesAreUnique) {
  StartServer();
  auto stub = CampaignStub();
  const std::string yaml = SmallCampaignYaml("once");
  v1::CreateCampaignResponse first, again;
  ASSERT_TRUE(Create(stub.get(), yaml, "req-1", &first).ok());
  EXPECT_FALSE(first.replayed());
  ASSERT_TRUE(Create(stub.get(), yaml, "req-1", &again).ok());
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.campaign().campaign_id(), first.campaign().campaign_id());
  EXPECT_EQ(
      Create(stub.get(), SmallCampaignYaml("other"), "req-1").error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Create(stub.get(), yaml).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);  // the name is taken
  EXPECT_EQ(CampaignCount(stub.get()), 1);
  // The request id survives a restart.
  StopServer();
  StartServer();
  ASSERT_TRUE(Create(CampaignStub().get(), yaml, "req-1", &again).ok());
  EXPECT_TRUE(again.replayed());
  // validate_only stores nothing.
  v1::CreateCampaignRequest q;
  q.set_spec_yaml(SmallCampaignYaml("dry"));
  q.set_validate_only(true);
  v1::CreateCampaignResponse r;
  auto context = AuthContext(kAdminToken);
  ASSERT_TRUE(CampaignStub()->Create(context.get(), q, &r).ok());
  EXPECT_EQ(r.campaign().name(), "dry");
  EXPECT_EQ(CampaignCount(CampaignStub().get()), 1);
}

TEST_F(ServiceTest, PauseResumeAmendAndCancelFollowTheStateRules) {
  StartServer();
  auto stub = CampaignStub();
  v1::CreateCampaignResponse created;
  ASSERT_TRUE(
      Create(stub.get(), SmallCampaignYaml("steer"), "", &created).ok());
  const std::string id = created.campaign().campaign_id();
  auto admin = [] { return AuthContext(kAdminToken); };

  v1::ResumeCampaignRequest resume;
  resume.set_campaign_id(id);
  v1::ResumeCampaignResponse resumed;
  auto c = admin();
  EXPECT_EQ(stub->Resume(c.get(), resume, &resumed).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);  // not paused
  v1::PauseCampaignRequest pause;
  pause.set_campaign_id(id);
  v1::PauseCampaignResponse paused;
  c = admin();
  ASSERT_TRUE(stub->Pause(c.get(), pause, &paused).ok());
  EXPECT_EQ(paused.campaign().state(), v1::CAMPAIGN_STATE_PAUSED);
  // A paused campaign hands out no work.
  SimWorker w(SimOptions("idle"));
  c = admin();
  ASSERT_TRUE(stub->Resume(c.get(), resume, &resumed).ok());
  EXPECT_EQ(resumed.campaign().state(), v1::CAMPAIGN_STATE_RUNNING);

  v1::AmendCampaignRequest amend;
  amend.set_campaign_id(id);
  v1::AmendCampaignResponse amended;
  c = admin();
  EXPECT_EQ(stub->Amend(c.get(), amend, &amended).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // nothing to amend
  amend.set_budget_flops(1e18);                   // below the current 1e19
  c = admin();
  EXPECT_EQ(stub->Amend(c.get(), amend, &amended).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  amend.set_budget_flops(2e19);
  amend.set_target_interval_width(0.2);  // wider than 0.05
  c = admin();
  EXPECT_EQ(stub->Amend(c.get(), amend, &amended).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  amend.set_target_interval_width(0.04);
  c = admin();
  ASSERT_TRUE(stub->Amend(c.get(), amend, &amended).ok());
  EXPECT_DOUBLE_EQ(amended.campaign().budget_flops(), 2e19);
  EXPECT_DOUBLE_EQ(amended.campaign().target_interval_width(), 0.04);

  v1::CancelCampaignRequest cancel;
  cancel.set_campaign_id(id);
  cancel.set_reason("test");
  v1::CancelCampaignResponse cancelled;
  c = admin();
  ASSERT_TRUE(stub->Cancel(c.get(), cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.campaign().state(), v1::CAMPAIGN_STATE_CANCELLED);
  EXPECT_EQ(cancelled.campaign().trials().queued(), 0);
  EXPECT_EQ(cancelled.campaign().trials().running(), 0);
  c = admin();
  EXPECT_EQ(stub->Cancel(c.get(), cancel, &cancelled).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  c = admin();
  EXPECT_EQ(stub->Amend(c.get(), amend, &amended).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  cancel.set_campaign_id("c999999");
  c = admin();
  EXPECT_EQ(stub->Cancel(c.get(), cancel, &cancelled).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServiceTest, WatchReplaysStoredEventsAfterASeqAndEndsWithTheCampaign) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("watch"));
  {
    SimWorker w(SimOptions("w"));
    EXPECT_EQ(WatchToEnd(c.campaign_id()), v1::CAMPAIGN_STATE_SUCCEEDED);
  }
  // A client that saw events up to 5 gets the rest, in order, then OK.
  v1::WatchCampaignRequest q;
  q.set_campaign_id(c.campaign_id());
  q.set_after_event_seq(5);
  auto context = AuthContext(kViewerToken);
  auto stub = CampaignStub();
  auto reader = stub->Watch(context.get(), q);
  v1::CampaignEvent e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_TRUE(e.has_snapshot());
  int64_t last = 5;
  int laws = 0;
  v1::CampaignState final_state = v1::CAMPAIGN_STATE_UNSPECIFIED;
  while (reader->Read(&e)) {
    EXPECT_EQ(e.event_seq(), last + 1);
    last = e.event_seq();
    laws += e.has_law_updated();
    if (e.has_state_changed()) final_state = e.state_changed().state();
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_GT(laws, 5);
  EXPECT_EQ(final_state, v1::CAMPAIGN_STATE_SUCCEEDED);
}

TEST_F(ServiceTest, WatchSendsProgressOnlyWhenAsked) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("progress", 1));
  auto stub = CampaignStub();
  auto open = [&](bool progress, grpc::ClientContext* context) {
    v1::WatchCampaignRequest q;
    q.set_campaign_id(c.campaign_id());
    q.set_include_progress(progress);
    return stub->Watch(context, q);
  };
  auto with_context = AuthContext(kViewerToken);
  auto without_context = AuthContext(kViewerToken);
  auto with = open(true, with_context.get());
  auto without = open(false, without_context.get());
  v1::CampaignEvent e;
  ASSERT_TRUE(with->Read(&e));  // snapshots: both are subscribed now
  ASSERT_TRUE(without->Read(&e));
  SimWorker w(SimOptions("w"));
  int progress = 0;
  while (progress < 2 && with->Read(&e)) {
    if (e.has_trial_progress()) {
      ++progress;
      EXPECT_EQ(e.event_seq(), 0);  // live only, not stored
      EXPECT_GT(e.trial_progress().point().step(), 0);
    }
  }
  EXPECT_EQ(progress, 2);
  // The other stream sees the same campaign without a single progress event.
  int finished = 0;
  while (finished < 2 && without->Read(&e)) {
    EXPECT_FALSE(e.has_trial_progress());
    finished += e.has_trial_finished();
  }
  EXPECT_EQ(finished, 2);
  with_context->TryCancel();
  without_context->TryCancel();
}

TEST_F(ServiceTest, ExportWritesTrialsCurvesLawsAndOutOfSampleTables) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("export"));
  {
    SimWorker w(SimOptions("w"));
    EXPECT_EQ(WatchToEnd(c.campaign_id()), v1::CAMPAIGN_STATE_SUCCEEDED);
  }
  auto read = [&](v1::ExportTable table, v1::ExportFormat format) {
    v1::ExportRequest q;
    q.set_campaign_id(c.campaign_id());
    q.set_table(table);
    q.set_format(format);
    auto context = AuthContext(kViewerToken);
    auto stub = CampaignStub();
    auto reader = stub->Export(context.get(), q);
    std::string text;
    v1::ExportChunk chunk;
    while (reader->Read(&chunk)) text += chunk.data();
    EXPECT_TRUE(reader->Finish().ok());
    return text;
  };
  const std::string trials =
      read(v1::EXPORT_TABLE_TRIALS, v1::EXPORT_FORMAT_CSV);
  EXPECT_EQ(trials.rfind("trial_id,attempt,state,", 0), 0u);
  EXPECT_NE(trials.find("TRIAL_STATE_SUCCEEDED"), std::string::npos);
  const std::string curves =
      read(v1::EXPORT_TABLE_CURVES, v1::EXPORT_FORMAT_JSONL);
  EXPECT_EQ(curves.rfind("{\"trial_id\":\"" + c.campaign_id(), 0), 0u);
  // JSONL holds typed numbers, so a reader gets no strings for numbers.
  const nlohmann::json point =
      nlohmann::json::parse(curves.substr(0, curves.find('\n')));
  EXPECT_TRUE(point["trial_id"].is_string());
  EXPECT_TRUE(point["step"].is_number_integer()) << point;
  EXPECT_TRUE(point["train_loss"].is_number_float()) << point;
  const std::string trials_jsonl =
      read(v1::EXPORT_TABLE_TRIALS, v1::EXPORT_FORMAT_JSONL);
  const size_t done = trials_jsonl.find("\"TRIAL_STATE_SUCCEEDED\"");
  ASSERT_NE(done, std::string::npos);
  const size_t begin = trials_jsonl.rfind('\n', done) + 1;  // npos + 1 = 0
  const nlohmann::json trial = nlohmann::json::parse(
      trials_jsonl.substr(begin, trials_jsonl.find('\n', done) - begin));
  EXPECT_TRUE(trial["d_model"].is_number_integer()) << trial;
  EXPECT_TRUE(trial["final_eval_loss"].is_number_float()) << trial;
  EXPECT_TRUE(trial["worker_id"].is_string()) << trial;
  const std::string laws = read(v1::EXPORT_TABLE_LAWS, v1::EXPORT_FORMAT_CSV);
  EXPECT_NE(laws.find("\r\n1,"), std::string::npos);
  const std::string oos =
      read(v1::EXPORT_TABLE_OUT_OF_SAMPLE, v1::EXPORT_FORMAT_CSV);
  EXPECT_GT(std::count(oos.begin(), oos.end(), '\n'), 10);
}

}  // namespace
}  // namespace moesweep::testing
