// The coordinator end to end over loopback: campaigns run by simulated
// workers to their stopping rule, leases and fencing, resends, reconnects and
// restarts (STYLE.md H17: real gRPC, real RocksDB).

#include <gtest/gtest.h>

#include "tests/testing/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::testing {
namespace {

namespace v1 = ::moesweep::v1;
using Stream =
    grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>;

using ServerTest = CoordinatorFixture;

v1::WorkerMessage Hello(const std::string& id) {
  v1::WorkerMessage m;
  m.mutable_hello()->set_worker_id(id);
  m.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
  m.mutable_hello()->mutable_capabilities()->set_max_concurrent_trials(1);
  return m;
}

v1::WorkerMessage ProgressOf(const v1::TrialSpec& spec, int64_t seq,
                             int32_t attempt = 0) {
  v1::WorkerMessage m;
  m.mutable_progress()->set_trial_id(spec.trial_id());
  m.mutable_progress()->set_attempt(attempt ? attempt : spec.attempt());
  m.mutable_progress()->set_seq(seq);
  m.mutable_progress()->set_step(seq * 10);
  m.mutable_progress()->set_train_loss(4.0 - 0.1 * seq);
  return m;
}

// Reads until a message of `kind` arrives; false if the stream ends first.
bool ReadUntil(Stream* s, v1::CoordinatorMessage::KindCase kind,
               v1::CoordinatorMessage* out) {
  while (s->Read(out)) {
    if (out->kind_case() == kind) return true;
  }
  return false;
}

std::vector<v1::Trial> ListTrials(v1::CampaignService::Stub* stub,
                                  const std::string& campaign_id) {
  v1::ListTrialsRequest q;
  q.set_campaign_id(campaign_id);
  q.set_page_size(1000);
  v1::ListTrialsResponse r;
  auto context = AuthContext(kViewerToken);
  grpc::Status s = stub->ListTrials(context.get(), q, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return {r.trials().begin(), r.trials().end()};
}

TEST_F(ServerTest, CampaignRunsToItsStoppingRuleWithSimulatedWorkers) {
  StartServer();
  const v1::Campaign created = CreateCampaign(SmallCampaignYaml());
  ASSERT_FALSE(created.campaign_id().empty());
  EXPECT_EQ(created.state(), v1::CAMPAIGN_STATE_RUNNING);
  EXPECT_EQ(created.trials().queued(), 4);  // max_parallel_runs proposed
  SimWorker a(SimOptions("sim-a"));
  SimWorker b(SimOptions("sim-b"));
  EXPECT_EQ(WatchToEnd(created.campaign_id()), v1::CAMPAIGN_STATE_SUCCEEDED);

  auto stub = CampaignStub();
  v1::GetCampaignRequest get;
  get.set_campaign_id(created.campaign_id());
  v1::GetCampaignResponse campaign;
  auto context = AuthContext(kViewerToken);
  ASSERT_TRUE(stub->Get(context.get(), get, &campaign).ok());
  const v1::Answer& answer = campaign.campaign().answer();
  EXPECT_TRUE(answer.target_met());
  EXPECT_LT(
      (answer.interval().upper() - answer.interval().lower()) / answer.value(),
      0.05);
  // The truth's compute-optimal loss lies in the answer's interval.
  fitter::Question q;
  q.optimal.flops = 1e21;
  const double truth = *fitter::EvaluateQuestion(
      *fitter::PublishedLaw("chinchilla", "epoch"), q);
  EXPECT_LE(answer.interval().lower(), truth * 1.02);
  EXPECT_GE(answer.interval().upper(), truth * 0.98);
  const int succeeded = campaign.campaign().trials().succeeded();
  EXPECT_GE(succeeded, 20);  // four runs a parameter before stopping
  // Every success came from a worker; the workers' other runs were
  // cancelled when the target was met (queued trials are cancelled too).
  EXPECT_GE(a.trials_done() + b.trials_done(), succeeded);
  EXPECT_LE(a.trials_done() + b.trials_done(),
            succeeded + campaign.campaign().trials().cancelled());
  EXPECT_GT(a.trials_done(), 0);
  EXPECT_GT(b.trials_done(), 0);
  EXPECT_EQ(campaign.campaign().trials().running(), 0);
  EXPECT_EQ(campaign.campaign().trials().queued(), 0);

  // The law, its out-of-sample series, a prediction and the optimum.
  v1::GetLawRequest law_q;
  law_q.set_campaign_id(created.campaign_id());
  v1::GetLawResponse law;
  context = AuthContext(kViewerToken);
  ASSERT_TRUE(stub->GetLaw(context.get(), law_q, &law).ok());
  EXPECT_EQ(law.law().family(), "chinchilla");
  EXPECT_EQ(law.law().parameters_size(), 5);
  EXPECT_EQ(law.law().covariance_size(), 25);
  EXPECT_GE(law.out_of_sample_size(), succeeded - 6);
  v1::PredictRequest predict;
  predict.set_campaign_id(created.campaign_id());
  v1::RunFeatures* f = predict.add_inputs()->mutable_features();
  f->set_n_total_ne(1e9);
  f->set_n_embed(0);
  f->set_tokens(2e10);
  v1::PredictResponse predicted;
  context = AuthContext(kViewerToken);
  ASSERT_TRUE(stub->Predict(context.get(), predict, &predicted).ok());
  ASSERT_EQ(predicted.predictions_size(), 1);
  const v1::Prediction& p = predicted.predictions(0);
  EXPECT_GT(p.loss(), 1.5);
  EXPECT_LT(p.confidence_interval().lower(), p.loss());
  EXPECT_GT(p.prediction_interval().upper(), p.confidence_interval().upper());
  v1::OptimalRequest optimal;
  optimal.set_campaign_id(created.campaign_id());
  optimal.set_budget_flops(1e21);
  v1::OptimalResponse best;
  context = AuthContext(kViewerToken);
  ASSERT_TRUE(stub->Optimal(context.get(), optimal, &best).ok());
  EXPECT_NEAR(best.prediction().loss(), answer.value(), 1e-6 * answer.value());

  // Every trial's curve holds its two Progress reports and its Done.
  for (const v1::Trial& t : ListTrials(stub.get(), created.campaign_id())) {
    if (t.state() != v1::TRIAL_STATE_SUCCEEDED) continue;
    v1::GetCurveRequest cq;
    cq.set_campaign_id(created.campaign_id());
    cq.set_trial_id(t.spec().trial_id());
    v1::GetCurveResponse curve;
    context = AuthContext(kViewerToken);
    ASSERT_TRUE(stub->GetCurve(context.get(), cq, &curve).ok());
    ASSERT_EQ(curve.points_size(), 3) << t.spec().trial_id();
    EXPECT_DOUBLE_EQ(curve.points(2).eval_loss(), t.final_eval_loss());
  }
}

TEST_F(ServerTest, ExpiredLeaseRequeuesAsNextAttemptAndFencesLateReports) {
  coordinator::ServerOptions options;
  options.clock = &clock_;
  StartServer(options);
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("lease", 1));
  auto stub = WorkerStub();
  auto context = AuthContext(kWorkerToken);
  std::unique_ptr<Stream> stream = stub->Connect(context.get());
  ASSERT_TRUE(stream->Write(Hello("silent")));
  v1::CoordinatorMessage m;
  ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kAssign, &m));
  const v1::TrialSpec spec = m.assign().spec();
  EXPECT_EQ(spec.attempt(), 1);
  ASSERT_TRUE(stream->Write(ProgressOf(spec, 1)));
  ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kAck, &m));
  EXPECT_EQ(m.ack().seq(), 1);
  // No heartbeat: the coordinator cancels the attempt when the lease runs
  // out, and hands the trial out again as attempt 2 (to this worker, the
  // only one, whose slot is free again).
  clock_.Advance(options.lease_ttl_ms);
  ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kCancel, &m));
  EXPECT_EQ(m.cancel().reason(), v1::CANCEL_REASON_LEASE_EXPIRED);
  EXPECT_EQ(m.cancel().attempt(), 1);
  ASSERT_TRUE(stream->Write(ProgressOf(spec, 2, /*attempt=*/1)));
  ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kRefuse, &m));
  EXPECT_EQ(m.refuse().code(), static_cast<int>(StatusCode::kAborted));
  EXPECT_EQ(m.refuse().current_attempt(), 2);
  EXPECT_GE(server_->stats().lease_expiries, 1);
  EXPECT_GE(server_->stats().stale_reports_refused, 1);
  bool found = false;
  for (const v1::Trial& t : ListTrials(CampaignStub().get(), c.campaign_id())) {
    if (t.spec().trial_id() != spec.trial_id()) continue;
    found = true;
    EXPECT_GE(t.spec().attempt(), 2);
  }
  EXPECT_TRUE(found);
  // Attempt 1's curve kept its one acknowledged report only.
  v1::GetCurveRequest cq;
  cq.set_campaign_id(c.campaign_id());
  cq.set_trial_id(spec.trial_id());
  cq.set_attempt(1);
  v1::GetCurveResponse curve;
  auto vc = AuthContext(kViewerToken);
  ASSERT_TRUE(CampaignStub()->GetCurve(vc.get(), cq, &curve).ok());
  EXPECT_EQ(curve.points_size(), 1);
  context->TryCancel();
}

TEST_F(ServerTest, HeartbeatsKeepALeaseUntilTheyStop) {
  coordinator::ServerOptions options;
  options.clock = &clock_;
  StartServer(options);
  CreateCampaign(SmallCampaignYaml("heartbeat", 1));
  auto stub = WorkerStub();
  auto context = AuthContext(kWorkerToken);
  std::unique_ptr<Stream> stream = stub->Connect(context.get());
  ASSERT_TRUE(stream->Write(Hello("beating")));
  v1::CoordinatorMessage m;
  ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kAssign, &m));
  const v1::TrialSpec spec = m.assign().spec();
  v1::WorkerMessage beat;
  v1::TrialAttempt* running = beat.mutable_heartbeat()->add_running();
  running->set_trial_id(spec.trial_id());
  running->set_attempt(spec.attempt());
  // A report on no trial is refused; its Refuse comes after the heartbeat
  // before it was handled (a stream's messages are handled in order).
  v1::WorkerMessage probe = ProgressOf(spec, 1);
  probe.mutable_progress()->set_trial_id("c999999-t000000");
  // Ten lease lifetimes with a heartbeat every 60% of one and no report.
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(stream->Write(beat));
    ASSERT_TRUE(stream->Write(probe));
    ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kRefuse, &m));
    clock_.Advance(options.lease_ttl_ms * 6 / 10);
    SchedulerBarrier();
  }
  EXPECT_EQ(server_->stats().lease_expiries, 0);
  // Silence: one lifetime later the attempt is cancelled.
  clock_.Advance(options.lease_ttl_ms);
  ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kCancel, &m));
  EXPECT_EQ(m.cancel().reason(), v1::CANCEL_REASON_LEASE_EXPIRED);
  EXPECT_EQ(m.cancel().trial_id(), spec.trial_id());
  EXPECT_EQ(server_->stats().lease_expiries, 1);
  context->TryCancel();
}

TEST_F(ServerTest, ResentReportsAreAcknowledgedAndStoredOnce) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("resend", 1));
  auto stub = WorkerStub();
  auto context = AuthContext(kWorkerToken);
  std::unique_ptr<Stream> stream = stub->Connect(context.get());
  ASSERT_TRUE(stream->Write(Hello("dup")));
  v1::CoordinatorMessage m;
  ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kAssign, &m));
  const v1::TrialSpec spec = m.assign().spec();
  for (int64_t seq : {1, 1, 2, 1, 2}) {
    ASSERT_TRUE(stream->Write(ProgressOf(spec, seq)));
  }
  // Acks are cumulative: the coordinator may fold several into one, but
  // one reaches seq 2 and none goes beyond it.
  int64_t acked = 0;
  while (acked < 2) {
    ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kAck, &m));
    acked = std::max(acked, m.ack().seq());
  }
  EXPECT_EQ(acked, 2);
  // A seq that skips ahead is refused, not stored.
  ASSERT_TRUE(stream->Write(ProgressOf(spec, 5)));
  ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kRefuse, &m));
  EXPECT_EQ(m.refuse().code(), static_cast<int>(StatusCode::kInvalidArgument));
  v1::GetCurveRequest cq;
  cq.set_campaign_id(c.campaign_id());
  cq.set_trial_id(spec.trial_id());
  v1::GetCurveResponse curve;
  auto vc = AuthContext(kViewerToken);
  ASSERT_TRUE(CampaignStub()->GetCurve(vc.get(), cq, &curve).ok());
  ASSERT_EQ(curve.points_size(), 2);
  EXPECT_EQ(curve.points(0).step(), 10);
  EXPECT_EQ(curve.points(1).step(), 20);
  context->TryCancel();
}

TEST_F(ServerTest, WorkerThatReconnectsGetsItsLeaseBack) {
  StartServer();
  CreateCampaign(SmallCampaignYaml("reconnect", 1));
  auto stub = WorkerStub();
  v1::Lease lease;
  v1::TrialSpec spec;
  {
    auto context = AuthContext(kWorkerToken);
    std::unique_ptr<Stream> stream = stub->Connect(context.get());
    ASSERT_TRUE(stream->Write(Hello("w1")));
    v1::CoordinatorMessage m;
    ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kAssign, &m));
    lease = m.assign().lease();
    spec = m.assign().spec();
    ASSERT_TRUE(stream->Write(ProgressOf(spec, 1)));
    ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kAck, &m));
    context->TryCancel();  // the connection drops
  }
  auto context = AuthContext(kWorkerToken);
  std::unique_ptr<Stream> stream = stub->Connect(context.get());
  v1::WorkerMessage hello = Hello("w1");
  *hello.mutable_hello()->add_held_leases() = lease;
  ASSERT_TRUE(stream->Write(hello));
  v1::CoordinatorMessage m;
  ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kWelcome, &m));
  ASSERT_EQ(m.welcome().resumed_leases_size(), 1);
  EXPECT_EQ(m.welcome().resumed_leases(0).lease().trial_id(), spec.trial_id());
  EXPECT_EQ(m.welcome().resumed_leases(0).lease().attempt(), 1);
  EXPECT_EQ(m.welcome().resumed_leases(0).acked_seq(), 1);
  // The attempt goes on where it was: seq 2 is stored.
  ASSERT_TRUE(stream->Write(ProgressOf(spec, 2)));
  ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kAck, &m));
  EXPECT_EQ(m.ack().seq(), 2);
  context->TryCancel();
}

TEST_F(ServerTest, PreemptedWorkerGetsNoMoreWorkAndTheTrialIsNotCharged) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("preempt", 1));
  auto stub = WorkerStub();
  auto context = AuthContext(kWorkerToken);
  std::unique_ptr<Stream> stream = stub->Connect(context.get());
  ASSERT_TRUE(stream->Write(Hello("leaving")));
  v1::CoordinatorMessage m;
  ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kAssign, &m));
  const v1::TrialSpec spec = m.assign().spec();
  v1::WorkerMessage failed;
  failed.mutable_failed()->set_trial_id(spec.trial_id());
  failed.mutable_failed()->set_attempt(spec.attempt());
  failed.mutable_failed()->set_seq(1);
  failed.mutable_failed()->set_kind(v1::FAILURE_KIND_PREEMPTED);
  ASSERT_TRUE(stream->Write(failed));
  ASSERT_TRUE(ReadUntil(stream.get(), v1::CoordinatorMessage::kAck, &m));
  // Another worker gets the requeued trial as attempt 2.
  v1::WatchCampaignRequest q;
  q.set_campaign_id(c.campaign_id());
  q.set_after_event_seq(-1);  // every stored event
  auto wc = AuthContext(kViewerToken);
  auto campaigns = CampaignStub();
  auto reader = campaigns->Watch(wc.get(), q);
  SimWorker other(SimOptions("other"));
  v1::CampaignEvent e;
  bool restarted = false;
  while (!restarted && reader->Read(&e)) {
    restarted = e.has_trial_started() &&
                e.trial_started().trial_id() == spec.trial_id() &&
                e.trial_started().attempt() == 2;
    if (restarted) {
      EXPECT_EQ(e.trial_started().worker_id(), "other");
    }
  }
  EXPECT_TRUE(restarted);
  wc->TryCancel();
  context->TryCancel();
  while (stream->Read(&m)) {
    EXPECT_FALSE(m.has_assign());
  }
  // Preempted for free: the trial's attempts are not used up.
  for (const v1::Trial& t : ListTrials(campaigns.get(), c.campaign_id())) {
    if (t.spec().trial_id() == spec.trial_id()) {
      EXPECT_NE(t.state(), v1::TRIAL_STATE_FAILED);
    }
  }
}

TEST_F(ServerTest, SecondStreamOfTheSameWorkerReplacesTheFirst) {
  StartServer();
  auto stub = WorkerStub();
  auto first_context = AuthContext(kWorkerToken);
  std::unique_ptr<Stream> first = stub->Connect(first_context.get());
  ASSERT_TRUE(first->Write(Hello("twin")));
  v1::CoordinatorMessage m;
  ASSERT_TRUE(ReadUntil(first.get(), v1::CoordinatorMessage::kWelcome, &m));
  auto second_context = AuthContext(kWorkerToken);
  std::unique_ptr<Stream> second = stub->Connect(second_context.get());
  ASSERT_TRUE(second->Write(Hello("twin")));
  ASSERT_TRUE(ReadUntil(second.get(), v1::CoordinatorMessage::kWelcome, &m));
  while (first->Read(&m)) {
  }
  EXPECT_EQ(first->Finish().error_code(), grpc::StatusCode::ABORTED);
  second_context->TryCancel();
}

TEST_F(ServerTest, FirstMessageMustBeHello) {
  StartServer();
  auto stub = WorkerStub();
  auto context = AuthContext(kWorkerToken);
  std::unique_ptr<Stream> stream = stub->Connect(context.get());
  v1::TrialSpec spec;
  spec.set_trial_id("c000001-t000000");
  spec.set_attempt(1);
  ASSERT_TRUE(stream->Write(ProgressOf(spec, 1)));
  v1::CoordinatorMessage m;
  while (stream->Read(&m)) {
  }
  EXPECT_EQ(stream->Finish().error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(ServerTest, RestartRebuildsTheCampaignAndWorkGoesOn) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("restart", 2));
  int done_before = 0;
  {
    SimWorker w(SimOptions("before"));
    // Let a handful of trials finish, then stop the worker and the server.
    v1::WatchCampaignRequest q;
    q.set_campaign_id(c.campaign_id());
    auto context = AuthContext(kViewerToken);
    auto stub = CampaignStub();
    auto reader = stub->Watch(context.get(), q);
    v1::CampaignEvent e;
    int finished = 0;
    while (finished < 8 && reader->Read(&e)) {
      finished += e.has_trial_finished();
    }
    context->TryCancel();
    (void)reader->Finish();
    w.Stop();
    done_before = w.trials_done();
  }
  v1::GetCampaignRequest get;
  get.set_campaign_id(c.campaign_id());
  v1::GetCampaignResponse before;
  auto context = AuthContext(kViewerToken);
  ASSERT_TRUE(CampaignStub()->Get(context.get(), get, &before).ok());
  StopServer();

  StartServer();
  v1::GetCampaignResponse after;
  context = AuthContext(kViewerToken);
  ASSERT_TRUE(CampaignStub()->Get(context.get(), get, &after).ok());
  // Get reads a published view that may trail the store by the last report
  // (a Done stored while the worker stopped), so the restart may show one
  // more: never fewer (nothing stored is lost) and never more than the
  // worker finished (nothing counted twice).
  EXPECT_GE(after.campaign().trials().succeeded(),
            before.campaign().trials().succeeded());
  EXPECT_GE(after.campaign().trials().succeeded(), 8);
  EXPECT_LE(after.campaign().trials().succeeded(), done_before);
  EXPECT_GE(after.campaign().spent_flops(), before.campaign().spent_flops());
  EXPECT_GE(after.campaign().law_version(), before.campaign().law_version());
  SimWorker w(SimOptions("after"));
  EXPECT_EQ(WatchToEnd(c.campaign_id()), v1::CAMPAIGN_STATE_SUCCEEDED);
  EXPECT_GT(w.trials_done(), 0);
}

}  // namespace
}  // namespace moesweep::testing
