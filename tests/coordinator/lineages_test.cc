// Branch trials (training.branching, issue 18) end to end over loopback with
// simulated workers that keep a checkpoint folder: a branch resumes on the
// worker holding its lineage's checkpoint, one whose checkpoint is gone is
// re-planned as a fresh run charged in full, lineages survive a restart, and
// a branch's reports are fenced by attempt like any trial's.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>

#include "coordinator/convert.h"
#include "tests/coordinator/hostile_util.h"

namespace moesweep::testing {
namespace {

using LineageTest = CoordinatorFixture;

std::string BranchingYaml(const std::string& name, int max_parallel_runs = 4) {
  return SmallCampaignYaml(name, max_parallel_runs) +
         "training: {schedule: wsd, branching: true}\n";
}

bool Saves(const v1::Trial& t, int64_t tokens) {
  const auto& saved = t.spec().checkpoint_at_tokens();
  return std::find(saved.begin(), saved.end(), tokens) != saved.end();
}

// Training FLOPs charged per token: the same for every run of a lineage
// that trained all its tokens (one architecture).
double FlopsPerToken(const v1::Trial& t) {
  return t.training_flops() / static_cast<double>(t.spec().train_tokens());
}

// Every branch of `trials` against its lineage: the lineage's architecture,
// seed and warmup, resuming from a checkpoint a succeeded trial of the
// lineage saved. Returns how many branches there are.
int CheckBranches(const std::vector<v1::Trial>& trials) {
  std::map<std::string, const v1::Trial*> by_id;
  for (const v1::Trial& t : trials) by_id[t.spec().trial_id()] = &t;
  int branches = 0;
  for (const v1::Trial& t : trials) {
    const v1::TrialSpec& s = t.spec();
    if (s.resume_from_tokens() == 0 || t.state() == v1::TRIAL_STATE_CANCELLED)
      continue;
    ++branches;
    EXPECT_FALSE(s.lineage().empty());
    if (!by_id.count(s.lineage())) {
      ADD_FAILURE() << s.trial_id() << ": no lineage " << s.lineage();
      continue;
    }
    const v1::TrialSpec& root = by_id[s.lineage()]->spec();
    EXPECT_TRUE(s.architecture().SerializeAsString() ==
                root.architecture().SerializeAsString())
        << s.trial_id();
    EXPECT_EQ(s.seed(), root.seed());
    EXPECT_EQ(s.schedule().warmup_tokens(), root.schedule().warmup_tokens());
    EXPECT_EQ(s.schedule().peak_learning_rate(),
              root.schedule().peak_learning_rate());
    EXPECT_GT(s.train_tokens(), s.resume_from_tokens());
    bool saved = false;
    for (const v1::Trial& other : trials) {
      saved |= other.spec().lineage() == s.lineage() &&
               other.state() == v1::TRIAL_STATE_SUCCEEDED &&
               Saves(other, s.resume_from_tokens());
    }
    EXPECT_TRUE(saved) << s.trial_id() << " resumes from "
                       << s.resume_from_tokens() << ", saved by no trial";
  }
  return branches;
}

TEST_F(LineageTest, BranchesResumeOnTheWorkerHoldingTheirCheckpoint) {
  StartServer();
  const v1::Campaign c = CreateCampaign(BranchingYaml("branching"));
  const std::string id = c.campaign_id();
  int resumed = 0, missing = 0;
  {
    SimWorker a(SimOptions("sim-a"));  // each its own checkpoint folder
    SimWorker b(SimOptions("sim-b"));
    EXPECT_EQ(WatchToEnd(id), v1::CAMPAIGN_STATE_SUCCEEDED);
    resumed = a.branches_resumed() + b.branches_resumed();
    missing = a.checkpoints_missing() + b.checkpoints_missing();
  }
  auto stub = CampaignStub();
  const std::vector<v1::Trial> trials = ListTrials(stub.get(), id);
  const int branches = CheckBranches(trials);
  EXPECT_GT(branches, 0) << "the proposer bought no branch";
  // A branch resumed as the campaign stopped may have been cancelled since.
  EXPECT_GE(resumed, branches);
  // Had a branch gone to the other worker, it would have found nothing.
  EXPECT_EQ(missing, 0);
  std::map<std::string, const v1::Trial*> by_id;
  for (const v1::Trial& t : trials) by_id[t.spec().trial_id()] = &t;
  double saved_flops = 0;
  for (const v1::Trial& t : trials) {
    const v1::TrialSpec& s = t.spec();
    EXPECT_FALSE(s.lineage().empty()) << "every run of a branching campaign "
                                         "starts or continues a lineage";
    // Those still queued when the campaign stopped were cancelled.
    if (s.resume_from_tokens() == 0 || t.state() == v1::TRIAL_STATE_CANCELLED)
      continue;
    EXPECT_EQ(t.state(), v1::TRIAL_STATE_SUCCEEDED);
    EXPECT_EQ(s.attempt(), 1);
    // Charged for the tokens it adds, not for those of its checkpoint.
    const v1::Trial& root = *by_id[s.lineage()];
    const double added =
        static_cast<double>(s.train_tokens() - s.resume_from_tokens()) /
        static_cast<double>(s.train_tokens());
    EXPECT_NEAR(t.training_flops(),
                FlopsPerToken(root) * s.train_tokens() * added,
                1e-6 * t.training_flops());
    saved_flops += FlopsPerToken(root) * s.resume_from_tokens();
  }
  EXPECT_GT(saved_flops, 0);
}

TEST_F(LineageTest, ABranchWhoseCheckpointIsGoneIsReplannedFreshAndPaidInFull) {
  StartServer();
  const v1::Campaign c = CreateCampaign(BranchingYaml("lost"));
  const std::string id = c.campaign_id();
  int missing = 0;
  {
    SimWorkerOptions o = SimOptions("sim-a");
    o.checkpoints = nullptr;  // a worker whose disk keeps nothing
    SimWorker a(o);
    EXPECT_EQ(WatchToEnd(id), v1::CAMPAIGN_STATE_SUCCEEDED);
    missing = a.checkpoints_missing();
    EXPECT_EQ(a.branches_resumed(), 0);
  }
  ASSERT_GT(missing, 0) << "the proposer bought no branch";
  auto stub = CampaignStub();
  const std::vector<v1::Trial> trials = ListTrials(stub.get(), id);
  std::map<std::string, const v1::Trial*> by_id;
  for (const v1::Trial& t : trials) by_id[t.spec().trial_id()] = &t;
  int replanned = 0;
  double spent = 0;
  for (const v1::Trial& t : trials) {
    spent += t.training_flops();
    if (t.state() == v1::TRIAL_STATE_CANCELLED) continue;
    EXPECT_EQ(t.spec().resume_from_tokens(), 0)
        << t.spec().trial_id() << ": a branch still waits on a lost checkpoint";
    if (t.last_failure_kind() != v1::FAILURE_KIND_CHECKPOINT_MISSING) continue;
    ++replanned;
    // Trained from scratch on its second attempt, not charged as a failure,
    // and charged for every token.
    EXPECT_EQ(t.state(), v1::TRIAL_STATE_SUCCEEDED);
    EXPECT_EQ(t.spec().attempt(), 2);
    EXPECT_EQ(t.charged_failures(), 0);
    const v1::Trial& root = *by_id[t.spec().lineage()];
    EXPECT_NEAR(FlopsPerToken(t), FlopsPerToken(root),
                1e-6 * FlopsPerToken(root));
    // It saves the lost checkpoint again for the lineage.
    EXPECT_GT(t.spec().checkpoint_at_tokens_size(), 0);
  }
  // A report on a branch cancelled as the campaign stopped changes nothing.
  EXPECT_GT(replanned, 0);
  EXPECT_LE(replanned, missing);
  EXPECT_DOUBLE_EQ(GetCampaign(stub.get(), id).spent_flops(), spent);
}

TEST_F(LineageTest, LineagesSurviveARestartAndBranchingGoesOn) {
  StartServer();
  const v1::Campaign c = CreateCampaign(BranchingYaml("restarted"));
  const std::string id = c.campaign_id();
  // Both workers' checkpoints outlive their processes (a disk of their own).
  auto disk_a = std::make_shared<SimCheckpoints>();
  auto disk_b = std::make_shared<SimCheckpoints>();
  auto worker = [&](const std::string& name,
                    std::shared_ptr<SimCheckpoints> disk) {
    SimWorkerOptions o = SimOptions(name);
    o.checkpoints = std::move(disk);
    return o;
  };
  {
    // One worker before the restart, so its runs end in one order and the
    // lineages stored come out alike from run to run of this test; with two
    // racing, an order now and then (1 run in 36 under load) left no old
    // lineage the amendment's proposals found worth branching.
    SimWorker a(worker("sim-a", disk_a));
    EXPECT_EQ(WatchToEnd(id), v1::CAMPAIGN_STATE_SUCCEEDED);
  }
  auto stub = CampaignStub();
  const std::vector<v1::Trial> before = ListTrials(stub.get(), id);
  v1::GetLawRequest lq;
  lq.set_campaign_id(id);
  v1::GetLawResponse law_before;
  {
    auto context = AuthContext(kViewerToken);
    ASSERT_TRUE(stub->GetLaw(context.get(), lq, &law_before).ok());
  }
  StopServer();
  StartServer();
  stub = CampaignStub();
  const std::vector<v1::Trial> after = ListTrials(stub.get(), id);
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_TRUE(after[i].SerializeAsString() == before[i].SerializeAsString())
        << before[i].spec().trial_id() << " changed across the restart";
  }
  v1::GetLawResponse law_after;
  {
    auto context = AuthContext(kViewerToken);
    ASSERT_TRUE(stub->GetLaw(context.get(), lq, &law_after).ok());
  }
  EXPECT_TRUE(law_after.SerializeAsString() == law_before.SerializeAsString())
      << "the law changed across the restart";

  // A narrower target reopens the campaign: the lineages rebuilt from the
  // store are branched from again, on the workers that hold them.
  v1::AmendCampaignRequest q;
  q.set_campaign_id(id);
  q.set_target_interval_width(0.4 * c.target_interval_width());
  v1::AmendCampaignResponse r;
  {
    auto context = AuthContext(kAdminToken);
    grpc::Status s = stub->Amend(context.get(), q, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  int missing = 0;
  {
    SimWorker a(worker("sim-a", disk_a));
    SimWorker b(worker("sim-b", disk_b));
    const v1::CampaignState end = WatchToEnd(id);
    EXPECT_TRUE(end == v1::CAMPAIGN_STATE_SUCCEEDED ||
                end == v1::CAMPAIGN_STATE_BUDGET_EXHAUSTED)
        << v1::CampaignState_Name(end);
    missing = a.checkpoints_missing() + b.checkpoints_missing();
  }
  const std::vector<v1::Trial> grown = ListTrials(stub.get(), id);
  CheckBranches(grown);
  EXPECT_EQ(missing, 0);
  int old_lineages_branched = 0;
  for (std::size_t i = before.size(); i < grown.size(); ++i) {
    const v1::TrialSpec& s = grown[i].spec();
    if (s.resume_from_tokens() == 0) continue;
    for (std::size_t j = 0; j < before.size(); ++j) {
      old_lineages_branched += before[j].spec().trial_id() == s.lineage();
    }
  }
  EXPECT_GT(old_lineages_branched, 0)
      << "no run after the restart branched from a lineage stored before it";
}

// A branch's reports are fenced by attempt: once its lost checkpoint has
// made it a fresh second attempt, a report of the first is refused.
TEST_F(LineageTest, AReplannedBranchRefusesItsFirstAttemptsReports) {
  StartServer();
  const v1::Campaign c = CreateCampaign(BranchingYaml("fenced"));
  const std::string id = c.campaign_id();
  auto campaigns = CampaignStub();
  // A worker spoken by hand: it takes assignments, reporting the loss a
  // simulated worker would, until one is a branch.
  auto workers = WorkerStub();
  Conn w;
  w.context = AuthContext(kWorkerToken);
  w.context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(60));
  w.stream = workers->Connect(w.context.get());
  ASSERT_TRUE(w.stream->Write(Hello("hand")));
  const fitter::Law truth = SimOptions("hand").truth;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0, 0.005);
  v1::CoordinatorMessage m;
  v1::TrialSpec branch;
  int trained = 0;
  for (; trained < 300 && branch.trial_id().empty(); ++trained) {
    if (!ReadUntil(w.stream.get(), v1::CoordinatorMessage::kAssign, &m)) {
      FAIL() << "no assignment after " << trained << " runs";
    }
    const v1::TrialSpec& s = m.assign().spec();
    if (s.resume_from_tokens() > 0) {
      branch = s;
      break;
    }
    const v1::Trial t = TrialOf(campaigns.get(), id, s.trial_id());
    StatusOr<double> loss =
        fitter::PredictLoss(truth, coordinator::FromRunFeatures(t.features()));
    ASSERT_TRUE(loss.ok()) << loss.status().ToString();
    // Each attempt numbers its reports from 1.
    ASSERT_TRUE(w.stream->Write(
        DoneOf(s.trial_id(), s.attempt(), 1, *loss * std::exp(noise(rng)))));
  }
  ASSERT_FALSE(branch.trial_id().empty()) << "no branch was assigned";
  v1::WorkerMessage lost;
  lost.mutable_failed()->set_trial_id(branch.trial_id());
  lost.mutable_failed()->set_attempt(branch.attempt());
  lost.mutable_failed()->set_seq(1);
  lost.mutable_failed()->set_kind(v1::FAILURE_KIND_CHECKPOINT_MISSING);
  lost.mutable_failed()->set_message("the disk was wiped");
  ASSERT_TRUE(w.stream->Write(lost));
  // The same trial comes back as a fresh run, one attempt on.
  ASSERT_TRUE(ReadUntil(w.stream.get(), v1::CoordinatorMessage::kAssign, &m));
  const v1::TrialSpec fresh = m.assign().spec();
  EXPECT_EQ(fresh.trial_id(), branch.trial_id());
  EXPECT_EQ(fresh.attempt(), branch.attempt() + 1);
  EXPECT_EQ(fresh.resume_from_tokens(), 0);
  EXPECT_EQ(fresh.lineage(), branch.lineage());
  EXPECT_EQ(fresh.train_tokens(), branch.train_tokens());
  // A Done of the first attempt would have stored a loss trained from a
  // checkpoint the coordinator no longer counts on.
  ASSERT_TRUE(
      w.stream->Write(DoneOf(branch.trial_id(), branch.attempt(), 2, 0.01)));
  ASSERT_TRUE(ReadUntil(w.stream.get(), v1::CoordinatorMessage::kRefuse, &m));
  EXPECT_EQ(m.refuse().code(), static_cast<int>(StatusCode::kAborted))
      << m.refuse().message();
  const v1::Trial t = TrialOf(campaigns.get(), id, branch.trial_id());
  EXPECT_EQ(t.state(), v1::TRIAL_STATE_RUNNING);
  EXPECT_EQ(t.spec().attempt(), fresh.attempt());
  EXPECT_FALSE(t.has_final_eval_loss());
  EXPECT_EQ(t.charged_failures(), 0);
}

}  // namespace
}  // namespace moesweep::testing
