#include "worker/trainer/backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "tests/testing/small_models.h"
#include "worker/trainer/model.h"
#include "worker/worker.h"

namespace moesweep::worker {
namespace {

bool HaveGpu() {
  std::string why;
  return kernels::CudaDeviceCount(&why) > 0;
}

ModelConfig SmallMoe() { return testing::SmallMoeConfig(); }

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

// Replay's contract on the CPU: the body runs (once a call: nothing is
// captured), and a host copy or an allocation inside it aborts as a CUDA
// capture would, so a training step that could not be captured fails here,
// without a GPU.
TEST(BackendTest, ReplayRunsItsBodyAndRefusesHostCopiesInsideIt) {
  auto cpu = Backend::Cpu(1);
  float* buffer = static_cast<float*>(cpu->Alloc(sizeof(float)));
  int runs = 0;
  cpu->Replay(3, [&] { ++runs; });
  cpu->Replay(3, [&] { ++runs; });
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(cpu->graphs(), 0);
  const float one = 1;
  cpu->Upload(buffer, &one, sizeof one);  // outside a body: fine
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(cpu->Replay(0, [&] { cpu->Upload(buffer, &one, sizeof one); }),
               "Upload inside Backend::Replay");
  float out = 0;
  EXPECT_DEATH(cpu->Replay(0, [&] { cpu->Download(&out, buffer, sizeof out); }),
               "Download inside Backend::Replay");
  EXPECT_DEATH(cpu->Replay(0, [&] { cpu->Alloc(sizeof(float)); }),
               "Alloc inside Backend::Replay");
  cpu->Free(buffer);
}

// The CUDA model step against the CPU one, op by op and as CUDA graphs, is
// tests/gpu/model_gpu_test (scripts/gpu-check runs it); here the trainer's
// loop on the CUDA backend. Needs a GPU.
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
