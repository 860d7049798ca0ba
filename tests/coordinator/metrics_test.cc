#include "coordinator/metrics.h"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/testing/http_get.h"
#include "tests/testing/prometheus_server.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::coordinator {
namespace {

using moesweep::testing::HttpGet;
using moesweep::testing::PrometheusServer;

std::unique_ptr<Metrics> StartOrDie(const std::string& listen) {
  StatusOr<std::unique_ptr<Metrics>> metrics = Metrics::Start(listen);
  EXPECT_OK(metrics);
  return metrics.ok() ? std::move(metrics).value() : nullptr;
}

// The value of one sample line "<series> <value>" in exposition text, or
// "<missing>" when no line names that series.
std::string Sample(const std::string& text, const std::string& series) {
  const std::string key = "\n" + series + " ";
  const size_t at = ("\n" + text).find(key);
  if (at == std::string::npos) return "<missing>";
  const size_t start = at + key.size() - 1;  // -1: the "\n" prepended
  return text.substr(start, text.find('\n', start) - start);
}

TEST(MetricsTest, UnlabelledSeriesShowBeforeFirstUse) {
  std::unique_ptr<Metrics> metrics = StartOrDie("");
  ASSERT_NE(metrics, nullptr);
  EXPECT_EQ(metrics->port(), 0);
  const std::string text = metrics->Render();
  EXPECT_EQ(Sample(text, "moesweep_workers_connected"), "0");
  EXPECT_EQ(Sample(text, "moesweep_store_commit_duration_seconds_count"), "0");
  EXPECT_EQ(Sample(text, "moesweep_proposal_duration_seconds_count"), "0");
  // Labelled families appear with their first child.
  EXPECT_EQ(text.find("moesweep_law_parameter"), std::string::npos);
}

TEST(MetricsTest, EveryFamilyHasHelpAndType) {
  std::unique_ptr<Metrics> metrics = StartOrDie("");
  ASSERT_NE(metrics, nullptr);
  metrics->ObserveRpc("Connect", 0, 1);
  metrics->SetTrials("c", "done", 1);
  metrics->LeaseExpired("c");
  metrics->StaleReportRefused("c");
  metrics->ObserveFit("warm", 1);
  metrics->SetLawParameter("c", "alpha", 1, 0, 2);
  metrics->SetLawParameterAtBound("c", "alpha", false);
  metrics->SetLawVersion("c", 1);
  metrics->SetAnswer("c", 1, 0, 2, 0.1);
  metrics->SetFlops("c", 1, 2);
  metrics->ObserveOutOfSampleError("c", 0.1);
  const std::string text = metrics->Render();
  const std::vector<std::pair<std::string, std::string>> families = {
      {"moesweep_rpcs_total", "counter"},
      {"moesweep_rpc_duration_seconds", "histogram"},
      {"moesweep_trials", "gauge"},
      {"moesweep_lease_expiries_total", "counter"},
      {"moesweep_stale_reports_refused_total", "counter"},
      {"moesweep_workers_connected", "gauge"},
      {"moesweep_store_commit_duration_seconds", "histogram"},
      {"moesweep_fit_duration_seconds", "histogram"},
      {"moesweep_proposal_duration_seconds", "histogram"},
      {"moesweep_law_parameter", "gauge"},
      {"moesweep_law_parameter_lower", "gauge"},
      {"moesweep_law_parameter_upper", "gauge"},
      {"moesweep_law_parameter_at_bound", "gauge"},
      {"moesweep_law_version", "gauge"},
      {"moesweep_answer", "gauge"},
      {"moesweep_answer_lower", "gauge"},
      {"moesweep_answer_upper", "gauge"},
      {"moesweep_answer_relative_width", "gauge"},
      {"moesweep_answer_target_relative_width", "gauge"},
      {"moesweep_flops_spent", "gauge"},
      {"moesweep_flops_budget", "gauge"},
      {"moesweep_out_of_sample_log_error", "gauge"},
      {"moesweep_out_of_sample_abs_log_error", "histogram"},
  };
  for (const auto& [name, type] : families) {
    EXPECT_NE(text.find("# HELP " + name + " "), std::string::npos) << name;
    EXPECT_NE(text.find("# TYPE " + name + " " + type + "\n"),
              std::string::npos)
        << name;
  }
}

TEST(MetricsTest, LawParameterAndIntervalCarryCampaignAndParam) {
  std::unique_ptr<Metrics> metrics = StartOrDie("");
  ASSERT_NE(metrics, nullptr);
  metrics->SetLawParameter("c1", "alpha", 0.3, 0.25, 0.35);
  metrics->SetLawParameter("c1", "alpha", 0.31, 0.26, 0.36);  // replaces
  metrics->SetLawParameter("c2", "beta", -1.5, -2, -1);
  metrics->SetLawVersion("c1", 7);
  const std::string text = metrics->Render();
  const std::string alpha = "{campaign=\"c1\",param=\"alpha\"}";
  EXPECT_EQ(Sample(text, "moesweep_law_parameter" + alpha), "0.31");
  EXPECT_EQ(Sample(text, "moesweep_law_parameter_lower" + alpha), "0.26");
  EXPECT_EQ(Sample(text, "moesweep_law_parameter_upper" + alpha), "0.36");
  EXPECT_EQ(
      Sample(text, "moesweep_law_parameter{campaign=\"c2\",param=\"beta\"}"),
      "-1.5");
  EXPECT_EQ(Sample(text, "moesweep_law_version{campaign=\"c1\"}"), "7");
}

// A parameter on its bound shows 1 until a later law moves it off (0).
TEST(MetricsTest, LawParameterAtBoundIsOneOnTheBoundAndZeroOff) {
  std::unique_ptr<Metrics> metrics = StartOrDie("");
  ASSERT_NE(metrics, nullptr);
  metrics->SetLawParameterAtBound("c1", "e", true);
  metrics->SetLawParameterAtBound("c1", "alpha", false);
  std::string text = metrics->Render();
  const std::string e = "{campaign=\"c1\",param=\"e\"}";
  EXPECT_EQ(Sample(text, "moesweep_law_parameter_at_bound" + e), "1");
  EXPECT_EQ(Sample(text,
                   "moesweep_law_parameter_at_bound{campaign=\"c1\","
                   "param=\"alpha\"}"),
            "0");
  metrics->SetLawParameterAtBound("c1", "e", false);
  text = metrics->Render();
  EXPECT_EQ(Sample(text, "moesweep_law_parameter_at_bound" + e), "0");
}

TEST(MetricsTest, RpcsCountByMethodAndCodeName) {
  std::unique_ptr<Metrics> metrics = StartOrDie("");
  ASSERT_NE(metrics, nullptr);
  metrics->ObserveRpc("CreateCampaign", 0, 0.002);
  metrics->ObserveRpc("CreateCampaign", 0, 0.004);
  metrics->ObserveRpc("CreateCampaign", 5, 0.001);
  metrics->ObserveRpc("Connect", 14, 30);
  metrics->ObserveRpc("Connect", 99, 1);  // not a code: UNKNOWN
  const std::string text = metrics->Render();
  EXPECT_EQ(
      Sample(text,
             "moesweep_rpcs_total{code=\"OK\",method=\"CreateCampaign\"}"),
      "2");
  EXPECT_EQ(Sample(text,
                   "moesweep_rpcs_total{code=\"NOT_FOUND\",method="
                   "\"CreateCampaign\"}"),
            "1");
  EXPECT_EQ(Sample(text,
                   "moesweep_rpcs_total{code=\"UNAVAILABLE\",method="
                   "\"Connect\"}"),
            "1");
  EXPECT_EQ(
      Sample(text, "moesweep_rpcs_total{code=\"UNKNOWN\",method=\"Connect\"}"),
      "1");
  EXPECT_EQ(Sample(text,
                   "moesweep_rpc_duration_seconds_count{method="
                   "\"CreateCampaign\"}"),
            "3");
  EXPECT_EQ(Sample(text,
                   "moesweep_rpc_duration_seconds_sum{method="
                   "\"CreateCampaign\"}"),
            "0.007");
  EXPECT_EQ(Sample(text,
                   "moesweep_rpc_duration_seconds_bucket{method="
                   "\"CreateCampaign\",le=\"0.0025\"}"),
            "2");
  EXPECT_EQ(Sample(text,
                   "moesweep_rpc_duration_seconds_bucket{method="
                   "\"Connect\",le=\"10\"}"),
            "1");
}

TEST(MetricsTest, CountersAndGaugesPerCampaign) {
  std::unique_ptr<Metrics> metrics = StartOrDie("");
  ASSERT_NE(metrics, nullptr);
  metrics->SetTrials("c1", "pending", 4);
  metrics->SetTrials("c1", "done", 2);
  metrics->SetTrials("c1", "pending", 3);
  metrics->LeaseExpired("c1");
  metrics->LeaseExpired("c1");
  metrics->StaleReportRefused("c1");
  metrics->SetWorkersConnected(5);
  metrics->SetFlops("c1", 1.5e18, 1e20);
  metrics->SetAnswer("c1", 2.0, 1.9, 2.1, 0.05);
  metrics->SetAnswer("c0", 0, -1, 1, 0.05);
  metrics->SetAnswer("c2", 2.0, 2.0 / 1.5, 3.0, 0.05);  // a log-scale interval
  const std::string text = metrics->Render();
  EXPECT_EQ(Sample(text, "moesweep_trials{campaign=\"c1\",state=\"pending\"}"),
            "3");
  EXPECT_EQ(Sample(text, "moesweep_trials{campaign=\"c1\",state=\"done\"}"),
            "2");
  EXPECT_EQ(Sample(text, "moesweep_lease_expiries_total{campaign=\"c1\"}"),
            "2");
  EXPECT_EQ(
      Sample(text, "moesweep_stale_reports_refused_total{campaign=\"c1\"}"),
      "1");
  EXPECT_EQ(Sample(text, "moesweep_workers_connected"), "5");
  EXPECT_EQ(Sample(text, "moesweep_flops_spent{campaign=\"c1\"}"), "1.5e+18");
  EXPECT_EQ(Sample(text, "moesweep_flops_budget{campaign=\"c1\"}"), "1e+20");
  EXPECT_EQ(Sample(text, "moesweep_answer{campaign=\"c1\"}"), "2");
  EXPECT_EQ(Sample(text, "moesweep_answer_lower{campaign=\"c1\"}"), "1.9");
  EXPECT_EQ(Sample(text, "moesweep_answer_upper{campaign=\"c1\"}"), "2.1");
  const std::string width =
      Sample(text, "moesweep_answer_relative_width{campaign=\"c1\"}");
  EXPECT_NEAR(std::stod(width), 0.1, 1e-12) << width;
  EXPECT_EQ(Sample(text, "moesweep_answer_relative_width{campaign=\"c0\"}"),
            "+Inf");
  const std::string log_width =
      Sample(text, "moesweep_answer_relative_width{campaign=\"c2\"}");
  EXPECT_NEAR(std::stod(log_width), (3.0 - 2.0 / 1.5) / 2.0, 1e-12)
      << log_width;
  EXPECT_EQ(
      Sample(text, "moesweep_answer_target_relative_width{campaign=\"c1\"}"),
      "0.05");
}

TEST(MetricsTest, DurationAndErrorHistograms) {
  std::unique_ptr<Metrics> metrics = StartOrDie("");
  ASSERT_NE(metrics, nullptr);
  metrics->ObserveStoreCommit(0.0003);
  metrics->ObserveStoreCommit(0.2);
  metrics->ObserveFit("warm", 0.01);
  metrics->ObserveFit("full", 40);
  metrics->ObserveProposal(0.05);
  metrics->ObserveOutOfSampleError("c1", -0.03);
  metrics->ObserveOutOfSampleError("c1", 0.004);
  const std::string text = metrics->Render();
  EXPECT_EQ(Sample(text, "moesweep_store_commit_duration_seconds_count"), "2");
  EXPECT_EQ(Sample(text,
                   "moesweep_store_commit_duration_seconds_bucket{le="
                   "\"0.0005\"}"),
            "1");
  EXPECT_EQ(Sample(text, "moesweep_fit_duration_seconds_count{kind=\"warm\"}"),
            "1");
  EXPECT_EQ(Sample(text, "moesweep_fit_duration_seconds_sum{kind=\"full\"}"),
            "40");
  EXPECT_EQ(Sample(text, "moesweep_proposal_duration_seconds_count"), "1");
  EXPECT_EQ(Sample(text, "moesweep_out_of_sample_log_error{campaign=\"c1\"}"),
            "0.004");
  const std::string abs = "moesweep_out_of_sample_abs_log_error";
  EXPECT_EQ(Sample(text, abs + "_count{campaign=\"c1\"}"), "2");
  EXPECT_EQ(Sample(text, abs + "_bucket{campaign=\"c1\",le=\"0.005\"}"), "1");
  EXPECT_EQ(Sample(text, abs + "_bucket{campaign=\"c1\",le=\"0.05\"}"), "2");
}

TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  std::unique_ptr<Metrics> metrics = StartOrDie("");
  ASSERT_NE(metrics, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < 1000; ++i) {
        metrics->ObserveRpc("Connect", 0, 0.001);
        metrics->LeaseExpired(t % 2 == 0 ? "even" : "odd");
        if (i % 100 == 0) metrics->Render();
      }
    });
  }
  for (std::thread& th : threads) th.join();
  const std::string text = metrics->Render();
  EXPECT_EQ(Sample(text, "moesweep_rpcs_total{code=\"OK\",method=\"Connect\"}"),
            "4000");
  EXPECT_EQ(Sample(text, "moesweep_lease_expiries_total{campaign=\"odd\"}"),
            "2000");
}

TEST(MetricsTest, ServesTheRegistryOverHttp) {
  std::unique_ptr<Metrics> metrics = StartOrDie("127.0.0.1:0");
  ASSERT_NE(metrics, nullptr);
  ASSERT_GT(metrics->port(), 0);
  metrics->SetLawParameter("c1", "alpha", 0.3, 0.25, 0.35);
  StatusOr<std::string> body = HttpGet(metrics->port(), "/metrics");
  ASSERT_OK(body);
  const std::string series =
      "moesweep_law_parameter{campaign=\"c1\",param=\"alpha\"}";
  EXPECT_EQ(Sample(*body, series), "0.3");
  EXPECT_EQ(Sample(*body, series), Sample(metrics->Render(), series));
  EXPECT_NE(body->find("# HELP moesweep_law_parameter "), std::string::npos);
  EXPECT_EQ(HttpGet(metrics->port(), "/nothing").status().code(),
            StatusCode::kNotFound);
}

TEST(MetricsTest, PortInUseIsUnavailableNamingTheAddress) {
  std::unique_ptr<Metrics> first = StartOrDie("127.0.0.1:0");
  ASSERT_NE(first, nullptr);
  const std::string taken = "127.0.0.1:" + std::to_string(first->port());
  StatusOr<std::unique_ptr<Metrics>> second = Metrics::Start(taken);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(taken), std::string_view::npos)
      << second.status().ToString();
}

TEST(MetricsTest, ListenThatIsNotHostPortIsInvalidArgument) {
  for (const std::string listen :
       {"127.0.0.1", ":9100", "127.0.0.1:http", "127.0.0.1:70000",
        "127.0.0.1:0,127.0.0.1:0", "127.0.0.1:80s"}) {
    StatusOr<std::unique_ptr<Metrics>> metrics = Metrics::Start(listen);
    EXPECT_EQ(metrics.status().code(), StatusCode::kInvalidArgument) << listen;
  }
}

// What a real Prometheus server (Debian's) scrapes from /metrics.
TEST(MetricsTest, PrometheusScrapesLawParameter) {
  std::unique_ptr<Metrics> metrics = StartOrDie("127.0.0.1:0");
  ASSERT_NE(metrics, nullptr);
  metrics->SetLawParameter("c1", "alpha", 0.3, 0.25, 0.35);
  StatusOr<std::unique_ptr<PrometheusServer>> prom =
      PrometheusServer::Start(metrics->port());
  // scripts/setup installs Debian's prometheus: a missing binary fails.
  ASSERT_OK(prom);

  // {"status":"success","data":{"resultType":"vector","result":[
  //   {"metric":{"__name__":...,"param":"alpha",...},"value":[t,"0.3"]}]}}
  nlohmann::json alpha;
  const auto has_alpha = [&alpha](const std::string& body) {
    nlohmann::json reply = nlohmann::json::parse(body, nullptr, false);
    if (reply.is_discarded() || !reply["data"]["result"].is_array()) {
      return false;
    }
    for (nlohmann::json& series : reply["data"]["result"]) {
      if (series["metric"].value("param", "") == "alpha") {
        alpha = series;
        return true;
      }
    }
    return false;
  };
  StatusOr<std::string> body =
      (*prom)->QueryUntil("moesweep_law_parameter", has_alpha, 30);
  ASSERT_OK(body);
  EXPECT_EQ(alpha["metric"]["__name__"], "moesweep_law_parameter");
  EXPECT_EQ(alpha["metric"]["campaign"], "c1");
  EXPECT_EQ(alpha["metric"]["job"], "moesweep");
  EXPECT_EQ(alpha["metric"]["instance"],
            "127.0.0.1:" + std::to_string(metrics->port()));
  EXPECT_EQ(alpha["value"][1], "0.3");

  // The scraper kept the HELP and TYPE lines.
  StatusOr<std::string> metadata = HttpGet(
      (*prom)->port(), "/api/v1/metadata?metric=moesweep_law_parameter_upper");
  ASSERT_OK(metadata);
  const nlohmann::json meta = nlohmann::json::parse(*metadata, nullptr, false);
  ASSERT_FALSE(meta.is_discarded()) << *metadata;
  ASSERT_EQ(meta["data"]["moesweep_law_parameter_upper"].size(), 1u)
      << *metadata;
  EXPECT_EQ(meta["data"]["moesweep_law_parameter_upper"][0]["type"], "gauge");
  EXPECT_EQ(meta["data"]["moesweep_law_parameter_upper"][0]["help"],
            "Upper end of a law parameter's 95% interval.");
}

TEST(MetricsTest, ForgetCampaignRemovesEveryOneOfItsSeries) {
  std::unique_ptr<Metrics> metrics = StartOrDie("");
  ASSERT_NE(metrics, nullptr);
  for (const char* c : {"c1", "c2"}) {
    metrics->SetCampaignState(c, "running");
    metrics->SetTrials(c, "queued", 3);
    metrics->SetLawParameter(c, "alpha", 0.3, 0.2, 0.4);
    metrics->SetLawParameterAtBound(c, "alpha", false);
    metrics->SetLawVersion(c, 2);
    metrics->SetAnswer(c, 2.0, 1.9, 2.1, 0.05);
    metrics->SetFlops(c, 1e18, 1e19);
    metrics->ObserveOutOfSampleError(c, 0.01);
    metrics->SetValidationLogError(c, "t1", -0.02);
    metrics->LeaseExpired(c);
    metrics->StaleReportRefused(c);
    metrics->FitFailed(c);
  }
  EXPECT_EQ(
      Sample(metrics->Render(),
             "moesweep_campaign_state{campaign=\"c1\",state=\"running\"}"),
      "1");
  EXPECT_EQ(Sample(metrics->Render(),
                   "moesweep_campaign_state{campaign=\"c1\",state=\"failed\"}"),
            "0");
  metrics->ForgetCampaign("c1");
  const std::string text = metrics->Render();
  EXPECT_EQ(text.find("campaign=\"c1\""), std::string::npos) << text;
  EXPECT_EQ(Sample(text, "moesweep_fit_failures_total{campaign=\"c2\"}"), "1");
  // A campaign set again after it was forgotten starts afresh.
  metrics->SetCampaignState("c1", "paused");
  EXPECT_EQ(
      Sample(metrics->Render(), "moesweep_fit_failures_total{campaign=\"c1\"}"),
      "0");
}

std::string WorkerId(int i) {
  std::string id = "w";
  id += std::to_string(i);  // append: gcc 12 warns on "w" + to_string
  return id;
}

TEST(MetricsTest, WorkerSeriesAreCappedAndGoWithTheWorker) {
  std::unique_ptr<Metrics> metrics = StartOrDie("");
  ASSERT_NE(metrics, nullptr);
  for (int i = 0; i <= kMaxWorkerSeries; ++i) {
    metrics->SetWorkerSilence(WorkerId(i), i);
  }
  const std::string last = "moesweep_worker_silent_seconds{worker=\"" +
                           WorkerId(kMaxWorkerSeries) + "\"}";
  EXPECT_EQ(Sample(metrics->Render(), last), "<missing>");
  metrics->SetWorkerProgress("w0", 1.5e5, 3.25, 1024);
  std::string text = metrics->Render();
  EXPECT_EQ(Sample(text, "moesweep_worker_tokens_per_second{worker=\"w0\"}"),
            "150000");
  EXPECT_EQ(Sample(text, "moesweep_worker_train_loss{worker=\"w0\"}"), "3.25");
  EXPECT_EQ(Sample(text, "moesweep_worker_peak_memory_bytes{worker=\"w0\"}"),
            "1024");
  metrics->ForgetWorker("w0");  // frees a place
  text = metrics->Render();
  EXPECT_EQ(text.find("worker=\"w0\""), std::string::npos);
  metrics->SetWorkerSilence(WorkerId(kMaxWorkerSeries), 7);
  EXPECT_EQ(Sample(metrics->Render(), last), "7");
}

}  // namespace
}  // namespace moesweep::coordinator
