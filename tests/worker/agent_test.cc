// worker/agent/agent.cc end to end: the agent trains real trials of a real
// coordinator in-process on 127.0.0.1:0 (STYLE.md H17), and stops, reconnects
// and drops attempts as worker.proto says. The only seam is TestHooks, which
// holds a runner before a step while the test acts.

#include "worker/agent/agent.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "tests/testing/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"
#include "worker/agent/agent_internal.h"
#include "worker/worker.h"

namespace moesweep::worker::agent {
namespace {

namespace v1 = ::moesweep::v1;
using ::moesweep::testing::AuthContext;
using ::moesweep::testing::kAdminToken;
using ::moesweep::testing::kViewerToken;
using ::moesweep::testing::kWorkerToken;
using Kind = AgentEvent::Kind;

// Tiny dense and MoE models the CPU trainer runs in well under a second:
// 8 sequences of 32 tokens a step, `tokens` / 256 steps, Progress every 10.
std::string TinyCampaignYaml(const std::string& name, int64_t tokens) {
  return "name: " + name + R"(
law: chinchilla
space:
  d_model: [32, 64]
  layers: [1, 2]
  experts: [1, 2]
  top_k: [1]
  tokens: [)" +
         std::to_string(tokens) +
         R"(]
  vocab_size: 256
  seq_len: 32
  head_dim: 16
budget:
  flops: 1.0e12
question:
  kind: compute_optimal_loss
  flops: 1.0e15
target:
  relative_width: 0.05
max_parallel_runs: 1
training:
  schedule: cosine
  lr: {constant: 3.0e-3}
  batch_tokens: 256
strategy: active
seed: 3
)";
}

// Every event the agent reports, for tests to wait on.
class EventLog {
 public:
  void Add(const AgentEvent& e) {
    absl::MutexLock lock(&mu_);
    events_.push_back(e);
  }
  // Waits until `done(events)` holds; false after `timeout`.
  bool WaitFor(std::function<bool(const std::vector<AgentEvent>&)> done,
               absl::Duration timeout = absl::Seconds(120)) {
    absl::MutexLock lock(&mu_);
    auto ready = [&] { return done(events_); };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  }
  // Waits for an event of `kind` about `trial_id` (any, when empty).
  bool WaitForTrial(Kind kind, const std::string& trial_id,
                    absl::Duration timeout = absl::Seconds(120)) {
    return WaitFor(
        [&](const std::vector<AgentEvent>& events) {
          for (const AgentEvent& e : events) {
            if (e.kind == kind && (trial_id.empty() || e.trial_id == trial_id))
              return true;
          }
          return false;
        },
        timeout);
  }
  bool WaitForKind(Kind kind, int count = 1) {
    return WaitFor([&](const std::vector<AgentEvent>& events) {
      return Count(events, kind) >= count;
    });
  }
  std::vector<AgentEvent> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  static int Count(const std::vector<AgentEvent>& events, Kind kind) {
    int n = 0;
    for (const AgentEvent& e : events) n += e.kind == kind;
    return n;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<AgentEvent> events_ ABSL_GUARDED_BY(mu_);
};

// Holds the first attempt to reach `at_step` steps until Release().
class StepGate {
 public:
  explicit StepGate(int64_t at_step) : at_step_(at_step) {}
  TestHooks Hooks() {
    return TestHooks{
        .before_step = [this](const v1::TrialSpec& spec, int64_t steps_done) {
          if (steps_done != at_step_ || held_.exchange(true)) return;
          trial_id_ = spec.trial_id();
          paused_.Notify();
          release_.WaitForNotification();
        }};
  }
  // Waits until an attempt is held; returns its trial id ("" after two
  // minutes).
  std::string WaitPaused() {
    if (!paused_.WaitForNotificationWithTimeout(absl::Seconds(120))) return "";
    return trial_id_;
  }
  // Idempotent; called by the test thread only.
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }

 private:
  const int64_t at_step_;
  std::atomic<bool> held_{false};
  std::string trial_id_;  // written before paused_ is notified
  absl::Notification paused_, release_;
};

class AgentTest : public ::moesweep::testing::CoordinatorFixture {
 protected:
  void SetUp() override {
    std::string text;
    for (int i = 0; text.size() < 60000; ++i) {
      text += "expert " + std::to_string(i * 7919 % 1000) +
              " routes the token to the loss; the law bends at scale.\n";
    }
    std::string input = dir_.Write("text.txt", text);
    ASSERT_OK(worker::PrepareData({{input}, dir_.File("data/default"), 0.1}));
  }
  void TearDown() override {
    if (gate_) gate_->Release();  // a failed test may leave it closed
    if (thread_.joinable()) {
      agent_->Stop();
      thread_.join();
    }
  }
  static coordinator::ServerOptions ServerDefaults(int port = 0) {
    coordinator::ServerOptions o;
    o.listen = "127.0.0.1:" + std::to_string(port);
    o.lease_ttl_ms = 5000;
    o.heartbeat_interval_ms = 300;
    return o;
  }
  void StartCoordinator(int port = 0) { StartServer(ServerDefaults(port)); }
  AgentOptions Options() {
    AgentOptions o;
    o.coordinator = server_ ? address() : "127.0.0.1:1";
    o.token = kWorkerToken;
    o.worker_id = "agent-1";
    o.data_dir = dir_.File("data");
    o.threads = 1;
    o.backoff_initial_ms = 50;
    o.backoff_max_ms = 500;
    o.on_event = [this](const AgentEvent& e) { log_.Add(e); };
    return o;
  }
  void StartAgent(AgentOptions options, TestHooks hooks = {}) {
    StatusOr<std::unique_ptr<Agent>> a =
        CreateAgentForTest(options, std::move(hooks));
    ASSERT_OK(a);
    agent_ = std::move(*a);
    thread_ = std::thread([this] { run_status_ = agent_->Run(); });
  }
  // A gate that lives as long as the agent, whose runners call it.
  StepGate& Gate(int64_t at_step) {
    gate_ = std::make_unique<StepGate>(at_step);
    return *gate_;
  }
  Status StopAgent() {
    agent_->Stop();
    thread_.join();
    return run_status_;
  }
  v1::Trial TrialOf(const std::string& campaign_id,
                    const std::string& trial_id) {
    v1::ListTrialsRequest q;
    q.set_campaign_id(campaign_id);
    q.set_page_size(1000);
    v1::ListTrialsResponse r;
    auto context = AuthContext(kViewerToken);
    grpc::Status s = CampaignStub()->ListTrials(context.get(), q, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const v1::Trial& t : r.trials()) {
      if (t.spec().trial_id() == trial_id) return t;
    }
    ADD_FAILURE() << "no trial " << trial_id;
    return {};
  }
  // The coordinator applies a report after its Ack (the Ack means durable),
  // so tests wait for the TrialFinished event of (trial_id, attempt) before
  // reading the trial. Stored events are replayed from seq 2: seq 1 is the
  // first TrialStarted, never a TrialFinished.
  v1::TrialFinished WaitFinished(const std::string& campaign_id,
                                 const std::string& trial_id, int32_t attempt) {
    v1::WatchCampaignRequest q;
    q.set_campaign_id(campaign_id);
    q.set_after_event_seq(1);
    auto context = AuthContext(kViewerToken);
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(120));
    auto stub = CampaignStub();
    auto events = stub->Watch(context.get(), q);
    v1::CampaignEvent e;
    while (events->Read(&e)) {
      if (e.has_trial_finished() && e.trial_finished().trial_id() == trial_id &&
          e.trial_finished().attempt() == attempt) {
        context->TryCancel();
        return e.trial_finished();
      }
    }
    ADD_FAILURE() << "no TrialFinished for " << trial_id << " attempt "
                  << attempt;
    return {};
  }
  std::vector<v1::LossPoint> Curve(const std::string& campaign_id,
                                   const std::string& trial_id) {
    v1::GetCurveRequest q;
    q.set_campaign_id(campaign_id);
    q.set_trial_id(trial_id);
    v1::GetCurveResponse r;
    auto context = AuthContext(kViewerToken);
    grpc::Status s = CampaignStub()->GetCurve(context.get(), q, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {r.points().begin(), r.points().end()};
  }
  // The steps of a curve's points, in order.
  static std::vector<int64_t> Steps(const std::vector<v1::LossPoint>& curve) {
    std::vector<int64_t> steps;
    for (const v1::LossPoint& p : curve) steps.push_back(p.step());
    return steps;
  }

  EventLog log_;
  std::unique_ptr<StepGate> gate_;  // destroyed after agent_
  std::unique_ptr<Agent> agent_;
  std::thread thread_;
  Status run_status_;
};

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

TEST_F(AgentTest, HeartbeatsKeepTheLeaseOfAHeldAttempt) {
  coordinator::ServerOptions o = ServerDefaults();
  o.lease_ttl_ms = 500;
  o.heartbeat_interval_ms = 100;
  StartServer(o);
  const v1::Campaign c = CreateCampaign(TinyCampaignYaml("heartbeat", 8192));
  StepGate& gate =
      Gate(5);  // before any Progress, which would renew the lease too
  StartAgent(Options(), gate.Hooks());
  const std::string trial_id = gate.WaitPaused();
  ASSERT_FALSE(trial_id.empty());
  // Four lease lifetimes with no report: only heartbeats renew it, and
  // without them the coordinator cancels the attempt (lease expired).
  EXPECT_FALSE(log_.WaitForTrial(Kind::kCancelled, "", absl::Seconds(2)));
  gate.Release();
  ASSERT_TRUE(log_.WaitForTrial(Kind::kFinished, trial_id));
  EXPECT_OK(StopAgent());
  EXPECT_GE(agent_->stats().heartbeats_sent, 10);
  EXPECT_EQ(server_->stats().lease_expiries, 0);
  EXPECT_EQ(WaitFinished(c.campaign_id(), trial_id, 1).state(),
            v1::TRIAL_STATE_SUCCEEDED);
  const v1::Trial t = TrialOf(c.campaign_id(), trial_id);
  EXPECT_EQ(t.state(), v1::TRIAL_STATE_SUCCEEDED);
  EXPECT_EQ(t.spec().attempt(), 1);
}

TEST_F(AgentTest, ALeaseNotResumedAfterAReconnectIsDropped) {
  StartCoordinator();
  const int port = server_->port();
  const v1::Campaign c = CreateCampaign(TinyCampaignYaml("void", 8192));
  AgentOptions o = Options();
  o.backoff_initial_ms = 3000;  // back well after the lease has expired
  o.backoff_max_ms = 3000;
  StepGate& gate = Gate(15);
  StartAgent(o, gate.Hooks());
  const std::string trial_id = gate.WaitPaused();
  ASSERT_FALSE(trial_id.empty());
  ASSERT_TRUE(log_.WaitForTrial(Kind::kAcked, trial_id));  // seq 1 stored
  StopServer();
  ASSERT_TRUE(log_.WaitForKind(Kind::kDisconnected));
  gate.Release();  // attempt 1 trains on; its reports wait for a stream
  // Restarted, the coordinator waits only 200 ms for the lease's worker,
  // then requeues the trial as attempt 2.
  coordinator::ServerOptions restart = ServerDefaults(port);
  restart.reconnect_grace_ms = 200;
  StartServer(restart);
  ASSERT_TRUE(log_.WaitForTrial(Kind::kVoided, trial_id));
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
