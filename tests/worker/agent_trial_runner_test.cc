// worker/agent/trial_runner.cc: one attempt trained on real shards, its
// reports (when Progress comes, what Done holds) and every way it ends.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "worker/agent/spec_mapping.h"
#include "worker/agent/trial_runner.h"
#include "worker/worker.h"

namespace moesweep::worker::agent {
namespace {

using ::moesweep::testing::TempDir;

// Byte-level text with enough variety to learn from: words drawn from a
// fixed list by a fixed linear congruential sequence.
std::string Text(size_t bytes) {
  static const char* kWords[] = {"the",   "expert", "router", "token",  "loss",
                                 "falls", "with",   "more",   "data",   "and",
                                 "a",     "model",  "learns", "slowly."};
  std::string text;
  uint64_t x = 12345;
  while (text.size() < bytes) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    text += kWords[(x >> 33) % (sizeof(kWords) / sizeof(kWords[0]))];
    text += (x >> 20) % 9 == 0 ? "\n" : " ";
  }
  return text;
}

// A 25-step tiny MoE: 4 sequences of 32 tokens a step.
v1::TrialSpec TinySpec() {
  v1::TrialSpec s;
  s.set_trial_id("c-t1");
  s.set_attempt(1);
  v1::ArchitectureSpec* a = s.mutable_architecture();
  a->set_vocab_size(256);
  a->set_seq_len(32);
  a->set_d_model(32);
  a->set_num_layers(1);
  a->set_num_heads(2);
  a->set_num_experts(2);
  a->set_top_k(1);
  a->set_granularity(1);
  a->set_expert_hidden_dim(64);
  s.set_batch_size_sequences(4);
  s.set_train_tokens(25 * 128);
  s.mutable_schedule()->set_schedule(v1::LR_SCHEDULE_COSINE);
  s.mutable_schedule()->set_peak_learning_rate(3e-3);
  s.mutable_schedule()->set_final_learning_rate_fraction(0.1);
  s.mutable_schedule()->set_warmup_tokens(256);
  v1::OptimizerSpec* o = s.mutable_optimizer();
  o->set_weight_decay(0.1);
  o->set_adam_beta1(0.9);
  o->set_adam_beta2(0.95);
  o->set_adam_epsilon(1e-8);
  o->set_grad_clip_norm(1.0);
  o->set_load_balance_loss_weight(0.01);
  o->set_router_z_loss_weight(0.001);
  s.add_eval_at_tokens(640);   // after step 5
  s.add_eval_at_tokens(1300);  // after step 11
  s.set_eval_tokens(1024);
  s.set_report_every_steps(10);
  s.set_seed(5);
  return s;
}

class Sink : public ReportSink {
 public:
  void OnReport(v1::WorkerMessage report) override {
    absl::MutexLock lock(&mu_);
    reports_.push_back(std::move(report));
  }
  void OnRunnerExit(const AttemptKey&) override {
    absl::MutexLock lock(&mu_);
    exited_ = true;
  }
  // Waits for the runner's exit; returns its reports.
  std::vector<v1::WorkerMessage> Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&exited_));
    return reports_;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::WorkerMessage> reports_ ABSL_GUARDED_BY(mu_);
  bool exited_ ABSL_GUARDED_BY(mu_) = false;
};

class TrialRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string text = dir_.Write("text.txt", Text(40000));
    ASSERT_OK(PrepareData({{text}, dir_.File("data/default"), 0.1}));
    options_.data_root = dir_.File("data");
    options_.threads = 1;
  }
  // Runs `spec` to its end and returns its reports.
  std::vector<v1::WorkerMessage> RunToEnd(const v1::TrialSpec& spec) {
    Sink sink;
    TrialRunner runner(spec, options_, &sink);
    std::vector<v1::WorkerMessage> reports = sink.Wait();
    EXPECT_TRUE(runner.exited());
    return reports;
  }

  TempDir dir_;
  RunnerOptions options_;
};

TEST_F(TrialRunnerTest, ReportsEveryNStepsAndAtEveryEvalThenDone) {
  const v1::TrialSpec spec = TinySpec();
  std::vector<v1::WorkerMessage> reports = RunToEnd(spec);
  ASSERT_EQ(reports.size(), 5u);
  std::vector<int64_t> steps;
  for (size_t i = 0; i + 1 < reports.size(); ++i) {
    ASSERT_TRUE(reports[i].has_progress()) << i;
    const v1::Progress& p = reports[i].progress();
    steps.push_back(p.step());
    EXPECT_EQ(p.trial_id(), "c-t1");
    EXPECT_EQ(p.attempt(), 1);
    EXPECT_EQ(p.seq(), 0);  // the sink numbers reports
    EXPECT_EQ(p.trained_tokens(), p.step() * 128);
    EXPECT_EQ(p.has_eval_loss(), p.step() == 5 || p.step() == 11);
    EXPECT_GT(p.train_loss(), 0);
    EXPECT_GT(p.learning_rate(), 0);
    EXPECT_GT(p.tokens_per_second(), 0);
    EXPECT_GT(p.peak_memory_bytes(), 0);
  }
  // Step 25's point is the Done, with the final eval.
  EXPECT_EQ(steps, (std::vector<int64_t>{5, 10, 11, 20}));
  ASSERT_TRUE(reports.back().has_done());
  const v1::Done& d = reports.back().done();
  EXPECT_EQ(d.steps(), 25);
  EXPECT_EQ(d.trained_tokens(), 3200);
  EXPECT_GT(d.final_train_loss(), 0);  // mean over steps 21..25
  StatusOr<TrainOptions> options = TrainOptionsFromSpec(spec, "", 1);
  ASSERT_OK(options);
  EXPECT_DOUBLE_EQ(d.training_flops(),
                   options->model.TrainingFlopsPerToken() * 3200);
  // The attempt is the trainer's run, bit for bit.
  options->data_dir = dir_.File("data/default");
  StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(*options);
  ASSERT_OK(trainer);
  std::optional<float> eval;
  while (!(*trainer)->Done()) {
    StatusOr<StepReport> r = (*trainer)->Step();
    ASSERT_OK(r);
    eval = r->eval_loss;
  }
  ASSERT_TRUE(eval.has_value());
  EXPECT_EQ(d.final_eval_loss(), double(*eval));
}

// The one report of an attempt that ends before it trains.
v1::Failed OnlyFailure(const std::vector<v1::WorkerMessage>& reports) {
  EXPECT_EQ(reports.size(), 1u);
  if (reports.empty() || !reports.back().has_failed()) return {};
  return reports.back().failed();
}

TEST_F(TrialRunnerTest, SpecTheTrainerCannotRunFailsNamingTheField) {
  v1::TrialSpec spec = TinySpec();
  spec.mutable_architecture()->set_top_k(3);
  v1::Failed f = OnlyFailure(RunToEnd(spec));
  EXPECT_EQ(f.kind(), v1::FAILURE_KIND_ERROR);
  EXPECT_EQ(f.message().rfind("architecture.top_k: ", 0), 0u) << f.message();
  EXPECT_EQ(f.step(), 0);
}

// Refused before anything is allocated (the model needs about 4 TiB), and
// reported as out of memory with what it needs, so the coordinator retries
// it only on a worker with at least that much.
TEST_F(TrialRunnerTest, AModelBiggerThanTheWorkersMemoryFailsAsOutOfMemory) {
  v1::TrialSpec spec = TinySpec();
  spec.mutable_architecture()->set_d_model(65536);
  spec.mutable_architecture()->set_num_heads(64);
  spec.mutable_architecture()->set_num_layers(16);
  v1::Failed f = OnlyFailure(RunToEnd(spec));
  EXPECT_EQ(f.kind(), v1::FAILURE_KIND_OUT_OF_MEMORY) << f.message();
  EXPECT_EQ(f.message().rfind("cannot start the trainer: the model needs ", 0),
            0u)
      << f.message();
  EXPECT_EQ(f.step(), 0);
  EXPECT_GT(f.needed_memory_bytes(), int64_t{1} << 42) << "4 TiB and more";
  EXPECT_LT(f.needed_memory_bytes(), int64_t{1} << 44);
}

TEST_F(TrialRunnerTest, MissingDatasetFailsNamingItsFolder) {
  v1::TrialSpec spec = TinySpec();
  spec.set_dataset("absent");
  v1::Failed f = OnlyFailure(RunToEnd(spec));
  EXPECT_EQ(f.kind(), v1::FAILURE_KIND_ERROR);
  EXPECT_NE(f.message().find(dir_.File("data/absent")), std::string::npos)
      << f.message();
}

TEST_F(TrialRunnerTest, NonFiniteLossFailsAsDiverged) {
  v1::TrialSpec spec = TinySpec();
  spec.mutable_schedule()->set_peak_learning_rate(1e30);
  spec.mutable_schedule()->set_warmup_tokens(0);
  spec.mutable_optimizer()->set_grad_clip_norm(0);
  std::vector<v1::WorkerMessage> reports = RunToEnd(spec);
  ASSERT_FALSE(reports.empty());
  ASSERT_TRUE(reports.back().has_failed());
  const v1::Failed& f = reports.back().failed();
  EXPECT_EQ(f.kind(), v1::FAILURE_KIND_DIVERGED) << f.message();
  EXPECT_NE(f.message().find(" at step " + std::to_string(f.step())),
            std::string::npos)
      << f.message();
  EXPECT_LT(f.step(), 25);
}

TEST_F(TrialRunnerTest, PastMaxSecondsFailsAsTimeLimit) {
  v1::TrialSpec spec = TinySpec();
  spec.set_max_seconds(1e-9);
  v1::Failed f = OnlyFailure(RunToEnd(spec));
  EXPECT_EQ(f.kind(), v1::FAILURE_KIND_TIME_LIMIT);
  EXPECT_NE(f.message().find("past max_seconds"), std::string::npos);
}

// WSD runs of one lineage (TrialSpec.lineage): 25 steps, cooling down over
// the last 5 (decay_tokens 640), from scratch or from a checkpoint.
v1::TrialSpec WsdSpec(int64_t steps) {
  v1::TrialSpec s = TinySpec();
  s.set_trial_id("c-t" + std::to_string(steps));
  s.set_lineage("c-t25");
  s.set_train_tokens(steps * 128);
  s.mutable_schedule()->set_schedule(v1::LR_SCHEDULE_WARMUP_STABLE_DECAY);
  s.mutable_schedule()->set_decay_tokens(steps * 128 / 5);
  s.clear_eval_at_tokens();
  return s;
}

double FinalEval(const std::vector<v1::WorkerMessage>& reports) {
  EXPECT_FALSE(reports.empty());
  if (reports.empty() || !reports.back().has_done()) {
    ADD_FAILURE() << "no Done: "
                  << (reports.empty() ? "" : reports.back().DebugString());
    return 0;
  }
  return reports.back().done().final_eval_loss();
}

TEST_F(TrialRunnerTest, ABranchResumesItsLineagesCheckpointBitForBit) {
  options_.checkpoint_dir = dir_.File("checkpoints");
  // The stable run: 25 steps, checkpoints after steps 10 and 20 (its decay
  // starts after step 20).
  v1::TrialSpec stable = WsdSpec(25);
  stable.add_checkpoint_at_tokens(10 * 128);
  stable.add_checkpoint_at_tokens(20 * 128);
  ASSERT_GT(FinalEval(RunToEnd(stable)), 0);
  for (int64_t step : {10, 20}) {
    EXPECT_TRUE(std::filesystem::exists(
        CheckpointPath(options_.checkpoint_dir, stable, step * 128)))
        << step;
  }
  // A cooldown branch from step 10 to 13 steps (stable to step 10) against
  // the same 13-step run from scratch.
  v1::TrialSpec branch = WsdSpec(13);
  branch.set_resume_from_tokens(10 * 128);
  const std::vector<v1::WorkerMessage> resumed = RunToEnd(branch);
  v1::TrialSpec fresh = WsdSpec(13);
  options_.checkpoint_dir = dir_.File("elsewhere");  // it needs none
  const std::vector<v1::WorkerMessage> scratch = RunToEnd(fresh);
  EXPECT_EQ(FinalEval(resumed), FinalEval(scratch));
  ASSERT_TRUE(resumed.back().has_done());
  const v1::Done& d = resumed.back().done();
  EXPECT_EQ(d.steps(), 13);
  EXPECT_EQ(d.trained_tokens(), 13 * 128);
  // The Progress points it reports are its own steps, after the checkpoint.
  for (const v1::WorkerMessage& m : resumed) {
    if (m.has_progress()) {
      EXPECT_GT(m.progress().step(), 10);
    }
  }
  // The worker's FLOPs are those of the 3 steps it trained.
  StatusOr<TrainOptions> options = TrainOptionsFromSpec(branch, "", 1);
  ASSERT_OK(options);
  EXPECT_DOUBLE_EQ(d.training_flops(),
                   options->model.TrainingFlopsPerToken() * 3 * 128);
}

TEST_F(TrialRunnerTest, ABranchWithoutItsCheckpointFailsAsCheckpointMissing) {
  options_.checkpoint_dir = dir_.File("checkpoints");
  v1::TrialSpec branch = WsdSpec(13);
  branch.set_resume_from_tokens(10 * 128);
  v1::Failed f = OnlyFailure(RunToEnd(branch));
  EXPECT_EQ(f.kind(), v1::FAILURE_KIND_CHECKPOINT_MISSING);
  EXPECT_NE(f.message().find("lineage c-t25 at 1280 tokens"), std::string::npos)
      << f.message();
  EXPECT_EQ(f.trained_tokens(), 0);
  // A checkpoint of another run (another seed) is no better than none.
  v1::TrialSpec other = WsdSpec(25);
  other.set_seed(99);
  other.add_checkpoint_at_tokens(10 * 128);
  ASSERT_GT(FinalEval(RunToEnd(other)), 0);
  f = OnlyFailure(RunToEnd(branch));
  EXPECT_EQ(f.kind(), v1::FAILURE_KIND_CHECKPOINT_MISSING) << f.message();
}

// Holds the runner before step 4 until the test has asked it to stop.
class StopTest : public TrialRunnerTest,
                 public ::testing::WithParamInterface<TrialRunner::StopMode> {};

TEST_P(StopTest, StopsBeforeTheNextStep) {
  absl::Notification paused, go;
  options_.before_step = [&](const v1::TrialSpec&, int64_t steps_done) {
    if (steps_done != 3) return;
    paused.Notify();
    go.WaitForNotification();
  };
  Sink sink;
  TrialRunner runner(TinySpec(), options_, &sink);
  paused.WaitForNotification();
  runner.RequestStop(GetParam());
  go.Notify();
  std::vector<v1::WorkerMessage> reports = sink.Wait();
  if (GetParam() == TrialRunner::StopMode::kSilent) {
    EXPECT_TRUE(reports.empty());  // step 3 had no report either
    return;
  }
  v1::Failed f = OnlyFailure(reports);
  EXPECT_EQ(f.kind(), v1::FAILURE_KIND_PREEMPTED);
  EXPECT_EQ(f.step(), 3);
  EXPECT_EQ(f.trained_tokens(), 3 * 128);
  EXPECT_GT(f.elapsed_seconds(), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, StopTest,
                         ::testing::Values(TrialRunner::StopMode::kPreempt,
                                           TrialRunner::StopMode::kSilent));

}  // namespace
}  // namespace moesweep::worker::agent
