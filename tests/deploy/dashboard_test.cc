// deploy/ kept true as the code moves: Grafana's provisioning fields in the
// dashboard; and a real coordinator running a simulated campaign, scraped by
// a real Prometheus with deploy/prometheus's config and rules, answering
// every PromQL expression of the dashboard, and firing the silent-worker
// alert once a worker stops talking.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing/coordinator_fixture.h"
#include "tests/testing/http_get.h"
#include "tests/testing/prometheus_server.h"

namespace moesweep::testing {
namespace {

namespace v1 = ::moesweep::v1;
using nlohmann::json;

const std::string kDeploy = std::string(MOESWEEP_SOURCE_DIR) + "/deploy";
constexpr char kDatasourceUid[] = "moesweep-prometheus";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

json Dashboard() {
  return json::parse(ReadFile(kDeploy + "/grafana/dashboards/moesweep.json"));
}

// Every panel, rows' nested panels included, except the rows themselves.
std::vector<json> Panels(const json& dashboard) {
  std::vector<json> out;
  for (const json& p : dashboard["panels"]) {
    if (p.value("type", "") == "row") {
      for (const json& q : p.value("panels", json::array())) out.push_back(q);
    } else {
      out.push_back(p);
    }
  }
  return out;
}

// deploy/prometheus/prometheus.yml as shipped, but scraping the test's
// coordinator every second, with its rule files by absolute path.
std::string TestConfig(int metrics_port) {
  YAML::Node c = YAML::LoadFile(kDeploy + "/prometheus/prometheus.yml");
  c["global"]["scrape_interval"] = "1s";
  c["global"]["scrape_timeout"] = "1s";
  c["global"]["evaluation_interval"] = "1s";
  for (size_t i = 0; i < c["rule_files"].size(); ++i) {
    c["rule_files"][i] =
        kDeploy + "/prometheus/" + c["rule_files"][i].as<std::string>();
  }
  c["scrape_configs"][0]["static_configs"][0]["targets"][0] =
      "127.0.0.1:" + std::to_string(metrics_port);
  YAML::Emitter out;
  out << c;
  return out.c_str();
}

// The names the recording rules define.
std::set<std::string> RecordedNames() {
  std::set<std::string> names;
  YAML::Node rules =
      YAML::LoadFile(kDeploy + "/prometheus/rules/recording.yml");
  for (const YAML::Node& group : rules["groups"]) {
    for (const YAML::Node& rule : group["rules"]) {
      names.insert(rule["record"].as<std::string>());
    }
  }
  return names;
}

// The moesweep metric names (and recording-rule names) an expression reads.
std::set<std::string> NamesIn(const std::string& expr) {
  static const std::regex kName("moesweep[_:][A-Za-z0-9_:]*");
  std::set<std::string> names;
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), kName);
       it != std::sregex_iterator(); ++it) {
    names.insert(it->str());
  }
  return names;
}

// True when /metrics (`page`) declares `name`, or `name` is a histogram's
// _bucket, _sum or _count series.
bool Exported(const std::string& page, const std::string& name) {
  if (page.find("# TYPE " + name + " ") != std::string::npos) return true;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (name.size() > s.size() &&
        name.compare(name.size() - s.size(), s.size(), s) == 0 &&
        page.find("# TYPE " + name.substr(0, name.size() - s.size()) +
                  " histogram") != std::string::npos) {
      return true;
    }
  }
  return false;
}

bool HasResult(const std::string& body) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.value("status", "") == "success" &&
         !j["data"]["result"].empty();
}

TEST(DashboardTest, HasWhatGrafanaProvisioningNeeds) {
  const json d = Dashboard();
  EXPECT_EQ(d.value("uid", ""), "moesweep-campaign");
  EXPECT_FALSE(d.value("title", "").empty());
  EXPECT_GE(d.value("schemaVersion", 0), 36);
  ASSERT_TRUE(d["templating"]["list"].is_array());
  bool has_campaign = false;
  for (const json& v : d["templating"]["list"]) {
    if (v.value("name", "") != "campaign") continue;
    has_campaign = true;
    EXPECT_EQ(v.value("type", ""), "query");
    EXPECT_EQ(v["datasource"].value("uid", ""), kDatasourceUid);
    EXPECT_NE(v["query"].value("query", "").find("label_values("),
              std::string::npos);
  }
  EXPECT_TRUE(has_campaign) << "no $campaign variable";
  std::set<int> ids;
  int targets = 0;
  for (const json& p : Panels(d)) {
    const std::string title = p.value("title", "");
    EXPECT_TRUE(ids.insert(p.value("id", -1)).second) << title;
    EXPECT_TRUE(p.contains("gridPos")) << title;
    EXPECT_EQ(p["datasource"].value("uid", ""), kDatasourceUid) << title;
    ASSERT_FALSE(p.value("targets", json::array()).empty()) << title;
    for (const json& t : p["targets"]) {
      EXPECT_EQ(t["datasource"].value("uid", ""), kDatasourceUid) << title;
      EXPECT_FALSE(t.value("refId", "").empty()) << title;
      EXPECT_FALSE(t.value("expr", "").empty()) << title;
      ++targets;
    }
  }
  EXPECT_GE(targets, 30);
  // The datasource provisioning defines the uid every panel names.
  YAML::Node ds = YAML::LoadFile(
      kDeploy + "/grafana/provisioning/datasources/moesweep.yml");
  EXPECT_EQ(ds["datasources"][0]["uid"].as<std::string>(), kDatasourceUid);
  EXPECT_EQ(ds["datasources"][0]["type"].as<std::string>(), "prometheus");
  YAML::Node providers =
      YAML::LoadFile(kDeploy + "/grafana/provisioning/dashboards/moesweep.yml");
  EXPECT_EQ(providers["providers"][0]["type"].as<std::string>(), "file");
}

// An alert a person on call can act on: a summary, a runbook section in
// deploy/README.md under its name, and a promtool unit test.
TEST(AlertsTest, EachAlertHasASummaryARunbookAndAUnitTest) {
  const YAML::Node rules =
      YAML::LoadFile(kDeploy + "/prometheus/rules/alerts.yml");
  const std::string readme = ReadFile(kDeploy + "/README.md");
  const std::string unit_tests =
      ReadFile(kDeploy + "/prometheus/tests/alerts_test.yml");
  int alerts = 0;
  for (const YAML::Node& group : rules["groups"]) {
    for (const YAML::Node& rule : group["rules"]) {
      const std::string name = rule["alert"].as<std::string>();
      std::string anchor = name;
      for (char& ch : anchor) ch = static_cast<char>(std::tolower(ch));
      EXPECT_FALSE(rule["annotations"]["summary"].as<std::string>().empty())
          << name;
      EXPECT_EQ(rule["annotations"]["runbook"].as<std::string>(),
                "deploy/README.md#" + anchor);
      EXPECT_NE(readme.find("#### " + name + "\n"), std::string::npos)
          << name << " has no runbook section";
      EXPECT_NE(unit_tests.find("alertname: " + name + "\n"), std::string::npos)
          << name << " has no promtool test";
      ++alerts;
    }
  }
  EXPECT_EQ(alerts, 8);
}

using LiveDashboardTest = CoordinatorFixture;

TEST_F(LiveDashboardTest, EveryPanelQueryAnswersAndASilentWorkerAlerts) {
  coordinator::ServerOptions options;
  options.metrics_listen = "127.0.0.1:0";
  options.clock = &clock_;  // the silence below is the clock's, not a sleep
  StartServer(options);
  const v1::Campaign c = CreateCampaign(
      SmallCampaignYaml("dash") + "validate: {runs: 1, flops_multiple: 4}\n");
  SimWorker sim(SimOptions("sim-1"));  // stays connected: its series stay
  ASSERT_EQ(WatchToEnd(c.campaign_id()), v1::CAMPAIGN_STATE_SUCCEEDED);
  {
    // One RPC that fails, so the error ratio has something to show.
    v1::GetCampaignRequest request;
    request.set_campaign_id("no-such-campaign");
    v1::GetCampaignResponse out;
    EXPECT_EQ(CampaignStub()
                  ->Get(AuthContext(kViewerToken).get(), request, &out)
                  .error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  StatusOr<std::string> page = HttpGet(server_->metrics_port(), "/metrics");
  ASSERT_TRUE(page.ok()) << page.status().ToString();

  StatusOr<std::unique_ptr<PrometheusServer>> prom =
      PrometheusServer::StartWithConfig(TestConfig(server_->metrics_port()));
  // scripts/setup installs Debian's prometheus: a missing binary fails.
  ASSERT_TRUE(prom.ok()) << prom.status().ToString();

  const std::set<std::string> recorded = RecordedNames();
  int queries = 0;
  for (const json& p : Panels(Dashboard())) {
    for (const json& t : p["targets"]) {
      std::string expr = t["expr"];
      for (size_t at; (at = expr.find("$campaign")) != std::string::npos;) {
        expr.replace(at, 9, c.campaign_id());
      }
      SCOPED_TRACE(p.value("title", "") + ": " + expr);
      for (const std::string& name : NamesIn(expr)) {
        if (name.find(':') != std::string::npos) {
          EXPECT_TRUE(recorded.contains(name)) << name << " is not recorded";
        } else {
          EXPECT_TRUE(Exported(*page, name)) << name << " is not exported";
        }
      }
      // Each answers with data once a scrape and a rule evaluation ran: the
      // campaign finished with a validation run, a worker connected, and
      // one failed RPC, so no panel is legitimately empty here.
      StatusOr<std::string> body = (*prom)->QueryUntil(expr, HasResult, 30);
      EXPECT_TRUE(body.ok()) << body.status().ToString();
      ++queries;
    }
  }
  EXPECT_GE(queries, 30);

  // A worker that said Hello and then went quiet: a hung or stopped process
  // whose stream is still open.
  auto context = AuthContext(kWorkerToken);
  auto stream = WorkerStub()->Connect(context.get());
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id("stopped-worker");
  hello.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
  ASSERT_TRUE(stream->Write(hello));
  v1::CoordinatorMessage welcome;
  ASSERT_TRUE(stream->Read(&welcome));
  ASSERT_TRUE(welcome.has_welcome());
  const std::string firing =
      "ALERTS{alertname=\"MoesweepWorkerSilent\",alertstate=\"firing\","
      "worker=\"stopped-worker\"}";
  StatusOr<std::string> before = (*prom)->QueryUntil(
      "moesweep_worker_silent_seconds{worker=\"stopped-worker\"}", HasResult);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  StatusOr<std::string> quiet = (*prom)->Query(firing);
  ASSERT_TRUE(quiet.ok());
  EXPECT_FALSE(HasResult(*quiet)) << *quiet;
  clock_.Advance(3 * 60 * 1000);  // past the alert's 120 s
  StatusOr<std::string> fired = (*prom)->QueryUntil(firing, HasResult);
  EXPECT_TRUE(fired.ok()) << fired.status().ToString();
  context->TryCancel();
  (void)stream->Finish();
}

}  // namespace
}  // namespace moesweep::testing
