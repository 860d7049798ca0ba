// What operators see: the gRPC health service, and /metrics scraped by a
// real Prometheus server (Debian's `prometheus`) while a campaign runs.

#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <nlohmann/json.hpp>

#include "tests/testing/coordinator_fixture.h"
#include "tests/testing/http_get.h"
#include "tests/testing/prometheus_server.h"

namespace moesweep::testing {
namespace {

namespace v1 = ::moesweep::v1;
using ObservabilityTest = CoordinatorFixture;

TEST_F(ObservabilityTest, HealthServiceSaysServing) {
  StartServer();
  grpc::GenericStub stub(
      grpc::CreateChannel(address(), grpc::InsecureChannelCredentials()));
  // grpc.health.v1.HealthCheckRequest{service: ""} is the empty message;
  // the answer SERVING is field 1 = 1, the bytes 08 01.
  grpc::ByteBuffer request(nullptr, 0), response;
  grpc::ClientContext context;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", {}, &request,
                 &response, [&](grpc::Status s) { done.set_value(s); });
  ASSERT_TRUE(done.get_future().get().ok());
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST_F(ObservabilityTest, PrometheusScrapesLawParametersOfARunningCampaign) {
  coordinator::ServerOptions options;
  options.metrics_listen = "127.0.0.1:0";
  StartServer(options);
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("observed"));
  {
    SimWorker w(SimOptions("w"));
    ASSERT_EQ(WatchToEnd(c.campaign_id()), v1::CAMPAIGN_STATE_SUCCEEDED);
  }
  StatusOr<std::string> page = HttpGet(server_->metrics_port(), "/metrics");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  for (const char* name :
       {"moesweep_rpcs_total{", "moesweep_trials{", "moesweep_law_parameter{",
        "moesweep_answer_relative_width{", "moesweep_flops_spent{",
        "moesweep_store_commit_duration_seconds_count",
        "moesweep_proposal_duration_seconds_count",
        "moesweep_out_of_sample_abs_log_error_count"}) {
    EXPECT_NE(page->find(name), std::string::npos) << name;
  }
  StatusOr<std::unique_ptr<PrometheusServer>> prom =
      PrometheusServer::Start(server_->metrics_port());
  // scripts/setup installs Debian's prometheus: a missing binary fails.
  ASSERT_TRUE(prom.ok()) << prom.status().ToString();
  StatusOr<std::string> body =
      (*prom)->QueryUntil("moesweep_law_parameter", [](const std::string& b) {
        return b.find("\"param\"") != std::string::npos;
      });
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  const nlohmann::json j = nlohmann::json::parse(*body);
  ASSERT_EQ(j["status"], "success");
  int series = 0;
  for (const auto& r : j["data"]["result"]) {
    EXPECT_EQ(r["metric"]["campaign"], c.campaign_id());
    ++series;
  }
  EXPECT_EQ(series, 5);  // the chinchilla law's five parameters
}

// Series stay bounded: a finished campaign's go one retention after it
// finished (by the coordinator's clock), and a worker's when it leaves.
TEST_F(ObservabilityTest, FinishedCampaignsAndGoneWorkersLeaveMetrics) {
  coordinator::ServerOptions options;
  options.metrics_listen = "127.0.0.1:0";
  options.clock = &clock_;
  options.metrics_retention_ms = 60'000;
  StartServer(options);
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("retained"));
  const std::string campaign_label = "campaign=\"" + c.campaign_id() + "\"";
  const std::string worker_label = "worker=\"sim-r\"";
  auto page = [&] {
    StatusOr<std::string> p = HttpGet(server_->metrics_port(), "/metrics");
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? *p : std::string();
  };
  auto sim = std::make_unique<SimWorker>(SimOptions("sim-r"));
  ASSERT_EQ(WatchToEnd(c.campaign_id()), v1::CAMPAIGN_STATE_SUCCEEDED);
  SchedulerBarrier();
  std::string before = page();
  EXPECT_NE(before.find("moesweep_campaign_state{" + campaign_label +
                        ",state=\"succeeded\"} 1"),
            std::string::npos);
  EXPECT_NE(before.find("moesweep_fit_failures_total{" + campaign_label),
            std::string::npos);
  EXPECT_NE(before.find("moesweep_worker_train_loss{" + worker_label),
            std::string::npos);
  EXPECT_NE(before.find("moesweep_worker_silent_seconds{" + worker_label),
            std::string::npos);

  clock_.Advance(59'000);
  SchedulerBarrier();
  EXPECT_NE(page().find(campaign_label), std::string::npos)
      << "dropped before the retention ran out";
  clock_.Advance(2'000);
  SchedulerBarrier();
  EXPECT_EQ(page().find(campaign_label), std::string::npos)
      << "kept past the retention";

  sim.reset();  // the worker leaves: its stream ends
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    SchedulerBarrier();  // the scheduler handles the stream's end in a turn
    gone = page().find(worker_label) == std::string::npos;
  }
  EXPECT_TRUE(gone) << "a gone worker's series stayed";
}

}  // namespace
}  // namespace moesweep::testing
