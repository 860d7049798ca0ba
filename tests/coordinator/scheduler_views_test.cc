// The read side does not wait for the scheduler thread: with that thread
// held inside a synced store write (FaultyFileSystem::PauseSyncs), reads
// answer from the last published view and heartbeats keep their leases
// (STYLE.md H17: real gRPC, real RocksDB; time from the FakeClock).

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "tests/testing/coordinator_fixture.h"
#include "tests/testing/faulty_file_system.h"

namespace moesweep::testing {
namespace {

namespace v1 = ::moesweep::v1;

class SchedulerViewsTest : public CoordinatorFixture {
 protected:
  // The server borrows env_: stop it before env_ goes.
  void TearDown() override { StopServer(); }

  // A read must answer well within this, however long the scheduler waits.
  std::unique_ptr<grpc::ClientContext> ReadContext() {
    auto context = AuthContext(kViewerToken);
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(10));
    return context;
  }

  FaultyEnv env_;
};

TEST_F(SchedulerViewsTest, ReadsAndHeartbeatsDoNotWaitForASyncedWrite) {
  coordinator::ServerOptions options;
  options.store_env = env_.env();
  options.clock = &clock_;
  StartServer(options);
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("held", 1));
  auto workers = WorkerStub();
  auto worker_context = AuthContext(kWorkerToken);
  auto stream = workers->Connect(worker_context.get());
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id("w");
  hello.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
  ASSERT_TRUE(stream->Write(hello));
  v1::CoordinatorMessage in;
  while (stream->Read(&in) && !in.has_assign()) {
  }
  ASSERT_TRUE(in.has_assign());
  const v1::TrialSpec spec = in.assign().spec();

  // Pause is durable before it is answered: its write waits on the held
  // sync, and the scheduler thread with it.
  env_.fs().PauseSyncs();
  auto campaigns = CampaignStub();
  v1::PauseCampaignRequest pause;
  pause.set_campaign_id(c.campaign_id());
  v1::PauseCampaignResponse paused;
  auto pause_context = AuthContext(kAdminToken);
  std::promise<grpc::Status> pause_done;
  campaigns->async()->Pause(
      pause_context.get(), &pause, &paused,
      [&](grpc::Status s) { pause_done.set_value(std::move(s)); });
  ASSERT_TRUE(env_.fs().AwaitSyncHeld(30000));

  // Reads answer, from the view published before the Pause: RUNNING.
  v1::GetCampaignRequest get;
  get.set_campaign_id(c.campaign_id());
  v1::GetCampaignResponse got;
  auto context = ReadContext();
  grpc::Status s = campaigns->Get(context.get(), get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.campaign().state(), v1::CAMPAIGN_STATE_RUNNING);
  EXPECT_EQ(got.campaign().trials().running(), 1);
  v1::ListCampaignsResponse list;
  context = ReadContext();
  s = campaigns->List(context.get(), v1::ListCampaignsRequest(), &list);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(list.campaigns_size(), 1);
  v1::ListTrialsRequest trials;
  trials.set_campaign_id(c.campaign_id());
  v1::ListTrialsResponse listed;
  context = ReadContext();
  s = campaigns->ListTrials(context.get(), trials, &listed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(listed.trials_size(), 1);
  EXPECT_EQ(listed.trials(0).state(), v1::TRIAL_STATE_RUNNING);
  v1::GetLawRequest law;
  law.set_campaign_id(c.campaign_id());
  v1::GetLawResponse no_law;
  context = ReadContext();
  EXPECT_EQ(campaigns->GetLaw(context.get(), law, &no_law).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // Heartbeats renew the lease meanwhile: 1.2 lifetimes pass with one
  // renewal in the middle. A report on no trial is refused after the
  // heartbeat before it was handled (a stream's messages go in order).
  v1::WorkerMessage beat;
  v1::TrialAttempt* running = beat.mutable_heartbeat()->add_running();
  running->set_trial_id(spec.trial_id());
  running->set_attempt(spec.attempt());
  v1::WorkerMessage probe;
  probe.mutable_progress()->set_trial_id(c.campaign_id() + "-t999999");
  probe.mutable_progress()->set_attempt(1);
  probe.mutable_progress()->set_seq(1);
  probe.mutable_progress()->set_train_loss(3);
  for (int i = 0; i < 2; ++i) {
    clock_.Advance(options.lease_ttl_ms * 6 / 10);
    ASSERT_TRUE(stream->Write(beat));
    ASSERT_TRUE(stream->Write(probe));
    while (stream->Read(&in) && !in.has_refuse()) {
    }
    ASSERT_TRUE(in.has_refuse());
  }

  env_.fs().ResumeSyncs();
  s = pause_done.get_future().get();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(paused.campaign().state(), v1::CAMPAIGN_STATE_PAUSED);
  SchedulerBarrier();
  EXPECT_EQ(server_->stats().lease_expiries, 0);
  context = ReadContext();
  ASSERT_TRUE(campaigns->Get(context.get(), get, &got).ok());
  EXPECT_EQ(got.campaign().state(), v1::CAMPAIGN_STATE_PAUSED);
  worker_context->TryCancel();
}

}  // namespace
}  // namespace moesweep::testing
