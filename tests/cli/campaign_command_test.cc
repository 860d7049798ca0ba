// `moesweep campaign` as a person and a script use it, against a real
// coordinator on loopback: every verb as a table and as JSON, the
// environment defaults, paging, each error's message and exit code, and
// watch's progress line on a pseudo-terminal.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "coordinator/records.h"
#include "coordinator/store.h"
#include "tests/testing/coordinator_fixture.h"

namespace moesweep::testing {
namespace {

namespace v1 = ::moesweep::v1;
using nlohmann::json;

struct Ran {
  int code = 0;
  std::string out, err;
};

class CampaignCommandTest : public CoordinatorFixture {
 protected:
  void SetUp() override {
    StartServer();
    tokens_ = dir_.File("tokens");
    dir_.Write("tokens", std::string("admin ") + kAdminToken + "\nviewer " +
                             kViewerToken + "\n");
  }

  // A spec file for a new campaign (names are unique per coordinator).
  std::string Spec() {
    const std::string name = "cli" + std::to_string(++specs_);
    return dir_.Write(name + ".yaml", SmallCampaignYaml(name));
  }

  cli::CampaignCommandOptions Options(const std::string& verb,
                                      const std::string& target = "") {
    cli::CampaignCommandOptions o;
    o.verb = verb;
    o.target = target;
    o.connection.coordinator = address();
    o.connection.token_file = tokens_;
    return o;
  }
  static Ran Run(const cli::CampaignCommandOptions& o) {
    std::ostringstream out, err;
    Ran r;
    r.code = cli::RunCampaignCommand(o, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }
  // A finished campaign, made through the command.
  std::string FinishedCampaign() {
    Ran created = Run(Options("create", Spec()));
    EXPECT_EQ(created.code, 0) << created.err;
    EXPECT_EQ(created.out.rfind("created ", 0), 0u) << created.out;
    const std::string id = created.out.substr(8, created.out.find('\n') - 8);
    SimWorker w(SimOptions("sim-cli"));
    EXPECT_EQ(WatchToEnd(id), v1::CAMPAIGN_STATE_SUCCEEDED);
    return id;
  }

  std::string tokens_;
  int specs_ = 0;
};

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST_F(CampaignCommandTest, EachVerbPrintsATableOrJson) {
  const std::string id = FinishedCampaign();

  Ran list = Run(Options("list"));
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(list.out.rfind("ID ", 0), 0u) << list.out;
  const size_t row = list.out.find("\n" + id + "  cli1  ");
  ASSERT_NE(row, std::string::npos) << list.out;
  EXPECT_NE(list.out.substr(row, list.out.find('\n', row + 1) - row)
                .find("  SUCCEEDED  chinchilla  "),
            std::string::npos)
      << list.out;

  Ran get = Run(Options("get", id));
  ASSERT_EQ(get.code, 0) << get.err;
  EXPECT_NE(get.out.find("state:     SUCCEEDED"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("target met"), std::string::npos) << get.out;

  Ran law = Run(Options("law", id));
  ASSERT_EQ(law.code, 0) << law.err;
  for (const char* p :
       {"PARAMETER", "alpha", "beta", "answer: ", "NATURAL 95%", "  A = "}) {
    EXPECT_NE(law.out.find(p), std::string::npos) << p << "\n" << law.out;
  }

  Ran trials = Run(Options("trials", id));
  ASSERT_EQ(trials.code, 0) << trials.err;
  auto json_of = [&](cli::CampaignCommandOptions o) {
    o.json = true;
    Ran r = Run(o);
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out);
  };
  const json trials_json = json_of(Options("trials", id));
  ASSERT_GT(trials_json["trials"].size(), 5u);
  EXPECT_EQ(Lines(trials.out),
            1 + static_cast<int>(trials_json["trials"].size()));
  EXPECT_NE(trials.out.find("SUCCEEDED"), std::string::npos);

  cli::CampaignCommandOptions optimal = Options("optimal", id);
  optimal.flops = 1e21;
  Ran best = Run(optimal);
  ASSERT_EQ(best.code, 0) << best.err;
  EXPECT_NE(best.out.find("params:       "), std::string::npos) << best.out;
  EXPECT_EQ(best.out.find("params:       0 total"), std::string::npos)
      << best.out;
  const json optimal_json = json_of(optimal);
  EXPECT_GT(optimal_json["prediction"]["loss"].get<double>(), 0);

  EXPECT_EQ(json_of(Options("get", id))["campaign"]["state"],
            "CAMPAIGN_STATE_SUCCEEDED");
  EXPECT_EQ(json_of(Options("law", id))["law"]["campaignId"], id);

  cli::CampaignCommandOptions csv = Options("export", id);
  Ran exported = Run(csv);
  ASSERT_EQ(exported.code, 0) << exported.err;
  EXPECT_EQ(exported.out.rfind("trial_id,attempt,state,", 0), 0u);
  // `moesweep fit` reads the export as it is, and fits the campaign's runs.
  cli::FitCommandOptions fit;
  fit.data = dir_.Write("trials.csv", exported.out);
  fit.json = true;
  fit.threads = 1;
  std::ostringstream fit_out, fit_err;
  ASSERT_EQ(cli::RunFitCommand(fit, fit_out, fit_err), 0) << fit_err.str();
  const json fitted = json::parse(fit_out.str());
  const json campaign_law = json_of(Options("law", id))["law"];
  EXPECT_EQ(fitted["runs"],
            std::stoi(campaign_law["numObservations"].get<std::string>()));

  // The state changes, on a campaign that runs (no worker: it waits).
  Ran created = Run(Options("create", Spec()));
  ASSERT_EQ(created.code, 0) << created.err;
  const std::string live = created.out.substr(8, created.out.find('\n') - 8);
  EXPECT_EQ(Run(Options("pause", live)).out, live + " PAUSED\n");
  EXPECT_EQ(Run(Options("resume", live)).out, live + " RUNNING\n");
  cli::CampaignCommandOptions amend = Options("amend", live);
  amend.budget_flops = 2e19;
  EXPECT_EQ(Run(amend).out, live + " RUNNING\n");
  EXPECT_EQ(json_of(Options("get", live))["campaign"]["budgetFlops"], 2e19);
  EXPECT_EQ(Run(Options("cancel", live)).out, live + " CANCELLED\n");
  Ran again = Run(Options("cancel", live));
  EXPECT_EQ(again.code, 2) << "cancelling an ended campaign is bad input";
}

// law, predict and optimal take a campaign as well as a law file.
TEST_F(CampaignCommandTest, LawPredictAndOptimalAskACampaignsCoordinator) {
  const std::string id = FinishedCampaign();
  std::ostringstream out, err;
  cli::LawCommandOptions law;
  law.campaign = id;
  law.connection = Options("law").connection;
  ASSERT_EQ(cli::RunLawCommand(law, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("law " + id + " version "), std::string::npos)
      << out.str();

  cli::OptimalCommandOptions optimal;
  optimal.campaign = id;
  optimal.connection = law.connection;
  optimal.flops = 1e21;
  optimal.json = true;
  std::ostringstream best_out;
  ASSERT_EQ(cli::RunOptimalCommand(optimal, best_out, err), 0) << err.str();
  const json best = json::parse(best_out.str());
  const json& f = best["prediction"]["features"];
  EXPECT_GT(f.value("nTotalNe", 0.0), 0) << best;

  // The optimum's own features, predicted again, give its loss.
  cli::PredictCommandOptions predict;
  predict.campaign = id;
  predict.connection = law.connection;
  predict.json = true;
  for (const char* name : {"n_total_ne", "n_active_ne", "n_embed", "tokens"}) {
    std::string key;  // proto3 JSON's lowerCamelCase
    for (size_t i = 0; name[i] != '\0'; ++i) {
      key +=
          name[i] == '_' ? static_cast<char>(std::toupper(name[++i])) : name[i];
    }
    std::ostringstream v;
    v.precision(17);
    v << f.value(key, 0.0);
    predict.at.push_back(std::string(name) + "=" + v.str());
  }
  std::ostringstream again_out;
  ASSERT_EQ(cli::RunPredictCommand(predict, again_out, err), 0) << err.str();
  const json again = json::parse(again_out.str());
  EXPECT_NEAR(again["predictions"][0]["loss"].get<double>(),
              best["prediction"]["loss"].get<double>(),
              1e-6 * best["prediction"]["loss"].get<double>());

  predict.json = false;
  predict.at = {"widgets=3"};
  std::ostringstream bad_out, bad_err;
  EXPECT_EQ(cli::RunPredictCommand(predict, bad_out, bad_err), 2);
  EXPECT_NE(bad_err.str().find("n_total_ne"), std::string::npos)
      << bad_err.str();
}

TEST_F(CampaignCommandTest, ReadsTheCoordinatorAndTokenFromTheEnvironment) {
  cli::CampaignCommandOptions o = Options("list");
  o.connection = {};
  setenv("MOESWEEP_COORDINATOR", address().c_str(), 1);
  setenv("MOESWEEP_TOKEN_FILE", tokens_.c_str(), 1);
  Ran by_file = Run(o);
  EXPECT_EQ(by_file.code, 0) << by_file.err;
  unsetenv("MOESWEEP_TOKEN_FILE");
  setenv("MOESWEEP_TOKEN", kViewerToken, 1);
  Ran by_token = Run(o);
  EXPECT_EQ(by_token.code, 0) << by_token.err;
  unsetenv("MOESWEEP_TOKEN");
  Ran none = Run(o);
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("MOESWEEP_TOKEN_FILE"), std::string::npos)
      << none.err;
  EXPECT_NE(none.err.find("--token-file"), std::string::npos) << none.err;
  // A flag wins over the environment.
  setenv("MOESWEEP_TOKEN", "not-a-token-of-this-coordinator", 1);
  o.connection.token_file = tokens_;
  EXPECT_EQ(Run(o).code, 0);
  unsetenv("MOESWEEP_TOKEN");
  unsetenv("MOESWEEP_COORDINATOR");
}

TEST_F(CampaignCommandTest, ReadsEveryPageOfCampaignsAndTrials) {
  // Past the coordinator's default page of 100.
  for (int i = 0; i < 103; ++i) {
    ASSERT_EQ(Run(Options("create", Spec())).code, 0);
  }
  cli::CampaignCommandOptions list = Options("list");
  list.json = true;
  EXPECT_EQ(json::parse(Run(list).out)["campaigns"].size(), 103u);
  Ran table = Run(Options("list"));
  EXPECT_EQ(Lines(table.out), 1 + 103);
  list.page_size = 10;
  EXPECT_EQ(json::parse(Run(list).out)["campaigns"].size(), 103u);

  const std::string id = FinishedCampaign();
  cli::CampaignCommandOptions trials = Options("trials", id);
  trials.json = true;
  const size_t all = json::parse(Run(trials).out)["trials"].size();
  trials.page_size = 3;  // many pages
  const json paged = json::parse(Run(trials).out);
  ASSERT_EQ(paged["trials"].size(), all);
  std::set<std::string> ids;
  for (const json& t : paged["trials"]) ids.insert(t["spec"]["trialId"]);
  EXPECT_EQ(ids.size(), all) << "a trial repeated across pages";
}

TEST_F(CampaignCommandTest, ReadsTrialsPastTenThousand) {
  // `trials` once stopped at 10,000. A cancelled campaign is given 10,050
  // stored trials (copies of its first, as a restart finds them), so that
  // listing them takes 101 of the coordinator's default pages.
  Ran created = Run(Options("create", Spec()));
  ASSERT_EQ(created.code, 0) << created.err;
  const std::string id = created.out.substr(8, created.out.find('\n') - 8);
  SchedulerBarrier();  // its first runs are proposed
  ASSERT_EQ(Run(Options("cancel", id)).code, 0);
  StopServer();
  constexpr int kTrials = 10'050;
  {
    coordinator::StoreOptions so;
    so.path = dir_.File("db");
    auto store = coordinator::Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto found = (*store)->ScanRecords(coordinator::RecordFamily::kCampaigns,
                                       coordinator::records::TrialPrefix(id));
    ASSERT_TRUE(found.ok() && !found->empty());
    v1::Trial first;
    ASSERT_TRUE(first.ParseFromString(found->front().value));
    std::vector<coordinator::Record> records;
    std::vector<std::string> ids;
    for (int i = static_cast<int>(found->size()); i < kTrials; ++i) {
      v1::Trial t = first;
      t.mutable_spec()->set_trial_id(coordinator::records::TrialId(id, i));
      t.set_state(v1::TRIAL_STATE_CANCELLED);
      ids.push_back(t.spec().trial_id());
      records.push_back(coordinator::records::TrialRecord(id, i, t));
    }
    ASSERT_TRUE((*store)->WriteRecords(records, ids).ok());
  }
  StartServer();
  cli::CampaignCommandOptions trials = Options("trials", id);
  trials.json = true;
  Ran listed = Run(trials);
  ASSERT_EQ(listed.code, 0) << listed.err;
  const json all = json::parse(listed.out)["trials"];
  ASSERT_EQ(all.size(), static_cast<size_t>(kTrials));
  std::set<std::string> unique;
  for (const json& t : all) unique.insert(t["spec"]["trialId"]);
  EXPECT_EQ(unique.size(), static_cast<size_t>(kTrials));
  EXPECT_EQ(all.back()["spec"]["trialId"],
            coordinator::records::TrialId(id, kTrials - 1));
  Ran table = Run(Options("trials", id));
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(Lines(table.out), 1 + kTrials);
}

TEST_F(CampaignCommandTest, ErrorsNameWhatIsWrongWithDocumentedExitCodes) {
  Ran unknown = Run(Options("get", "c999999"));
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("c999999"), std::string::npos) << unknown.err;

  const std::string bad = dir_.Write("bad", "0123456789abcdef0123456789\n");
  cli::CampaignCommandOptions o = Options("list");
  o.connection.token_file = bad;
  Ran refused = Run(o);
  EXPECT_EQ(refused.code, 3) << refused.err;

  // Nothing listens on a port the server just gave back.
  const std::string gone = address();
  o = Options("list");
  StopServer();
  Ran unreachable = Run(o);
  EXPECT_EQ(unreachable.code, 4);
  EXPECT_NE(unreachable.err.find("coordinator at " + gone + " unavailable"),
            std::string::npos)
      << unreachable.err;
}

// Runs `argv` under a pseudo-terminal and returns all it wrote (up to 60 s).
std::string RunOnATerminal(std::vector<std::string> argv) {
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  std::string text;
  if (pid < 0) return text;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    const ssize_t n = read(master, buf, sizeof(buf));
    if (n <= 0) break;  // EIO: the child closed the terminal
    text.append(buf, n);
  }
  close(master);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return text;
}

TEST_F(CampaignCommandTest,
       WatchDrawsAProgressLineOnATerminalAndJsonWhenPiped) {
  const std::string id = FinishedCampaign();
  const std::string screen =
      RunOnATerminal({MOESWEEP_BINARY, "campaign", "watch", id, "--coordinator",
                      address(), "--token-file", tokens_});
  EXPECT_NE(screen.find("\r\033[K" + id + " SUCCEEDED | budget "),
            std::string::npos)
      << screen;
  EXPECT_NE(screen.find(" done"), std::string::npos) << screen;
  EXPECT_NE(screen.find("| width "), std::string::npos) << screen;

  Ran piped = Run(Options("watch", id));  // terminal = false
  ASSERT_EQ(piped.code, 0) << piped.err;
  std::istringstream lines(piped.out);
  int events = 0;
  for (std::string line; std::getline(lines, line); ++events) {
    const json e = json::parse(line);  // one JSON object a line
    EXPECT_EQ(e["campaignId"], id);
    if (events == 0) {
      EXPECT_EQ(e["snapshot"]["state"], "CAMPAIGN_STATE_SUCCEEDED") << e;
    }
  }
  EXPECT_GE(events, 1);
  EXPECT_EQ(piped.out.find("\r"), std::string::npos) << "no progress line";
}

}  // namespace
}  // namespace moesweep::testing
