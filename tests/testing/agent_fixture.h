// The agent's test fixture: a real coordinator in-process (CoordinatorFixture),
// shards of a small text, the events an agent reports, and a gate that holds
// a runner before a step while the test acts (TestHooks, the only seam).
// Shared by tests/worker/agent_*_test.cc.

#ifndef MOESWEEP_TESTS_TESTING_AGENT_FIXTURE_H_
#define MOESWEEP_TESTS_TESTING_AGENT_FIXTURE_H_

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "tests/testing/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"
#include "worker/agent/agent.h"
#include "worker/agent/agent_internal.h"
#include "worker/worker.h"

namespace moesweep::worker::agent {

namespace v1 = ::moesweep::v1;
using ::moesweep::testing::AuthContext;
using ::moesweep::testing::kAdminToken;
using ::moesweep::testing::kViewerToken;
using ::moesweep::testing::kWorkerToken;
using Kind = AgentEvent::Kind;  // names the tests share (test-only header)

// Tiny dense and MoE models the CPU trainer runs in well under a second:
// 8 sequences of 32 tokens a step, `tokens` / 256 steps, Progress every 10.
// `one_small_dense_width` keeps only dense d_model 32 (the SIGTERM test's
// one long trial).
inline std::string TinyCampaignYaml(const std::string& name, int64_t tokens,
                                    bool one_small_dense_width = false,
                                    double budget_flops = 1e12, int seed = 3) {
  return "name: " + name + "\nlaw: chinchilla\nspace:\n" +
         (one_small_dense_width ? "  d_model: [32]\n  layers: [1, 2]\n"
                                  "  experts: [1]\n"
                                : "  d_model: [32, 64]\n  layers: [1, 2]\n"
                                  "  experts: [1, 2]\n") +
         "  top_k: [1]\n  tokens: [" + std::to_string(tokens) + R"(]
  vocab_size: 256
  seq_len: 32
  head_dim: 16
budget:
  flops: )" +
         std::to_string(budget_flops) + R"(
question:
  kind: compute_optimal_loss
  flops: 1.0e17
target:
  relative_width: 0.05
max_parallel_runs: 1
training:
  schedule: cosine
  lr: {constant: 3.0e-3}
  batch_tokens: 256
strategy: active
seed: )" +
         std::to_string(seed) + "\n";
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

class AgentFixture : public ::moesweep::testing::CoordinatorFixture {
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

}  // namespace moesweep::worker::agent

#endif  // MOESWEEP_TESTS_TESTING_AGENT_FIXTURE_H_
