// worker/agent/agent.cc end to end: the agent trains real trials of a real
// coordinator in-process on 127.0.0.1:0 (STYLE.md H17), and stops, reconnects
// and drops attempts as worker.proto says. The only seam is TestHooks, which
// holds a runner before a step while the test acts.

#include "worker/agent/agent.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/testing/agent_fixture.h"
#include "tests/testing/fake_clock.h"

namespace moesweep::worker::agent {
namespace {

using AgentTest = AgentFixture;

TEST_F(AgentTest, TrainsAssignedTrialsAndStreamsTheirCurves) {
  StartCoordinator();
  const v1::Campaign c = CreateCampaign(TinyCampaignYaml("complete", 8192));
  StartAgent(Options());
  ASSERT_TRUE(log_.WaitForKind(Kind::kFinished, 2));
  EXPECT_OK(StopAgent());
  const AgentStats stats = agent_->stats();
  EXPECT_EQ(stats.worker_id, "agent-1");
  EXPECT_EQ(stats.welcomes, 1);
  EXPECT_EQ(stats.reports_resent, 0);
  int checked = 0;
  for (const AgentEvent& e : log_.events()) {
    if (e.kind != Kind::kFinished || !e.succeeded) continue;
    ++checked;
    EXPECT_EQ(WaitFinished(c.campaign_id(), e.trial_id, 1).state(),
              v1::TRIAL_STATE_SUCCEEDED);
    const v1::Trial t = TrialOf(c.campaign_id(), e.trial_id);
    EXPECT_EQ(t.state(), v1::TRIAL_STATE_SUCCEEDED) << e.trial_id;
    EXPECT_EQ(t.worker_id(), "agent-1");
    EXPECT_EQ(t.trained_tokens(), 8192);
    EXPECT_GT(t.training_flops(), 0);
    ASSERT_TRUE(t.has_final_eval_loss());
    // 32 steps: Progress at 10, 20 and 30; the Done at 32, with the final
    // eval.
    const std::vector<v1::LossPoint> curve = Curve(c.campaign_id(), e.trial_id);
    EXPECT_EQ(Steps(curve), (std::vector<int64_t>{10, 20, 30, 32}));
    for (const v1::LossPoint& p : curve) {
      EXPECT_EQ(p.attempt(), 1);
      EXPECT_EQ(p.trained_tokens(), p.step() * 256);
      EXPECT_GT(p.train_loss(), 0);
      EXPECT_EQ(p.has_eval_loss(), p.step() == 32);
      if (p.step() < 32) {
        EXPECT_GT(p.learning_rate(), 0);
      }
    }
    ASSERT_FALSE(curve.empty());
    EXPECT_EQ(curve.back().eval_loss(), t.final_eval_loss());
  }
  EXPECT_GE(checked, 2);
  EXPECT_EQ(server_->stats().stale_reports_refused, 0);
}

TEST_F(AgentTest, TrainsOverTlsTrustingTheCoordinatorsCertificate) {
  const std::string cert = dir_.File("cert.pem"), key = dir_.File("key.pem");
  ASSERT_TRUE(::moesweep::testing::WriteSelfSignedCertificate(cert, key));
  coordinator::ServerOptions server = ServerDefaults();
  server.tls_cert_file = cert;
  server.tls_key_file = key;
  StartServer(server);
  const v1::Campaign c = CreateCampaign(TinyCampaignYaml("tls", 8192));
  AgentOptions o = Options();
  o.tls_root_pem = tls_root_pem_;
  StartAgent(o);
  ASSERT_TRUE(log_.WaitForKind(Kind::kFinished, 1));
  EXPECT_OK(StopAgent());
  EXPECT_GE(agent_->stats().welcomes, 1);
}

TEST_F(AgentTest, StopReportsTheRunningAttemptPreemptedAndItIsRequeued) {
  StartCoordinator();
  const v1::Campaign c = CreateCampaign(TinyCampaignYaml("preempt", 8192));
  StepGate& gate = Gate(5);
  StartAgent(Options(), gate.Hooks());
  const std::string trial_id = gate.WaitPaused();
  ASSERT_FALSE(trial_id.empty());
  // Paused, so the requeued trial is not handed straight back to this
  // stopping worker (see the report on Scheduler::Dispatch).
  v1::PauseCampaignRequest pause;
  pause.set_campaign_id(c.campaign_id());
  v1::PauseCampaignResponse paused;
  auto context = AuthContext(kAdminToken);
  ASSERT_TRUE(CampaignStub()->Pause(context.get(), pause, &paused).ok());
  agent_->Stop();  // what the worker command's SIGTERM thread calls
  gate.Release();
  thread_.join();
  EXPECT_OK(run_status_);
  bool reported = false;
  for (const AgentEvent& e : log_.events()) {
    if (e.kind == Kind::kFinished && e.trial_id == trial_id) {
      reported = true;
      EXPECT_FALSE(e.succeeded);
      EXPECT_NE(e.message.find("FAILURE_KIND_PREEMPTED"), std::string::npos)
          << e.message;
    }
  }
  EXPECT_TRUE(reported);  // its Ack came before Run returned
  const v1::TrialFinished f = WaitFinished(c.campaign_id(), trial_id, 1);
  EXPECT_EQ(f.state(), v1::TRIAL_STATE_QUEUED);
  EXPECT_EQ(f.failure_kind(), v1::FAILURE_KIND_PREEMPTED);
  const v1::Trial t = TrialOf(c.campaign_id(), trial_id);
  EXPECT_EQ(t.state(), v1::TRIAL_STATE_QUEUED);
  EXPECT_EQ(t.spec().attempt(), 2);
  EXPECT_EQ(t.last_failure_kind(), v1::FAILURE_KIND_PREEMPTED);
  EXPECT_EQ(t.trained_tokens(), 5 * 256);
}

TEST_F(AgentTest, ReconnectsResumesItsLeaseAndResendsOnlyUnackedReports) {
  StartCoordinator();
  const int port = server_->port();
  const v1::Campaign c = CreateCampaign(TinyCampaignYaml("reconnect", 8192));
  // Held after Progress seq 1 (step 10) while the coordinator goes away.
  StepGate& first = Gate(15);
  StartAgent(Options(), first.Hooks());
  const std::string trial_id = first.WaitPaused();
  ASSERT_FALSE(trial_id.empty());
  ASSERT_TRUE(log_.WaitForTrial(Kind::kAcked, trial_id));
  StopServer();  // ends the stream with UNAVAILABLE
  ASSERT_TRUE(log_.WaitForKind(Kind::kDisconnected));
  // Steps 15..32 train with no coordinator: seq 2 (step 20) onwards queue up.
  first.Release();
  StartCoordinator(port);  // same store, same port
  ASSERT_TRUE(log_.WaitForTrial(Kind::kFinished, trial_id));
  EXPECT_OK(StopAgent());
  const AgentStats stats = agent_->stats();
  EXPECT_GE(stats.welcomes, 2);
  EXPECT_GE(stats.reports_resent, 1);
  EXPECT_LE(stats.reports_resent, 4);  // never seq 1, acked before the drop
  bool resumed = false;
  for (const AgentEvent& e : log_.events()) {
    resumed |= e.kind == Kind::kResumed && e.trial_id == trial_id;
    EXPECT_NE(e.kind, Kind::kVoided);
  }
  EXPECT_TRUE(resumed);
  EXPECT_EQ(WaitFinished(c.campaign_id(), trial_id, 1).state(),
            v1::TRIAL_STATE_SUCCEEDED);
  const v1::Trial t = TrialOf(c.campaign_id(), trial_id);
  EXPECT_EQ(t.state(), v1::TRIAL_STATE_SUCCEEDED);
  EXPECT_EQ(t.spec().attempt(), 1);
  // One point per report: nothing lost, nothing stored twice.
  EXPECT_EQ(Steps(Curve(c.campaign_id(), trial_id)),
            (std::vector<int64_t>{10, 20, 30, 32}));
  EXPECT_EQ(server_->stats().stale_reports_refused, 0);
}

// A 60 s lease renewed by heartbeats every 20 s, both on `clock`.
coordinator::ServerOptions LeasesOnClock(coordinator::ServerOptions o,
                                         Clock* clock) {
  o.lease_ttl_ms = 60'000;
  o.heartbeat_interval_ms = 20'000;
  o.clock = clock;
  return o;
}

// On one FakeClock for the coordinator's leases and the agent's timers: each
// step is one heartbeat interval of 20 s, and the test waits for the
// coordinator to renew the lease before the next. An agent on real time would
// send its first heartbeat 20 s in, past each step's 10 s, and fail.
TEST_F(AgentTest, HeartbeatsKeepTheLeaseOfAHeldAttempt) {
  StartServer(LeasesOnClock(ServerDefaults(), &clock_));
  const v1::Campaign c = CreateCampaign(TinyCampaignYaml("heartbeat", 8192));
  StepGate& gate =
      Gate(5);  // before any Progress, which would renew the lease too
  AgentOptions a = Options();
  a.clock = &clock_;
  StartAgent(a, gate.Hooks());
  const std::string trial_id = gate.WaitPaused();
  ASSERT_FALSE(trial_id.empty());
  // Four lease lifetimes with no report: only heartbeats renew it, and
  // without them the coordinator cancels the attempt (the test below).
  for (int step = 1; step <= 12; ++step) {
    const int64_t renewals = server_->stats().lease_renewals;
    clock_.Advance(20'000);
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (server_->stats().lease_renewals == renewals &&
           absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(1));  // polls; time is the clock's
    }
    ASSERT_GT(server_->stats().lease_renewals, renewals) << "step " << step;
  }
  EXPECT_EQ(server_->stats().lease_expiries, 0);
  EXPECT_EQ(EventLog::Count(log_.events(), Kind::kCancelled), 0);
  gate.Release();
  ASSERT_TRUE(log_.WaitForTrial(Kind::kFinished, trial_id));
  EXPECT_OK(StopAgent());
  EXPECT_GE(agent_->stats().heartbeats_sent, 12);
  EXPECT_EQ(server_->stats().lease_expiries, 0);
  EXPECT_EQ(WaitFinished(c.campaign_id(), trial_id, 1).state(),
            v1::TRIAL_STATE_SUCCEEDED);
  const v1::Trial t = TrialOf(c.campaign_id(), trial_id);
  EXPECT_EQ(t.state(), v1::TRIAL_STATE_SUCCEEDED);
  EXPECT_EQ(t.spec().attempt(), 1);
}

// The same lease without heartbeats: one step past its lifetime on the
// coordinator's clock, with the agent's clock held still, and the
// coordinator cancels the attempt. What the test above guards against.
TEST_F(AgentTest, ALeaseWithoutHeartbeatsExpiresOnTheClock) {
  StartServer(LeasesOnClock(ServerDefaults(), &clock_));
  CreateCampaign(TinyCampaignYaml("no-heartbeat", 8192));
  StepGate& gate = Gate(5);
  // Never moves, so no heartbeat comes due; static, as the agent outlives
  // the test body when an assertion fails.
  static moesweep::testing::FakeClock agent_clock;
  AgentOptions a = Options();
  a.clock = &agent_clock;
  StartAgent(a, gate.Hooks());
  const std::string trial_id = gate.WaitPaused();
  ASSERT_FALSE(trial_id.empty());
  clock_.Advance(60'001);
  EXPECT_TRUE(log_.WaitForTrial(Kind::kCancelled, trial_id));
  EXPECT_EQ(server_->stats().lease_expiries, 1);
  // The agent kept its own clock's time: none of its heartbeats came due.
  EXPECT_EQ(agent_->stats().heartbeats_sent, 0);
  gate.Release();
  EXPECT_OK(StopAgent());
}

}  // namespace
}  // namespace moesweep::worker::agent
