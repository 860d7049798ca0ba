// worker/agent/agent.cc against a real coordinator when things go wrong: a
// lease voided by a reconnect, Cancel, a refused token, no coordinator, and
// Stop before Run.

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/testing/agent_fixture.h"
#include "tests/testing/fake_clock.h"
#include "worker/agent/agent.h"

namespace moesweep::worker::agent {
namespace {

using AgentTest = AgentFixture;

// The coordinator's lease time runs on clock_ and the agent's on a clock of
// its own, so the restarted coordinator's grace runs out, by the test's hand,
// before the agent's backoff lets it come back.
TEST_F(AgentTest, ALeaseNotResumedAfterAReconnectIsDropped) {
  static moesweep::testing::FakeClock agent_clock;  // outlives the agent
  coordinator::ServerOptions first = ServerDefaults();
  first.clock = &clock_;
  StartServer(first);
  const int port = server_->port();
  const v1::Campaign c = CreateCampaign(TinyCampaignYaml("void", 8192));
  AgentOptions o = Options();
  o.clock = &agent_clock;
  StepGate& gate = Gate(15);
  StartAgent(o, gate.Hooks());
  const std::string trial_id = gate.WaitPaused();
  ASSERT_FALSE(trial_id.empty());
  ASSERT_TRUE(log_.WaitForTrial(Kind::kAcked, trial_id));  // seq 1 stored
  StopServer();
  ASSERT_TRUE(log_.WaitForKind(Kind::kDisconnected));
  gate.Release();  // attempt 1 trains on; its reports wait for a stream
  // Restarted, the coordinator waits 200 ms for the lease's worker, then
  // requeues the trial as attempt 2.
  coordinator::ServerOptions restart = ServerDefaults(port);
  restart.reconnect_grace_ms = 200;
  restart.clock = &clock_;
  StartServer(restart);
  clock_.Advance(201);
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (server_->stats().lease_expiries == 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));  // polls; time is the clock's
  }
  ASSERT_EQ(server_->stats().lease_expiries, 1);
  // Past the agent's longest backoff (with its jitter): it reconnects. Again
  // while gRPC's channel, on real time, is still reconnecting and the stream
  // fails at once.
  bool voided = false;
  for (int i = 0; i < 60 && !voided; ++i) {
    agent_clock.Advance(2 * o.backoff_max_ms);
    voided = log_.WaitForTrial(Kind::kVoided, trial_id, absl::Seconds(1));
  }
  ASSERT_TRUE(voided);
  ASSERT_TRUE(log_.WaitFor([&](const std::vector<AgentEvent>& events) {
    for (const AgentEvent& e : events) {
      if (e.kind == Kind::kFinished && e.trial_id == trial_id) {
        return e.attempt == 2 && e.succeeded;
      }
    }
    return false;
  }));
  EXPECT_OK(StopAgent());
  EXPECT_EQ(WaitFinished(c.campaign_id(), trial_id, 2).state(),
            v1::TRIAL_STATE_SUCCEEDED);
  const v1::Trial t = TrialOf(c.campaign_id(), trial_id);
  EXPECT_EQ(t.state(), v1::TRIAL_STATE_SUCCEEDED);
  EXPECT_EQ(t.spec().attempt(), 2);
  // Attempt 1 keeps the one point stored before the coordinator left: the
  // reports made offline were dropped, never sent.
  std::vector<int64_t> attempt1, attempt2;
  for (const v1::LossPoint& p : Curve(c.campaign_id(), trial_id)) {
    (p.attempt() == 1 ? attempt1 : attempt2).push_back(p.step());
  }
  EXPECT_EQ(attempt1, (std::vector<int64_t>{10}));
  EXPECT_EQ(attempt2, (std::vector<int64_t>{10, 20, 30, 32}));
  EXPECT_EQ(server_->stats().stale_reports_refused, 0);
}

TEST_F(AgentTest, CancelStopsTheAttemptAndNothingMoreIsSent) {
  StartCoordinator();
  const v1::Campaign c = CreateCampaign(TinyCampaignYaml("cancel", 8192));
  StepGate& gate = Gate(12);  // after Progress seq 1
  StartAgent(Options(), gate.Hooks());
  const std::string trial_id = gate.WaitPaused();
  ASSERT_FALSE(trial_id.empty());
  ASSERT_TRUE(log_.WaitForKind(Kind::kAcked));  // seq 1 is stored
  v1::CancelCampaignRequest cancel;
  cancel.set_campaign_id(c.campaign_id());
  v1::CancelCampaignResponse cancelled;
  auto context = AuthContext(kAdminToken);
  ASSERT_TRUE(CampaignStub()->Cancel(context.get(), cancel, &cancelled).ok());
  ASSERT_TRUE(log_.WaitForKind(Kind::kCancelled));
  gate.Release();
  EXPECT_OK(StopAgent());  // joins the runner: it has stopped training
  for (const AgentEvent& e : log_.events()) {
    if (e.kind == Kind::kCancelled) {
      EXPECT_EQ(e.trial_id, trial_id);
      EXPECT_NE(e.message.find("CANCEL_REASON_CAMPAIGN_CANCELLED"),
                std::string::npos);
    }
    EXPECT_NE(e.kind, Kind::kRefused);
    EXPECT_FALSE(e.kind == Kind::kFinished && e.trial_id == trial_id);
  }
  EXPECT_EQ(TrialOf(c.campaign_id(), trial_id).state(),
            v1::TRIAL_STATE_CANCELLED);
  EXPECT_EQ(Steps(Curve(c.campaign_id(), trial_id)),
            (std::vector<int64_t>{10}));
  EXPECT_EQ(server_->stats().stale_reports_refused, 0);
}

TEST_F(AgentTest, RefusedTokenEndsRunWithNoRetry) {
  StartCoordinator();
  struct Case {
    std::string token;
    StatusCode code;
  };
  for (const Case& k :
       {Case{"unknown-token-0123456789abcdef", StatusCode::kUnauthenticated},
        Case{kAdminToken, StatusCode::kPermissionDenied}}) {
    AgentOptions o = Options();
    o.token = k.token;
    o.backoff_initial_ms = 60000;  // a retry would hang the test
    o.backoff_max_ms = 60000;
    StatusOr<std::unique_ptr<Agent>> a = Agent::Create(o);
    ASSERT_OK(a);
    Status s = (*a)->Run();
    EXPECT_EQ(s.code(), k.code) << s.ToString();
    EXPECT_NE(s.message().find(address()), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find(k.token), std::string::npos);
    EXPECT_EQ((*a)->stats().streams_started, 1);
  }
}

TEST_F(AgentTest, UnreachableCoordinatorIsUnavailableNamingTheAddress) {
  StartCoordinator();
  const std::string gone = address();
  StopServer();  // nothing listens on the port now
  AgentOptions o = Options();
  o.coordinator = gone;
  o.connect_attempts = 3;
  StatusOr<std::unique_ptr<Agent>> a = Agent::Create(o);
  ASSERT_OK(a);
  Status s = (*a)->Run();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("cannot reach the coordinator at " + gone),
            std::string::npos)
      << s.message();
  EXPECT_EQ((*a)->stats().streams_started, 3);
}

TEST_F(AgentTest, StopBeforeRunReturnsAtOnce) {
  AgentOptions o;
  o.coordinator = "127.0.0.1:1";
  o.token = kWorkerToken;
  StatusOr<std::unique_ptr<Agent>> a = Agent::Create(o);
  ASSERT_OK(a);
  (*a)->Stop();
  EXPECT_OK((*a)->Run());
  EXPECT_EQ((*a)->stats().streams_started, 0);
}

}  // namespace
}  // namespace moesweep::worker::agent
