// Issue 13's findings that a restart exposed, each reproduced over real gRPC
// on loopback against a real RocksDB: a restart that must publish nothing
// new, a campaign a restart cannot rebuild, and failures charged across a
// restart.

#include <gtest/gtest.h>

#include "coordinator/records.h"
#include "tests/coordinator/hostile_util.h"
#include "tests/testing/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::testing {
namespace {

// Finding 3: every restart published a new law version, with different
// parameters, for every campaign, finished ones included.
TEST_F(HostileTest, ARestartServesTheSameLawAndPublishesNothing) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("same-law", 2));
  {
    SimWorker a(SimOptions("a"));
    SimWorker b(SimOptions("b"));
    ASSERT_EQ(WatchToEnd(c.campaign_id()), v1::CAMPAIGN_STATE_SUCCEEDED);
  }
  const auto law_of = [&] {
    v1::GetLawRequest q;
    q.set_campaign_id(c.campaign_id());
    v1::GetLawResponse r;
    auto vc = AuthContext(kViewerToken);
    grpc::Status s = CampaignStub()->GetLaw(vc.get(), q, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return r;
  };
  const auto events = [&] {
    v1::WatchCampaignRequest q;
    q.set_campaign_id(c.campaign_id());
    q.set_after_event_seq(-1);
    auto vc = AuthContext(kViewerToken);
    auto stub = CampaignStub();
    auto reader = stub->Watch(vc.get(), q);
    int n = 0;
    v1::CampaignEvent e;
    while (reader->Read(&e)) n += e.event_seq() > 0;
    EXPECT_TRUE(reader->Finish().ok());
    return n;
  };
  const v1::GetLawResponse before = law_of();
  const int events_before = events();
  ASSERT_GT(before.law().version(), 0);
  for (int restart = 0; restart < 2; ++restart) {
    StopServer();
    StartServer();
    const v1::GetLawResponse after = law_of();
    EXPECT_EQ(after.law().version(), before.law().version());
    ASSERT_EQ(after.law().parameters_size(), before.law().parameters_size());
    for (int i = 0; i < after.law().parameters_size(); ++i) {
      EXPECT_EQ(after.law().parameters(i).value(),
                before.law().parameters(i).value())
          << after.law().parameters(i).name();
    }
    EXPECT_EQ(after.answer().SerializeAsString(),
              before.answer().SerializeAsString());
    EXPECT_EQ(after.out_of_sample_size(), before.out_of_sample_size());
    EXPECT_EQ(events(), events_before);
  }
}

// Finding 1: one stored campaign that cannot be rebuilt kept the whole
// coordinator from serving; now it is FAILED and the rest are served.
TEST_F(HostileTest, ACampaignARestartCannotRebuildIsQuarantined) {
  StartServer();
  const v1::Campaign good = CreateCampaign(SmallCampaignYaml("good", 1));
  StopServer();
  {
    coordinator::StoreOptions so;
    so.path = dir_.File("db");
    auto store = coordinator::Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    v1::Campaign bad;
    bad.set_campaign_id(coordinator::records::CampaignId(2));
    bad.set_state(v1::CAMPAIGN_STATE_RUNNING);
    bad.set_spec_yaml("law: {family: chinchilla}\nspace: {d_model: [1e12]}\n");
    ASSERT_TRUE((*store)
                    ->WriteRecords({coordinator::records::CampaignRecord(bad)})
                    .ok());
  }
  StartServer();
  auto campaigns = CampaignStub();
  v1::ListCampaignsRequest lq;
  v1::ListCampaignsResponse list;
  auto vc = AuthContext(kViewerToken);
  ASSERT_TRUE(campaigns->List(vc.get(), lq, &list).ok());
  ASSERT_EQ(list.campaigns_size(), 2);
  EXPECT_EQ(list.campaigns(0).campaign_id(),
            coordinator::records::CampaignId(2));
  EXPECT_EQ(list.campaigns(0).state(), v1::CAMPAIGN_STATE_FAILED);
  EXPECT_EQ(
      list.campaigns(0).state_reason().rfind("quarantined at restart: ", 0), 0u)
      << list.campaigns(0).state_reason();
  EXPECT_EQ(list.campaigns(1).state(), v1::CAMPAIGN_STATE_RUNNING);
  // The good campaign runs on.
  SimWorker w(SimOptions("w"));
  EXPECT_EQ(WatchToEnd(good.campaign_id()), v1::CAMPAIGN_STATE_SUCCEEDED);
  // The quarantine was stored: the next restart finds it FAILED too.
  StopServer();
  StartServer();
  v1::GetCampaignRequest get;
  get.set_campaign_id(coordinator::records::CampaignId(2));
  v1::GetCampaignResponse got;
  vc = AuthContext(kViewerToken);
  ASSERT_TRUE(CampaignStub()->Get(vc.get(), get, &got).ok());
  EXPECT_EQ(got.campaign().state(), v1::CAMPAIGN_STATE_FAILED);
}

// Finding 7: after a restart charged failures were rebuilt as attempt - 1,
// so free preemptions counted against max_attempts.
TEST_F(HostileTest, PreemptionsStayFreeAcrossARestart) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("free", 1));
  auto workers = WorkerStub();
  std::string trial;
  {
    Conn w = Connect(workers.get(), "p");
    v1::CoordinatorMessage m;
    ASSERT_TRUE(ReadUntil(w.stream.get(), v1::CoordinatorMessage::kAssign, &m));
    trial = m.assign().spec().trial_id();
    v1::WorkerMessage f;
    f.mutable_failed()->set_trial_id(trial);
    f.mutable_failed()->set_attempt(m.assign().spec().attempt());
    f.mutable_failed()->set_seq(1);
    f.mutable_failed()->set_kind(v1::FAILURE_KIND_PREEMPTED);
    ASSERT_TRUE(w.stream->Write(f));
    ASSERT_TRUE(ReadUntil(w.stream.get(), v1::CoordinatorMessage::kAck, &m));
  }
  v1::Trial before;
  for (int i = 0; i < 500 && before.spec().attempt() < 2; ++i) {
    before = TrialOf(CampaignStub().get(), c.campaign_id(), trial);
  }
  EXPECT_EQ(before.spec().attempt(), 2);
  EXPECT_EQ(before.charged_failures(), 0);
  StopServer();
  StartServer();
  const v1::Trial after = TrialOf(CampaignStub().get(), c.campaign_id(), trial);
  EXPECT_EQ(after.spec().attempt(), 2);
  EXPECT_EQ(after.charged_failures(), 0);
}

}  // namespace
}  // namespace moesweep::testing
