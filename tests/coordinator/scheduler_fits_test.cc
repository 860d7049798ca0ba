// Fits run off the scheduler thread (issue 13): with one campaign's fit held
// on its fit thread (ServerOptions::on_fit_start blocks until released), the
// scheduler still answers a Done with the next Assign, welcomes a worker,
// keeps leases that are renewed, and answers admin calls; once released, the
// fit is applied and its campaign's next run is proposed and assigned
// (STYLE.md H17: real gRPC, real RocksDB; lease time from the FakeClock).

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "tests/testing/coordinator_fixture.h"

namespace moesweep::testing {
namespace {

namespace v1 = ::moesweep::v1;

// Holds the fit jobs of one campaign until Release. Thread-safe.
class FitGate {
 public:
  explicit FitGate(std::string campaign_id) : held_(std::move(campaign_id)) {}
  // ServerOptions::on_fit_start.
  void OnFitStart(const std::string& campaign_id) {
    absl::MutexLock lock(&mu_);
    if (campaign_id != held_) return;
    ++entered_;
    mu_.Await(absl::Condition(&released_));
  }
  // True once a held job has begun, within `timeout_s`.
  bool AwaitHeld(int timeout_s) {
    absl::MutexLock lock(&mu_);
    auto held = [this]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return entered_ > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&held),
                                absl::Seconds(timeout_s));
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }

 private:
  const std::string held_;
  absl::Mutex mu_;
  int entered_ ABSL_GUARDED_BY(mu_) = 0;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

// One WorkerService.Connect stream driven by hand, every read bounded by a
// deadline so that a scheduler that never answers fails the test.
class HandWorker {
 public:
  HandWorker(v1::WorkerService::Stub* stub, const std::string& id) : id_(id) {
    context_ = AuthContext(kWorkerToken);
    context_->set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(60));
    stream_ = stub->Connect(context_.get());
    v1::WorkerMessage hello;
    hello.mutable_hello()->set_worker_id(id);
    hello.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
    stream_->Write(hello);
  }
  ~HandWorker() { context_->TryCancel(); }

  // The next message of the kind `want` (skipping Acks and the rest); false
  // when the stream ends first.
  bool Next(v1::CoordinatorMessage::KindCase want, v1::CoordinatorMessage* m) {
    while (stream_->Read(m)) {
      if (m->kind_case() == want) return true;
    }
    return false;
  }
  bool Done(const v1::TrialSpec& spec, double loss) {
    v1::WorkerMessage m;
    v1::Done* d = m.mutable_done();
    d->set_trial_id(spec.trial_id());
    d->set_attempt(spec.attempt());
    d->set_seq(1);
    d->set_final_eval_loss(loss);
    d->set_final_train_loss(loss);
    d->set_trained_tokens(spec.train_tokens());
    d->set_steps(1);
    return stream_->Write(m);
  }
  // Renews the lease of `running`, and returns once the coordinator has
  // handled it: a report on no trial written after it is refused (a
  // stream's messages are handled in order).
  bool Heartbeat(const v1::TrialSpec& running) {
    v1::WorkerMessage m;
    v1::TrialAttempt* a = m.mutable_heartbeat()->add_running();
    a->set_trial_id(running.trial_id());
    a->set_attempt(running.attempt());
    v1::WorkerMessage probe;
    probe.mutable_progress()->set_trial_id(running.campaign_id() + "-t999999");
    probe.mutable_progress()->set_attempt(1);
    probe.mutable_progress()->set_seq(1);
    probe.mutable_progress()->set_train_loss(3);
    v1::CoordinatorMessage in;
    return stream_->Write(m) && stream_->Write(probe) &&
           Next(v1::CoordinatorMessage::kRefuse, &in);
  }

 private:
  const std::string id_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>>
      stream_;
};

class SchedulerFitsTest : public CoordinatorFixture {
 protected:
  // The server's fit threads may be held in gate_: release them first.
  void TearDown() override {
    gate_.Release();
    StopServer();
  }
  // The first campaign created is c000001 (records::CampaignId).
  FitGate gate_{"c000001"};
};

TEST_F(SchedulerFitsTest, AHeldFitDelaysNothingElse) {
  constexpr auto kAssign = v1::CoordinatorMessage::kAssign;
  coordinator::ServerOptions options;
  options.clock = &clock_;
  options.fit_threads = 1;  // B's fit queues behind A's held one
  options.on_fit_start = [this](const std::string& id) {
    gate_.OnFitStart(id);
  };
  StartServer(options);
  const v1::Campaign a = CreateCampaign(SmallCampaignYaml("held", 1));
  ASSERT_EQ(a.campaign_id(), "c000001");
  const v1::Campaign b = CreateCampaign(SmallCampaignYaml("free", 3));
  auto stub = WorkerStub();

  // wa trains A's only run, wb one of B's three.
  HandWorker wa(stub.get(), "wa");
  v1::CoordinatorMessage m;
  ASSERT_TRUE(wa.Next(kAssign, &m));
  const v1::TrialSpec a0 = m.assign().spec();
  EXPECT_EQ(a0.campaign_id(), a.campaign_id());
  HandWorker wb(stub.get(), "wb");
  ASSERT_TRUE(wb.Next(kAssign, &m));
  const v1::TrialSpec b0 = m.assign().spec();
  EXPECT_EQ(b0.campaign_id(), b.campaign_id());

  // A's result goes to its fit thread, which holds it.
  ASSERT_TRUE(wa.Done(a0, 3.5));
  ASSERT_TRUE(gate_.AwaitHeld(30));

  // Meanwhile: wa's Done is answered with B's next run, and wb's too (B's
  // own fit queued behind A's).
  ASSERT_TRUE(wa.Next(kAssign, &m));
  const v1::TrialSpec b1 = m.assign().spec();
  EXPECT_EQ(b1.campaign_id(), b.campaign_id());
  ASSERT_TRUE(wb.Done(b0, 3.6));
  ASSERT_TRUE(wb.Next(kAssign, &m));
  const v1::TrialSpec b2 = m.assign().spec();
  EXPECT_EQ(b2.campaign_id(), b.campaign_id());
  // A new worker is welcomed; A has nothing queued until its fit lands.
  HandWorker wc(stub.get(), "wc");
  ASSERT_TRUE(wc.Next(v1::CoordinatorMessage::kWelcome, &m));
  // Leases renewed by heartbeats live on: 1.2 lifetimes pass, renewed in
  // the middle, and the scheduler turns (SchedulerBarrier) expire nothing.
  for (int i = 0; i < 2; ++i) {
    clock_.Advance(options.lease_ttl_ms * 6 / 10);
    ASSERT_TRUE(wa.Heartbeat(b1));
    ASSERT_TRUE(wb.Heartbeat(b2));
  }
  SchedulerBarrier();
  EXPECT_EQ(server_->stats().lease_expiries, 0);
  auto campaigns = CampaignStub();
  v1::GetCampaignRequest get;
  get.set_campaign_id(a.campaign_id());
  v1::GetCampaignResponse got;
  auto context = AuthContext(kViewerToken);
  ASSERT_TRUE(campaigns->Get(context.get(), get, &got).ok());
  EXPECT_EQ(got.campaign().trials().succeeded(), 1);
  EXPECT_EQ(got.campaign().trials().queued(), 0);

  // Released: A's fit is applied, and its next run proposed and assigned to
  // the one idle worker (A's outcome is applied before B's, queued after it
  // on the one fit thread).
  gate_.Release();
  ASSERT_TRUE(wc.Next(kAssign, &m));
  EXPECT_EQ(m.assign().spec().campaign_id(), a.campaign_id());
  EXPECT_EQ(m.assign().spec().trial_id(), a.campaign_id() + "-t000001");
  EXPECT_EQ(server_->stats().lease_expiries, 0);
}

}  // namespace
}  // namespace moesweep::testing
