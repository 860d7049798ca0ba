#include "worker/trainer/backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "worker/trainer/model.h"
#include "worker/worker.h"

namespace moesweep::worker {
namespace {

bool HaveGpu() {
  std::string why;
  return kernels::CudaDeviceCount(&why) > 0;
}

ModelConfig SmallMoe() {
  ModelConfig c;
  c.vocab_size = 256;
  c.d_model = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.seq_len = 32;
  c.n_experts = 8;
  c.top_k = 2;
  c.ffn_hidden = 128;
  c.granularity = 2;
  c.n_shared_experts = 1;
  c.aux_loss_coef = 0.01f;
  c.z_loss_coef = 0.001f;
  return c;
}

TEST(BackendTest, CpuBuffersStartZeroedAndRoundTrip) {
  auto cpu = Backend::Cpu(2);
  EXPECT_TRUE(cpu->host_memory());
  EXPECT_EQ(cpu->Describe(), "cpu, 2 threads");
  const size_t n = 1000;
  auto* buffer = static_cast<float*>(cpu->Alloc(sizeof(float) * n));
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(buffer[i], 0.0f) << i;
  std::vector<float> in(n), out(n, -1.0f);
  for (size_t i = 0; i < n; ++i) in[i] = float(i) * 0.5f;
  cpu->Upload(buffer, in.data(), sizeof(float) * n);
  cpu->Download(out.data(), buffer, sizeof(float) * n);
  EXPECT_EQ(out, in);
  cpu->Zero(buffer + 10, sizeof(float) * 5);
  cpu->Download(out.data(), buffer, sizeof(float) * n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(out[i], i >= 10 && i < 15 ? 0.0f : in[i]) << i;
  }
  cpu->Free(buffer);
}

TEST(BackendTest, CpuRunsEveryOpOfKernelsCpu) {
  auto cpu = Backend::Cpu(1);
  const Ops& ops = cpu->ops();
#define MOESWEEP_EXPECT_CPU_OP(name) \
  EXPECT_EQ(ops.name, &kernels::cpu::name) << #name;
  MOESWEEP_TRAINER_OPS(MOESWEEP_EXPECT_CPU_OP)
#undef MOESWEEP_EXPECT_CPU_OP
  EXPECT_NE(cpu->ctx().pool, nullptr);
  EXPECT_EQ(cpu->ctx().cuda, nullptr);
}

TEST(BackendTest, CudaWithoutAGpuIsRefusedNamingWhy) {
  std::string why;
  if (kernels::CudaDeviceCount(&why) > 0) {
    GTEST_SKIP() << "a GPU is present, so CUDA is not refused here; "
                    "AModelStepOnTheGpuMatchesTheCpu and "
                    "TenGpuStepsFollowTheCpuLossCurve test it instead";
  }
  StatusOr<std::unique_ptr<Backend>> cuda = Backend::Cuda(0);
  ASSERT_FALSE(cuda.ok());
  EXPECT_EQ(cuda.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(cuda.status().message().empty());
  EXPECT_EQ(CheckTrainBackend(TrainBackend::kCuda).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(CheckTrainBackend(TrainBackend::kCpu).ok());
  // The trainer refuses it the same way, before touching any data.
  TrainOptions o;
  o.model = SmallMoe();
  o.backend = TrainBackend::kCuda;
  ASSERT_TRUE(o.Validate().ok());
  TokenShard shard{256, std::vector<uint16_t>(5000, 7)};
  auto trainer = Trainer::Create(o, shard, shard);
  EXPECT_EQ(trainer.status().code(), StatusCode::kFailedPrecondition);
}

// The CUDA backend against the CPU one (STYLE.md H11): one model step, and
// a ten-step loss curve from the same seed. These need a GPU.
TEST(BackendTest, AModelStepOnTheGpuMatchesTheCpu) {
  if (!HaveGpu()) GTEST_SKIP() << "no GPU: the CUDA backend needs one";
  const ModelConfig config = SmallMoe();
  ASSERT_TRUE(config.Validate().ok());
  const int B = 4, N = B * config.seq_len;
  auto cuda = Backend::Cuda(0);
  ASSERT_TRUE(cuda.ok()) << cuda.status().ToString();
  Model gpu(config, B, std::move(*cuda));
  Model cpu(config, B, 2);
  std::mt19937 rng(uint32_t(::testing::UnitTest::GetInstance()->random_seed()));
  uint64_t seed = rng();
  gpu.Init(seed);
  cpu.Init(seed);
  std::vector<int32_t> tokens(N), targets(N);
  for (int n = 0; n < N; ++n) {
    tokens[n] = int32_t(rng() % 256);
    targets[n] = int32_t(rng() % 256);
  }
  Losses lg = gpu.Forward(tokens.data(), targets.data(), B);
  Losses lc = cpu.Forward(tokens.data(), targets.data(), B);
  EXPECT_NEAR(lg.ce, lc.ce, 1e-5 * lc.ce);
  EXPECT_NEAR(lg.aux, lc.aux, 1e-5 * lc.aux + 1e-7);
  EXPECT_NEAR(lg.z, lc.z, 1e-5 * lc.z + 1e-7);
  EXPECT_EQ(gpu.Routing(), cpu.Routing());
  gpu.ZeroGrad();
  cpu.ZeroGrad();
  gpu.Backward();
  cpu.Backward();
  std::vector<float> gg = gpu.Gradients(), gc = cpu.Gradients();
  ASSERT_EQ(gg.size(), gc.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < gc.size(); ++i) {
    diff += (gg[i] - gc[i]) * double(gg[i] - gc[i]);
    norm += double(gc[i]) * gc[i];
  }
  EXPECT_LT(std::sqrt(diff / norm), 1e-4) << "relative gradient difference";
}

TEST(BackendTest, TenGpuStepsFollowTheCpuLossCurve) {
  if (!HaveGpu()) GTEST_SKIP() << "no GPU: the CUDA backend needs one";
  TrainOptions o;
  o.model = SmallMoe();
  o.optimizer.lr = 3e-3f;
  o.optimizer.warmup_steps = 3;
  o.batch_size = 8;
  o.steps = 10;
  o.threads = 2;
  o.eval_tokens = 4096;
  std::mt19937 rng(5);
  TokenShard train{256, {}}, val{256, {}};
  for (int i = 0; i < 40000; ++i) train.tokens.push_back(uint16_t(rng() % 256));
  for (int i = 0; i < 9000; ++i) val.tokens.push_back(uint16_t(rng() % 256));
  auto curve = [&](TrainBackend backend) {
    o.backend = backend;
    auto t = Trainer::Create(o, train, val);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    std::vector<float> losses;
    while (!(*t)->Done()) losses.push_back((*t)->Step()->loss);
    return losses;
  };
  std::vector<float> gpu = curve(TrainBackend::kCuda),
                     cpu = curve(TrainBackend::kCpu);
  ASSERT_EQ(gpu.size(), cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    EXPECT_NEAR(gpu[i], cpu[i], 1e-3 * cpu[i]) << "step " << i + 1;
  }
}

}  // namespace
}  // namespace moesweep::worker
