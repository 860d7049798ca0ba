#include <gtest/gtest.h>

#include "worker/worker.h"

namespace moesweep::worker {
namespace {

TEST(ConfigTest, CosineWarmsUpPeaksAndEndsAtTheFloor) {
  OptimizerConfig c;
  c.lr = 1.0f;
  c.min_lr_ratio = 0.1f;
  c.warmup_steps = 4;
  EXPECT_FLOAT_EQ(LearningRate(c, 0, 20), 0.25f);
  EXPECT_FLOAT_EQ(LearningRate(c, 3, 20), 1.0f);
  EXPECT_FLOAT_EQ(LearningRate(c, 4, 20), 1.0f);
  EXPECT_NEAR(LearningRate(c, 19, 20), 0.1f, 1e-6);
  EXPECT_GT(LearningRate(c, 10, 20), LearningRate(c, 11, 20));
}

TEST(ConfigTest, WarmupStableDecayHoldsThenDecaysLinearly) {
  OptimizerConfig c;
  c.schedule = Schedule::kWarmupStableDecay;
  c.lr = 2.0f;
  c.min_lr_ratio = 0.0f;
  c.warmup_steps = 2;
  c.decay_fraction = 0.2f;  // the last 4 of 20 steps
  EXPECT_FLOAT_EQ(LearningRate(c, 1, 20), 2.0f);
  EXPECT_FLOAT_EQ(LearningRate(c, 15, 20), 2.0f);
  EXPECT_FLOAT_EQ(LearningRate(c, 16, 20), 1.5f);
  EXPECT_FLOAT_EQ(LearningRate(c, 19, 20), 0.0f);
}

TEST(ConfigTest, ValidateNamesTheField) {
  ModelConfig m;
  m.granularity = 3;  // 256 % 3 != 0
  Status s = m.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "model.granularity: must divide ffn_hidden, got 3");
  m = ModelConfig();
  m.n_heads = 3;
  EXPECT_EQ(m.Validate().code(), StatusCode::kInvalidArgument);
  OptimizerConfig o;
  o.beta2 = 1.0f;
  EXPECT_NE(o.Validate().message().find("optimizer.beta2"), std::string::npos);
}

TEST(ConfigTest, UpperBoundsNameTheField) {
  ModelConfig m;
  m.d_model = 65537;
  EXPECT_EQ(m.Validate().message(),
            "model.d_model: must be in [2, 65536], got 65537");
  m = ModelConfig();
  m.d_model = 4096;
  m.n_heads = 2048;
  EXPECT_EQ(m.Validate().message(),
            "model.n_heads: must be in [1, 1024], got 2048");
  m = ModelConfig();
  m.n_experts = 1024;
  m.top_k = 257;
  EXPECT_EQ(m.Validate().message(),
            "model.top_k: must be at most 256, got 257");
  m = ModelConfig();
  m.seq_len = (1 << 17) + 1;
  EXPECT_EQ(m.Validate().code(), StatusCode::kInvalidArgument);
  TrainOptions t;
  t.batch_size = 65537;
  EXPECT_EQ(t.Validate().message(),
            "batch_size: must be in [1, 65536], got 65537");
}

TEST(ConfigTest, GpusNeedTheCudaBackendAndABatchTheyCanShare) {
  TrainOptions t;
  t.batch_size = 8;
  t.gpus = 2;
  EXPECT_EQ(t.Validate().message(),
            "gpus: more than 1 needs backend: cuda, got 2");
  t.backend = TrainBackend::kCuda;
  EXPECT_TRUE(t.Validate().ok());
  t.gpus = 3;
  EXPECT_EQ(t.Validate().message(),
            "batch_size: must be a multiple of gpus (3), got 8");
  t.gpus = 0;
  EXPECT_EQ(t.Validate().message(), "gpus: must be in [1, 16], got 0");
  t.gpus = kMaxGpus + 1;
  EXPECT_EQ(t.Validate().code(), StatusCode::kInvalidArgument);
}

TEST(ConfigTest, Bf16MatmulsNeedTheCudaBackend) {
  TrainOptions t;
  t.matmul = MatmulMath::kBf16;
  EXPECT_EQ(t.Validate().message(),
            "matmul: bf16 needs backend: cuda (the CPU computes in fp32)");
  t.backend = TrainBackend::kCuda;
  EXPECT_TRUE(t.Validate().ok());
}

TEST(ConfigTest, BenchModelCountsMatchBenchMd) {
  // BENCH.md: vocab 256, d_model 128, 4 layers, 8 experts top-2, expert
  // hidden 256: 3.51M total, 1.15M active parameters, ~8.1 MFLOP a token.
  // Its counts include learned positions (seq 256 x 128 = 32,768), which
  // the RoPE model has not: per layer 4 C^2 + 2 C + E C + 8 x 3 C H.
  ModelConfig m;
  EXPECT_EQ(m.TotalParameters() + 256 * 128, 3511424);
  EXPECT_EQ(m.ActiveParameters() + 256 * 128, 1152128);
  EXPECT_NEAR(m.TrainingFlopsPerToken(), 8.1e6, 0.2e6);
}

}  // namespace
}  // namespace moesweep::worker
