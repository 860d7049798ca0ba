// Validation runs (issue 12) end to end over loopback with simulated workers:
// after the stopping rule the campaign trains runs it never fits, stores the
// law's prediction against each observed loss, and keeps all of it across a
// restart; a stopped campaign gets one more through Validate and
// `moesweep campaign validate`.

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "tests/coordinator/hostile_util.h"
#include "tests/testing/coordinator_fixture.h"
#include "tests/testing/http_get.h"

namespace moesweep::testing {
namespace {

namespace v1 = ::moesweep::v1;
using ValidationTest = CoordinatorFixture;

std::vector<v1::CampaignEvent> StoredEvents(v1::CampaignService::Stub* stub,
                                            const std::string& campaign_id) {
  v1::WatchCampaignRequest q;
  q.set_campaign_id(campaign_id);
  q.set_after_event_seq(-1);  // replay every stored event
  auto context = AuthContext(kViewerToken);
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
  auto reader = stub->Watch(context.get(), q);
  std::vector<v1::CampaignEvent> events;
  v1::CampaignEvent e;
  while (reader->Read(&e)) {
    if (e.event_seq() > 0) events.push_back(e);
  }
  EXPECT_TRUE(reader->Finish().ok());
  return events;
}

v1::GetLawResponse Law(v1::CampaignService::Stub* stub,
                       const std::string& campaign_id) {
  v1::GetLawRequest q;
  q.set_campaign_id(campaign_id);
  v1::GetLawResponse r;
  auto context = AuthContext(kViewerToken);
  grpc::Status s = stub->GetLaw(context.get(), q, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return r;
}

v1::PredictResponse Predict(v1::CampaignService::Stub* stub,
                            const v1::PredictRequest& q) {
  v1::PredictResponse r;
  auto context = AuthContext(kViewerToken);
  grpc::Status s = stub->Predict(context.get(), q, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.predictions_size(), q.inputs_size());
  return r;
}

grpc::Status Validate(v1::CampaignService::Stub* stub, const std::string& id,
                      double flops, v1::ValidateCampaignResponse* r,
                      const char* token = kAdminToken) {
  v1::ValidateCampaignRequest q;
  q.set_campaign_id(id);
  q.set_flops(flops);
  auto context = AuthContext(token);
  return stub->Validate(context.get(), q, r);
}

void ExpectObservedComparison(const v1::Validation& v) {
  ASSERT_TRUE(v.has_observed_loss()) << v.trial_id();
  EXPECT_GT(v.predicted_loss(), 0);
  EXPECT_LT(v.predicted_interval().lower(), v.predicted_loss());
  EXPECT_GT(v.predicted_interval().upper(), v.predicted_loss());
  EXPECT_DOUBLE_EQ(v.predicted_interval().confidence_level(), 0.95);
  EXPECT_NEAR(v.log_error(), std::log(v.observed_loss() / v.predicted_loss()),
              1e-12);
  EXPECT_EQ(v.inside(),
            v.observed_loss() >= v.predicted_interval().lower() &&
                v.observed_loss() <= v.predicted_interval().upper());
  EXPECT_GT(v.observed_unix_ms(), 0);
}

TEST_F(ValidationTest, RunsAfterTheStoppingRuleOutOfTheFitAndSurviveRestart) {
  coordinator::ServerOptions options;
  options.metrics_listen = "127.0.0.1:0";
  StartServer(options);
  const v1::Campaign created =
      CreateCampaign(SmallCampaignYaml("validated") +
                     "validate: {runs: 2, flops_multiple: 4}\n");
  ASSERT_FALSE(created.campaign_id().empty());
  const std::string id = created.campaign_id();
  {
    SimWorker a(SimOptions("sim-a"));
    SimWorker b(SimOptions("sim-b"));
    EXPECT_EQ(WatchToEnd(id), v1::CAMPAIGN_STATE_SUCCEEDED);
  }
  auto stub = CampaignStub();

  // The order of things: the stop, then VALIDATING with the validation runs
  // started and compared, then SUCCEEDED with the stop's reason.
  const std::vector<v1::CampaignEvent> events = StoredEvents(stub.get(), id);
  int validating_at = -1, validated = 0;
  int64_t law_version_at_stop = 0;
  for (int i = 0; i < static_cast<int>(events.size()); ++i) {
    const v1::CampaignEvent& e = events[i];
    if (e.has_law_updated() && validating_at < 0) {
      law_version_at_stop = e.law_updated().law().version();
    } else if (e.has_law_updated()) {
      // Only a background refit of the same runs may publish now.
      EXPECT_FALSE(e.law_updated().has_out_of_sample());
    }
    if (e.has_state_changed() &&
        e.state_changed().state() == v1::CAMPAIGN_STATE_VALIDATING) {
      EXPECT_LT(validating_at, 0);
      validating_at = i;
      EXPECT_NE(e.state_changed().reason().find("target reached"),
                std::string::npos);
    }
    if (e.has_validated()) {
      EXPECT_GT(validating_at, 0);
      ++validated;
    }
  }
  ASSERT_GT(validating_at, 0);
  EXPECT_EQ(validated, 2);
  ASSERT_TRUE(events.back().has_state_changed());
  EXPECT_EQ(events.back().state_changed().state(),
            v1::CAMPAIGN_STATE_SUCCEEDED);
  EXPECT_NE(events.back().state_changed().reason().find("target reached"),
            std::string::npos);

  // Out of the fit: the law counts only the campaign's own successes.
  const std::vector<v1::Trial> trials = ListTrials(stub.get(), id);
  int fitted = 0, validation_runs = 0;
  double spent = 0, validation_flops = 0;
  for (const v1::Trial& t : trials) {
    if (t.has_validation()) {
      ++validation_runs;
      EXPECT_EQ(t.proposer(), "validation");
      EXPECT_EQ(t.state(), v1::TRIAL_STATE_SUCCEEDED);
      EXPECT_FALSE(t.validation().requested());
      validation_flops += t.training_flops();
      continue;
    }
    spent += t.training_flops();
    if (t.state() == v1::TRIAL_STATE_SUCCEEDED) ++fitted;
  }
  EXPECT_EQ(validation_runs, 2);
  const v1::GetLawResponse law = Law(stub.get(), id);
  EXPECT_EQ(law.law().num_observations(), fitted);
  const v1::Campaign done = GetCampaign(stub.get(), id);
  EXPECT_DOUBLE_EQ(done.spent_flops(), spent);  // not charged to the budget
  EXPECT_DOUBLE_EQ(done.validation_flops(), validation_flops);
  EXPECT_GT(validation_flops, 0);
  EXPECT_EQ(done.trials().succeeded(), fitted + 2);

  // The comparison, for each run: 4^(1/2) and 4 times the largest fitted run.
  ASSERT_EQ(law.validations_size(), 2);
  for (const v1::Validation& v : law.validations()) {
    ExpectObservedComparison(v);
    EXPECT_EQ(v.law_version(), law_version_at_stop);
  }
  EXPECT_NEAR(law.validations(0).flops_multiple(), 2, 0.02);
  EXPECT_NEAR(law.validations(1).flops_multiple(), 4, 0.04);
  // The truth's law predicts those runs, so the error is small.
  EXPECT_LT(std::abs(law.validations(1).log_error()), 0.1);

  StatusOr<std::string> page = HttpGet(server_->metrics_port(), "/metrics");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  const std::string series = "moesweep_validation_log_error{campaign=\"" + id +
                             "\",trial=\"" + law.validations(1).trial_id() +
                             "\"}";
  EXPECT_NE(page->find(series), std::string::npos) << *page;

  // A restart publishes nothing new and keeps every comparison; and the fit
  // it rebuilds leaves the validation runs out (the new-run interval reads
  // the residual scale of the runs fitted).
  v1::PredictRequest predict;
  predict.set_campaign_id(id);
  for (const v1::Trial& t : trials) {
    if (t.has_validation())
      *predict.add_inputs()->mutable_features() = t.features();
  }
  const v1::PredictResponse predicted = Predict(stub.get(), predict);
  StopServer();
  StartServer(options);
  stub = CampaignStub();
  const v1::GetLawResponse again = Law(stub.get(), id);
  EXPECT_TRUE(again.SerializeAsString() == law.SerializeAsString())
      << "GetLaw changed across the restart";
  EXPECT_TRUE(Predict(stub.get(), predict).SerializeAsString() ==
              predicted.SerializeAsString())
      << "predictions changed across the restart";
  EXPECT_EQ(GetCampaign(stub.get(), id).state(), v1::CAMPAIGN_STATE_SUCCEEDED);
  EXPECT_EQ(StoredEvents(stub.get(), id).size(), events.size());
  page = HttpGet(server_->metrics_port(), "/metrics");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_NE(page->find(series), std::string::npos);

  // Exported, one row per run.
  v1::ExportRequest q;
  q.set_campaign_id(id);
  q.set_table(v1::EXPORT_TABLE_VALIDATION);
  auto context = AuthContext(kViewerToken);
  auto reader = stub->Export(context.get(), q);
  std::string csv;
  v1::ExportChunk chunk;
  while (reader->Read(&chunk)) csv += chunk.data();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(csv.rfind("trial_id,state,requested,law_version,", 0), 0u) << csv;
  EXPECT_NE(csv.find(law.validations(0).trial_id() + ",TRIAL_STATE_SUCCEEDED"),
            std::string::npos)
      << csv;
}

// Tokens per active parameter (embeddings included), the run's shape.
double Shape(const v1::RunFeatures& f) {
  return f.tokens() / (f.n_active_ne() + f.n_embed());
}

// The validation run's shape, and the range of the fitted runs' shapes.
struct Shapes {
  double validation = 0, lo = HUGE_VAL, hi = 0;
};
Shapes ShapesOf(const std::vector<v1::Trial>& trials) {
  Shapes s;
  for (const v1::Trial& t : trials) {
    if (t.has_validation()) {
      s.validation = Shape(t.features());
    } else if (t.state() == v1::TRIAL_STATE_SUCCEEDED) {
      s.lo = std::min(s.lo, Shape(t.features()));
      s.hi = std::max(s.hi, Shape(t.features()));
    }
  }
  return s;
}

// The small campaign with big models on few tokens: every fitted run has
// under 1.2 tokens per active parameter, far from the truth's optimum.
std::string FewTokensYaml(const std::string& name, const std::string& shape) {
  std::string yaml = SmallCampaignYaml(name, 4, 3e17) +
                     "validate: {runs: 1, flops_multiple: 4" + shape + "}\n";
  for (auto [from, to] : {std::pair<std::string, std::string>{
                              "[64, 128, 256, 512, 1024]", "[512, 768, 1024]"},
                          {"layers: [2, 4, 8, 16]", "layers: [8, 16]"},
                          {"max: 3.0e9", "max: 3.0e7"},
                          {"max_flops: 1.0e18", "max_flops: 1.0e17"}}) {
    const size_t at = yaml.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) yaml.replace(at, from.size(), to);
  }
  return yaml;
}

// By default a validation run extrapolates the law in scale at the shapes it
// was fitted on; `shape: any` lets the law's optimum leave them, as it does
// here (the smallest model on many more tokens per parameter).
TEST_F(ValidationTest, AValidationRunKeepsTheShapesTheLawWasFittedOn) {
  StartServer();
  auto stub = CampaignStub();
  const std::string observed =
      CreateCampaign(FewTokensYaml("observed", "")).campaign_id();
  const std::string any =
      CreateCampaign(FewTokensYaml("any", ", shape: any")).campaign_id();
  {
    SimWorker a(SimOptions("sim-a"));
    SimWorker b(SimOptions("sim-b"));
    for (const std::string& id : {observed, any}) {
      const v1::CampaignState end = WatchToEnd(id);
      EXPECT_TRUE(end == v1::CAMPAIGN_STATE_SUCCEEDED ||
                  end == v1::CAMPAIGN_STATE_BUDGET_EXHAUSTED)
          << v1::CampaignState_Name(end);
    }
  }
  const Shapes in = ShapesOf(ListTrials(stub.get(), observed));
  ASSERT_GT(in.validation, 0)
      << GetCampaign(stub.get(), observed).state_reason();
  EXPECT_GE(in.validation, in.lo * (1 - 1e-9));
  EXPECT_LE(in.validation, in.hi * (1 + 1e-9));
  const Shapes free = ShapesOf(ListTrials(stub.get(), any));
  ASSERT_GT(free.validation, 0) << GetCampaign(stub.get(), any).state_reason();
  EXPECT_TRUE(free.validation < free.lo || free.validation > free.hi)
      << free.validation << " in [" << free.lo << ", " << free.hi << "]";
  for (const std::string& id : {observed, any}) {
    const v1::GetLawResponse law = Law(stub.get(), id);
    ASSERT_EQ(law.validations_size(), 1) << id;
    ExpectObservedComparison(law.validations(0));
    EXPECT_NEAR(law.validations(0).flops_multiple(), 4, 0.04) << id;
  }
}

TEST_F(ValidationTest, StoppedCampaignGetsOneMoreRunThroughValidate) {
  StartServer();
  auto stub = CampaignStub();
  const std::string id =
      CreateCampaign(SmallCampaignYaml("later")).campaign_id();
  v1::ValidateCampaignResponse r;
  // Not stopped yet: nothing is queued.
  EXPECT_EQ(Validate(stub.get(), id, 1e18, &r).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  {
    SimWorker a(SimOptions("sim-a"));
    SimWorker b(SimOptions("sim-b"));
    EXPECT_EQ(WatchToEnd(id), v1::CAMPAIGN_STATE_SUCCEEDED);
  }
  const int64_t fitted = Law(stub.get(), id).law().num_observations();
  EXPECT_EQ(Law(stub.get(), id).validations_size(), 0);  // spec asked none

  // Bounded input, the right code for each.
  for (double bad : {0.0, -1.0, 2e30, std::nan(""), HUGE_VAL}) {
    grpc::Status s = Validate(stub.get(), id, bad, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(s.error_message().rfind("flops: must be in (0, 1e30]", 0), 0u)
        << s.error_message();
  }
  EXPECT_EQ(Validate(stub.get(), "c999999", 1e18, &r).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Validate(stub.get(), id, 1e18, &r, kViewerToken).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Too small for any architecture of the space to train seq_len tokens.
  EXPECT_EQ(Validate(stub.get(), id, 1, &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetCampaign(stub.get(), id).state(), v1::CAMPAIGN_STATE_SUCCEEDED);

  // Through the CLI, as an admin would.
  const std::string tokens = dir_.File("tokens");
  std::ofstream(tokens) << "admin " << kAdminToken << "\n";
  cli::CampaignCommandOptions o;
  o.verb = "validate";
  o.target = id;
  o.connection.coordinator = address();
  o.connection.token_file = tokens;
  o.json = true;
  o.flops = 4e18;
  std::ostringstream out, err;
  ASSERT_EQ(cli::RunCampaignCommand(o, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("\"state\": \"CAMPAIGN_STATE_VALIDATING\""),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("\"requested\": true"), std::string::npos);

  SimWorker c(SimOptions("sim-c"));
  EXPECT_EQ(WatchToEnd(id), v1::CAMPAIGN_STATE_SUCCEEDED);
  const v1::GetLawResponse law = Law(stub.get(), id);
  EXPECT_EQ(law.law().num_observations(), fitted);
  ASSERT_EQ(law.validations_size(), 1);
  ExpectObservedComparison(law.validations(0));
  EXPECT_TRUE(law.validations(0).requested());
  EXPECT_NEAR(law.validations(0).planned_flops(), 4e18, 4e16);
  EXPECT_EQ(c.trials_done(), 1);

  // `campaign law` shows it.
  o.verb = "law";
  o.flops = 0;
  std::ostringstream law_out;
  ASSERT_EQ(cli::RunCampaignCommand(o, law_out, err), 0) << err.str();
  EXPECT_NE(law_out.str().find("\"validations\""), std::string::npos);
  EXPECT_NE(law_out.str().find(law.validations(0).trial_id()),
            std::string::npos);
}

}  // namespace
}  // namespace moesweep::testing
