#include "worker/trainer/replicas.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace moesweep::worker {
namespace {

ModelConfig Tiny(float aux_coef) {
  ModelConfig c;
  c.vocab_size = 64;
  c.d_model = 16;
  c.n_layers = 2;
  c.n_heads = 2;
  c.seq_len = 8;
  c.n_experts = 4;
  c.top_k = 2;
  c.ffn_hidden = 32;
  c.granularity = 2;
  c.n_shared_experts = 1;
  c.aux_loss_coef = aux_coef;
  c.z_loss_coef = 0.01f;
  c.init_std = 0.1f;
  return c;
}

std::unique_ptr<Replicas> OnCpu(const ModelConfig& c, int batch, int copies) {
  std::vector<std::unique_ptr<Backend>> backends;
  for (int r = 0; r < copies; ++r) backends.push_back(Backend::Cpu(1));
  auto replicas = Replicas::Create(c, batch, std::move(backends));
  EXPECT_TRUE(replicas.ok()) << replicas.status().ToString();
  return replicas.ok() ? std::move(*replicas) : nullptr;
}

std::vector<int32_t> Tokens(std::mt19937& rng, size_t n, int vocab) {
  std::vector<int32_t> v(n);
  for (int32_t& t : v) t = int32_t(rng() % unsigned(vocab));
  return v;
}

void ExpectNearRelative(const std::vector<float>& got,
                        const std::vector<float>& want, double rtol) {
  ASSERT_EQ(got.size(), want.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff += (got[i] - want[i]) * double(got[i] - want[i]);
    norm += double(want[i]) * want[i];
  }
  EXPECT_LT(std::sqrt(diff / norm), rtol);
}

// The data-parallel step is the whole batch's step: each copy's loss / R,
// summed across copies, is the batch mean's gradient. The load-balancing
// loss is the one term each copy takes over its own share (as Megatron's
// does), so it is off here; the z-loss is a token mean and stays on.
TEST(ReplicasTest, CopiesOnSharesOfTheBatchStepAsOneModelOnAllOfIt) {
  const ModelConfig c = Tiny(0.0f);
  const int B = 4, N = B * c.seq_len;
  auto one = OnCpu(c, B, 1);
  auto four = OnCpu(c, B, 4);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(four, nullptr);
  one->Init(9);
  four->Init(9);
  OptimizerConfig opt;
  opt.grad_clip = 0.5f;  // the clip must see the whole batch's norm
  std::mt19937 rng(13);
  for (int step = 1; step <= 3; ++step) {
    auto tokens = Tokens(rng, N, c.vocab_size);
    auto targets = Tokens(rng, N, c.vocab_size);
    const float lr = 1e-2f * float(step);
    StepResult a =
        one->TrainStep(tokens.data(), targets.data(), B, opt, lr, step);
    StepResult b =
        four->TrainStep(tokens.data(), targets.data(), B, opt, lr, step);
    EXPECT_NEAR(b.losses.ce, a.losses.ce, 1e-5 * a.losses.ce) << step;
    EXPECT_NEAR(b.losses.z, a.losses.z, 1e-5 * a.losses.z) << step;
    EXPECT_NEAR(b.grad_norm, a.grad_norm, 1e-4 * a.grad_norm) << step;
    EXPECT_GT(a.grad_norm, opt.grad_clip);
    ExpectNearRelative(four->SaveState(), one->SaveState(), 1e-5);
    // The copies took the same step on the same sum: identical to the bit.
    for (int r = 1; r < four->count(); ++r) {
      EXPECT_EQ(four->copy(r).SaveState(), four->copy(0).SaveState())
          << "copy " << r << " after step " << step;
    }
  }
}

// With the load-balancing loss on, the copies still stay identical (the
// sum is the same everywhere) and the cross-entropy is the whole batch's.
TEST(ReplicasTest, CopiesStayIdenticalWithTheLoadBalancingLossOn) {
  const ModelConfig c = Tiny(0.1f);
  const int B = 2, N = B * c.seq_len;
  auto two = OnCpu(c, B, 2);
  ASSERT_NE(two, nullptr);
  two->Init(5);
  std::mt19937 rng(3);
  OptimizerConfig opt;
  for (int step = 1; step <= 2; ++step) {
    auto tokens = Tokens(rng, N, c.vocab_size);
    auto targets = Tokens(rng, N, c.vocab_size);
    StepResult r =
        two->TrainStep(tokens.data(), targets.data(), B, opt, 3e-3f, step);
    EXPECT_GT(r.losses.aux, 0.0f);
    EXPECT_EQ(two->copy(1).SaveState(), two->copy(0).SaveState());
  }
}

TEST(ReplicasTest, ForwardSplitsAnyBatchAndWeighsCopiesByTheirTokens) {
  const ModelConfig c = Tiny(0.1f);
  const int B = 4, N = B * c.seq_len;
  auto one = OnCpu(c, B, 1);
  auto two = OnCpu(c, B, 2);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  one->Init(2);
  two->Init(2);
  std::mt19937 rng(8);
  auto tokens = Tokens(rng, N, c.vocab_size);
  auto targets = Tokens(rng, N, c.vocab_size);
  for (int b : {1, 3, 4}) {  // 3: shares of 2 and 1 sequences
    Losses a = one->Forward(tokens.data(), targets.data(), b);
    Losses l = two->Forward(tokens.data(), targets.data(), b);
    EXPECT_NEAR(l.ce, a.ce, 1e-5 * a.ce) << "batch " << b;
  }
}

// A trial bigger than its worker's memory fails as a trial, naming the
// sizes, before anything is allocated (here about 4 TiB of parameters,
// gradients and moments).
TEST(ReplicasTest, AModelBiggerThanFreeMemoryIsRefusedBeforeAllocating) {
  ModelConfig c = Tiny(0.01f);
  c.d_model = 65536;
  c.n_heads = 64;
  c.n_layers = 16;
  c.ffn_hidden = 64;
  auto cpu = Backend::Cpu(1);
  ASSERT_LT(cpu->free_bytes(), Model::MemoryBytes(c, 1));
  std::vector<std::unique_ptr<Backend>> backends;
  backends.push_back(std::move(cpu));
  auto replicas = Replicas::Create(c, 1, std::move(backends));
  ASSERT_EQ(replicas.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(replicas.status().message().find("the model needs "),
            std::string::npos);
  EXPECT_NE(replicas.status().message().find(" free"), std::string::npos)
      << replicas.status().message();
}

// Every dimension at its bound: the sizes saturate instead of wrapping
// round to something small, and the model is refused as too big.
TEST(ReplicasTest, TheLargestValidModelMeasuresAsTooBigWithoutWrapping) {
  ModelConfig c;
  c.vocab_size = 65536;
  c.d_model = 1 << 16;
  c.n_layers = 1 << 10;
  c.n_heads = 1 << 10;
  c.seq_len = 1 << 17;
  c.n_experts = 1 << 14;
  c.top_k = 256;
  c.ffn_hidden = 1 << 20;
  c.n_shared_experts = 64;
  ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  EXPECT_GT(c.TotalParameters(), int64_t(1) << 59);
  EXPECT_EQ(Model::MemoryBytes(c, 1 << 16), SIZE_MAX);
  std::vector<std::unique_ptr<Backend>> backends;
  backends.push_back(Backend::Cpu(1));
  auto replicas = Replicas::Create(c, 1 << 16, std::move(backends));
  EXPECT_EQ(replicas.status().code(), StatusCode::kResourceExhausted);
}

TEST(ReplicasTest, CreateRefusesABatchTheCopiesCannotShare) {
  std::vector<std::unique_ptr<Backend>> backends;
  for (int r = 0; r < 3; ++r) backends.push_back(Backend::Cpu(1));
  auto replicas = Replicas::Create(Tiny(0), 4, std::move(backends));
  EXPECT_EQ(replicas.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(replicas.status().message(),
            "batch_size 4 is not a multiple of the 3 replicas");
  EXPECT_EQ(Replicas::Create(Tiny(0), 4, {}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::worker
