#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "cli/commands.h"
#include "cli/train_config.h"
#include "tests/testing/temp_dir.h"
#include "worker/worker.h"

namespace moesweep::cli {
namespace {

constexpr char kTinyRun[] = R"(data_dir: DIR
steps: 4
batch_size: 2
eval_at_tokens: [32]
eval_tokens: 64
threads: 2
model:
  d_model: 16
  n_layers: 1
  n_heads: 2
  seq_len: 8
  n_experts: 4
  top_k: 2
  ffn_hidden: 32
  granularity: 2
  n_shared_experts: 1
optimizer:
  schedule: wsd
  lr: 1.0e-2
)";

std::string WithDir(const std::string& dir) {
  std::string yaml = kTinyRun;
  return yaml.replace(yaml.find("DIR"), 3, dir);
}

TEST(TrainConfigTest, ReadsEveryLevel) {
  StatusOr<worker::TrainOptions> o = ParseTrainConfig(WithDir("d"), "run.yaml");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->data_dir, "d");
  EXPECT_EQ(o->steps, 4);
  EXPECT_EQ(o->eval_at_tokens, std::vector<int64_t>{32});
  EXPECT_EQ(o->model.expert_hidden(), 16);
  EXPECT_EQ(o->model.n_shared_experts, 1);
  EXPECT_EQ(o->optimizer.schedule, worker::Schedule::kWarmupStableDecay);
  EXPECT_FLOAT_EQ(o->optimizer.lr, 1e-2f);
}

TEST(TrainConfigTest, ErrorsNameTheFieldPath) {
  struct Case {
    std::string yaml, message;
  } cases[] = {
      {"data_dir: d\nmodel: {d_model: abc}",
       "run.yaml: model.d_model: must be an integer, got 'abc'"},
      {"data_dir: d\nmodel: {n_expert: 4}",
       "run.yaml: model.n_expert: unknown field"},
      {"data_dir: d\noptimizer: {schedule: linear}",
       "run.yaml: optimizer.schedule: must be cosine or wsd, got 'linear'"},
      {"data_dir: d\nmodel: {top_k: 9}",
       "run.yaml: model.top_k: must be in [1, n_experts], got 9"},
      {"steps: 3", "run.yaml: data_dir: required"},
      {"data_dir: d\neval_at_tokens: [1, x]",
       "run.yaml: eval_at_tokens[1]: must be an integer, got 'x'"},
  };
  for (const Case& c : cases) {
    StatusOr<worker::TrainOptions> o = ParseTrainConfig(c.yaml, "run.yaml");
    ASSERT_FALSE(o.ok()) << c.yaml;
    EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(o.status().message(), c.message);
  }
}

TEST(TrainCommandTest, TrainsAndPrintsTheCurveWithEvals) {
  testing::TempDir dir;
  std::string text;
  std::mt19937 rng(3);
  for (int i = 0; i < 4000; ++i) text += char('a' + rng() % 8);
  std::ostringstream out, err;
  DataCommandOptions data{{dir.Write("t.txt", text)}, dir.File("data"), 0.1};
  ASSERT_EQ(RunDataCommand(data, out, err), 0) << err.str();
  std::string config = dir.Write("run.yaml", WithDir(dir.File("data")));
  out.str("");
  TrainCommandOptions o{config, 1};
  ASSERT_EQ(RunTrainCommand(o, out, err), 0) << err.str();
  std::string curve = out.str();
  for (const char* step : {"step      1", "step      4"}) {
    EXPECT_NE(curve.find(step), std::string::npos) << curve;
  }
  // Evals after 32 tokens (step 2) and after the last step.
  size_t evals = 0;
  for (size_t at = curve.find("eval "); at != std::string::npos;
       at = curve.find("eval ", at + 1)) {
    ++evals;
  }
  EXPECT_EQ(evals, 2u) << curve;
}

TEST(TrainCommandTest, MissingConfigOrDataExitsTwo) {
  testing::TempDir dir;
  std::ostringstream out, err;
  EXPECT_EQ(RunTrainCommand({dir.File("none.yaml"), 1}, out, err), 2);
  std::string config = dir.Write("run.yaml", WithDir(dir.File("nodata")));
  EXPECT_EQ(RunTrainCommand({config, 1}, out, err), 2);
  EXPECT_NE(err.str().find("train.bin"), std::string::npos) << err.str();
}

}  // namespace
}  // namespace moesweep::cli
