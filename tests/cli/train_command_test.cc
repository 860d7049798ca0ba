#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "cli/commands.h"
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
