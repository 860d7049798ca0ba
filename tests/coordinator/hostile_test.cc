// Issue 13's findings, each reproduced over real gRPC on loopback against a
// real RocksDB: forged and out-of-range reports, a FLOPs figure that must
// not move the budget, long curves, bad steering values, and a watcher that
// falls behind. Those a restart exposed: hostile_restart_test.cc.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tests/coordinator/hostile_util.h"
#include "tests/testing/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::testing {
namespace {

// Finding 2: reports were fenced by (trial, attempt) only, so any worker
// token could store a report on a trial it was never given.
TEST_F(HostileTest, OnlyTheLeaseHolderMayReportOnATrial) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("forged", 4));
  auto workers = WorkerStub();
  auto campaigns = CampaignStub();
  Conn honest = Connect(workers.get(), "honest");
  v1::CoordinatorMessage m;
  ASSERT_TRUE(
      ReadUntil(honest.stream.get(), v1::CoordinatorMessage::kAssign, &m));
  const v1::TrialSpec spec = m.assign().spec();
  // The forger holds a lease of its own (one slot), so it is a worker in
  // good standing: only its reports on others' trials are forged.
  Conn forger = Connect(workers.get(), "forger");
  ASSERT_TRUE(
      ReadUntil(forger.stream.get(), v1::CoordinatorMessage::kAssign, &m));
  std::string queued;
  for (const v1::Trial& t : ListTrials(campaigns.get(), c.campaign_id())) {
    if (t.state() == v1::TRIAL_STATE_QUEUED) queued = t.spec().trial_id();
  }
  ASSERT_FALSE(queued.empty());
  // The honest worker's running trial, same attempt and seq.
  ASSERT_TRUE(
      forger.stream->Write(ProgressOf(spec.trial_id(), spec.attempt(), 1, 99)));
  ASSERT_TRUE(
      ReadUntil(forger.stream.get(), v1::CoordinatorMessage::kRefuse, &m));
  EXPECT_EQ(m.refuse().code(), static_cast<int>(StatusCode::kAborted))
      << m.refuse().message();
  // A Done on it would have ended the trial with a forged loss.
  ASSERT_TRUE(
      forger.stream->Write(DoneOf(spec.trial_id(), spec.attempt(), 1, 0.01)));
  ASSERT_TRUE(
      ReadUntil(forger.stream.get(), v1::CoordinatorMessage::kRefuse, &m));
  EXPECT_EQ(m.refuse().code(), static_cast<int>(StatusCode::kAborted));
  // A trial still queued, never assigned to anyone.
  ASSERT_TRUE(forger.stream->Write(ProgressOf(queued, 1, 1, 99)));
  ASSERT_TRUE(
      ReadUntil(forger.stream.get(), v1::CoordinatorMessage::kRefuse, &m));
  EXPECT_EQ(m.refuse().code(),
            static_cast<int>(StatusCode::kFailedPrecondition))
      << m.refuse().message();
  EXPECT_EQ(CurvePoints(campaigns.get(), c.campaign_id(), queued), 0);
  EXPECT_EQ(CurvePoints(campaigns.get(), c.campaign_id(), spec.trial_id()), 0);

  // The honest worker's seq 1 is stored as its own, not taken for a resend.
  ASSERT_TRUE(
      honest.stream->Write(ProgressOf(spec.trial_id(), spec.attempt(), 1, 10)));
  ASSERT_TRUE(ReadUntil(honest.stream.get(), v1::CoordinatorMessage::kAck, &m));
  v1::GetCurveRequest q;
  q.set_campaign_id(c.campaign_id());
  q.set_trial_id(spec.trial_id());
  v1::GetCurveResponse curve;
  auto vc = AuthContext(kViewerToken);
  ASSERT_TRUE(campaigns->GetCurve(vc.get(), q, &curve).ok());
  ASSERT_EQ(curve.points_size(), 1);
  EXPECT_EQ(curve.points(0).step(), 10);
  EXPECT_EQ(TrialOf(campaigns.get(), c.campaign_id(), spec.trial_id()).state(),
            v1::TRIAL_STATE_RUNNING);
}

// Finding 4: non-finite and negative values were stored, and an infinite
// training_flops ended a campaign as budget-exhausted.
TEST_F(HostileTest, OutOfRangeReportsAreRefusedNamingTheField) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("ranges", 1));
  auto workers = WorkerStub();
  auto campaigns = CampaignStub();
  Conn w = Connect(workers.get(), "w");
  v1::CoordinatorMessage m;
  ASSERT_TRUE(ReadUntil(w.stream.get(), v1::CoordinatorMessage::kAssign, &m));
  const v1::TrialSpec spec = m.assign().spec();
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();

  struct Case {
    v1::WorkerMessage report;
    std::string field;
  };
  std::vector<Case> cases;
  {
    v1::WorkerMessage r = DoneOf(spec.trial_id(), spec.attempt(), 1, 3.0);
    r.mutable_done()->set_training_flops(inf);
    cases.push_back({r, "done.training_flops"});
    r = DoneOf(spec.trial_id(), spec.attempt(), 1, nan);
    cases.push_back({r, "done.final_eval_loss"});
    r = ProgressOf(spec.trial_id(), spec.attempt(), 1, 10);
    r.mutable_progress()->set_train_loss(nan);
    cases.push_back({r, "progress.train_loss"});
    r = ProgressOf(spec.trial_id(), spec.attempt(), 1, 10);
    r.mutable_progress()->set_trained_tokens(-5);
    cases.push_back({r, "progress.trained_tokens"});
    r = ProgressOf(spec.trial_id(), spec.attempt(), 1, 10);
    r.mutable_progress()->set_eval_loss(-inf);
    cases.push_back({r, "progress.eval_loss"});
    // A worker streaming without end would fill the disk and every curve.
    r = ProgressOf(spec.trial_id(), spec.attempt(), 1'000'001, 10);
    cases.push_back({r, "progress.seq"});
    r = v1::WorkerMessage();
    r.mutable_failed()->set_trial_id(spec.trial_id());
    r.mutable_failed()->set_attempt(spec.attempt());
    r.mutable_failed()->set_seq(1);
    r.mutable_failed()->set_kind(v1::FAILURE_KIND_OUT_OF_MEMORY);
    r.mutable_failed()->set_needed_memory_bytes(-1);
    cases.push_back({r, "failed.needed_memory_bytes"});
  }
  for (const Case& bad : cases) {
    SCOPED_TRACE(bad.field);
    ASSERT_TRUE(w.stream->Write(bad.report));
    ASSERT_TRUE(ReadUntil(w.stream.get(), v1::CoordinatorMessage::kRefuse, &m));
    EXPECT_EQ(m.refuse().code(),
              static_cast<int>(StatusCode::kInvalidArgument));
    EXPECT_EQ(m.refuse().message().rfind(bad.field + ":", 0), 0u)
        << m.refuse().message();
  }
  EXPECT_EQ(CurvePoints(campaigns.get(), c.campaign_id(), spec.trial_id()), 0);
  v1::GetCampaignRequest get;
  get.set_campaign_id(c.campaign_id());
  v1::GetCampaignResponse got;
  auto vc = AuthContext(kViewerToken);
  ASSERT_TRUE(campaigns->Get(vc.get(), get, &got).ok());
  EXPECT_EQ(got.campaign().state(), v1::CAMPAIGN_STATE_RUNNING);
  EXPECT_EQ(got.campaign().spent_flops(), 0);

  // A long failure message is kept, cut to 1 KiB.
  v1::WorkerMessage failed;
  failed.mutable_failed()->set_trial_id(spec.trial_id());
  failed.mutable_failed()->set_attempt(spec.attempt());
  failed.mutable_failed()->set_seq(1);
  failed.mutable_failed()->set_kind(v1::FAILURE_KIND_ERROR);
  failed.mutable_failed()->set_message(std::string(100000, 'e'));
  ASSERT_TRUE(w.stream->Write(failed));
  ASSERT_TRUE(ReadUntil(w.stream.get(), v1::CoordinatorMessage::kAck, &m));
  v1::Trial t;
  for (int i = 0; i < 500 && t.last_failure_kind() != v1::FAILURE_KIND_ERROR;
       ++i) {
    t = TrialOf(campaigns.get(), c.campaign_id(), spec.trial_id());
  }
  EXPECT_EQ(t.last_failure_kind(), v1::FAILURE_KIND_ERROR);
  EXPECT_EQ(t.last_failure_message(), std::string(1024, 'e'));
}

// A worker's own FLOPs figure once set the budget's spend: a report could
// end a campaign early or keep it going. Runs are charged the law family's
// cost model, the one that priced them when they were proposed.
TEST_F(HostileTest, AReportedFlopsFigureDoesNotMoveTheBudget) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("charged", 1));
  auto workers = WorkerStub();
  auto campaigns = CampaignStub();
  Conn w = Connect(workers.get(), "w");
  v1::CoordinatorMessage m;
  ASSERT_TRUE(ReadUntil(w.stream.get(), v1::CoordinatorMessage::kAssign, &m));
  const v1::TrialSpec spec = m.assign().spec();
  v1::WorkerMessage done = DoneOf(spec.trial_id(), spec.attempt(), 1, 3.0);
  done.mutable_done()->set_training_flops(1e29);  // in range, and a lie
  ASSERT_TRUE(w.stream->Write(done));
  ASSERT_TRUE(ReadUntil(w.stream.get(), v1::CoordinatorMessage::kAck, &m));
  SchedulerBarrier();
  double charged = -1, priced = 0;
  for (const v1::Trial& t : ListTrials(campaigns.get(), c.campaign_id())) {
    if (t.spec().trial_id() != spec.trial_id()) continue;
    ASSERT_EQ(t.state(), v1::TRIAL_STATE_SUCCEEDED);
    charged = t.training_flops();
    // chinchilla: C = 6·N·D, N with embeddings.
    priced = 6 * (t.features().n_total_ne() + t.features().n_embed()) *
             t.features().tokens();
  }
  EXPECT_NEAR(charged, priced, 1e-9 * priced);
  v1::GetCampaignRequest get;
  get.set_campaign_id(c.campaign_id());
  v1::GetCampaignResponse got;
  auto vc = AuthContext(kViewerToken);
  ASSERT_TRUE(campaigns->Get(vc.get(), get, &got).ok());
  EXPECT_NEAR(got.campaign().spent_flops(), priced, 1e-9 * priced);
  EXPECT_EQ(got.campaign().state(), v1::CAMPAIGN_STATE_RUNNING);
}

// Finding 5 (unbounded replies): a long curve comes back in pages that stay
// under gRPC's message limit and join into the whole curve, in order.
TEST_F(HostileTest, LongCurvesArePaged) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("paged", 1));
  auto workers = WorkerStub();
  auto campaigns = CampaignStub();
  Conn w = Connect(workers.get(), "w");
  v1::CoordinatorMessage m;
  ASSERT_TRUE(ReadUntil(w.stream.get(), v1::CoordinatorMessage::kAssign, &m));
  const v1::TrialSpec spec = m.assign().spec();
  constexpr int kReports = 25'000;  // two and a half default pages
  for (int seq = 1; seq <= kReports; ++seq) {
    ASSERT_TRUE(
        w.stream->Write(ProgressOf(spec.trial_id(), spec.attempt(), seq, seq)));
  }
  int64_t acked = 0;
  while (acked < kReports &&
         ReadUntil(w.stream.get(), v1::CoordinatorMessage::kAck, &m)) {
    acked = std::max(acked, m.ack().seq());
  }
  ASSERT_EQ(acked, kReports);

  for (int page_size : {0, 7'777}) {
    SCOPED_TRACE(page_size);
    v1::GetCurveRequest q;
    q.set_campaign_id(c.campaign_id());
    q.set_trial_id(spec.trial_id());
    q.set_page_size(page_size);
    std::vector<int64_t> steps;
    int pages = 0;
    do {
      v1::GetCurveResponse r;
      auto vc = AuthContext(kViewerToken);
      grpc::Status s = campaigns->GetCurve(vc.get(), q, &r);
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_LE(r.points_size(), page_size == 0 ? 10'000 : page_size);
      for (const v1::LossPoint& p : r.points()) steps.push_back(p.step());
      q.set_page_token(r.next_page_token());
      ++pages;
    } while (!q.page_token().empty() && pages < 100);
    EXPECT_EQ(pages, page_size == 0 ? 3 : 4);
    ASSERT_EQ(steps.size(), static_cast<size_t>(kReports));
    for (int i = 0; i < kReports; ++i) ASSERT_EQ(steps[i], i + 1);
  }
  for (const char* token : {"x", "9.1", ".5", "1"}) {
    v1::GetCurveRequest q;
    q.set_campaign_id(c.campaign_id());
    q.set_trial_id(spec.trial_id());
    q.set_page_token(token);
    v1::GetCurveResponse r;
    auto vc = AuthContext(kViewerToken);
    EXPECT_EQ(campaigns->GetCurve(vc.get(), q, &r).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << token;
  }
  v1::GetCurveRequest q;
  q.set_campaign_id(c.campaign_id());
  q.set_trial_id(spec.trial_id());
  q.set_page_size(10'001);
  v1::GetCurveResponse r;
  auto vc = AuthContext(kViewerToken);
  EXPECT_EQ(campaigns->GetCurve(vc.get(), q, &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Finding 4: Amend took an infinite budget; Optimal(1e300) answered with
// INT64_MIN tokens.
TEST_F(HostileTest, SteeringValuesOutOfRangeAreRefused) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("steer", 1));
  auto campaigns = CampaignStub();
  for (double budget : {std::numeric_limits<double>::infinity(), 1e300,
                        std::numeric_limits<double>::quiet_NaN()}) {
    v1::AmendCampaignRequest q;
    q.set_campaign_id(c.campaign_id());
    q.set_budget_flops(budget);
    v1::AmendCampaignResponse r;
    auto ac = AuthContext(kAdminToken);
    grpc::Status s = campaigns->Amend(ac.get(), q, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << budget;
    EXPECT_EQ(s.error_message().rfind("budget_flops:", 0), 0u)
        << s.error_message();
  }
  v1::OptimalRequest q;
  q.set_campaign_id(c.campaign_id());
  q.set_budget_flops(1e300);
  v1::OptimalResponse r;
  auto vc = AuthContext(kViewerToken);
  grpc::Status s = campaigns->Optimal(vc.get(), q, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "budget_flops: must be in (0, 1e30]");

  // A cancel reason of megabytes is refused, and nothing changes.
  v1::CancelCampaignRequest cancel;
  cancel.set_campaign_id(c.campaign_id());
  cancel.set_reason(std::string(1 << 20, 'r'));
  v1::CancelCampaignResponse cr;
  auto ac = AuthContext(kAdminToken);
  s = campaigns->Cancel(ac.get(), cancel, &cr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(s.error_message().size(), 200u);
}

// Finding 5: a watcher that never read queued events without limit.
TEST_F(HostileTest, AWatcherThatFallsBehindIsDroppedWithAResumePoint) {
  coordinator::ServerOptions options;
  options.max_watch_queue = 4;
  StartServer(options);
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("watch", 2));
  {
    SimWorker a(SimOptions("a"));
    ASSERT_EQ(WatchToEnd(c.campaign_id()), v1::CAMPAIGN_STATE_SUCCEEDED);
  }
  // Replaying every stored event overflows a queue of 4: each stream ends
  // with RESOURCE_EXHAUSTED naming where to resume, and resuming from there
  // pages through every event exactly once.
  std::vector<int64_t> seen;
  v1::WatchCampaignRequest q;
  q.set_campaign_id(c.campaign_id());
  q.set_after_event_seq(-1);
  int streams = 0;
  for (;; ++streams) {
    ASSERT_LT(streams, 10000);
    auto vc = AuthContext(kViewerToken);
    auto stub = CampaignStub();
    auto reader = stub->Watch(vc.get(), q);
    v1::CampaignEvent e;
    int read = 0;
    while (reader->Read(&e)) {
      ++read;
      if (e.event_seq() > 0) seen.push_back(e.event_seq());
    }
    EXPECT_LE(read, 4);
    grpc::Status s = reader->Finish();
    if (s.ok()) break;
    ASSERT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << s.error_message();
    const size_t at = s.error_message().find("after_event_seq=");
    ASSERT_NE(at, std::string::npos) << s.error_message();
    q.set_after_event_seq(std::stoll(s.error_message().substr(at + 16)));
  }
  EXPECT_GT(streams, 1);
  ASSERT_FALSE(seen.empty());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], static_cast<int64_t>(i + 1));
  }
}

}  // namespace
}  // namespace moesweep::testing
