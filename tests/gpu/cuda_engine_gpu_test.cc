// kernels/cuda_engine.cu and cuda_group.cu: memory round trips and fills,
// CUDA graph capture and replay, the bf16 peak, and the NCCL all-reduce.

#include "tests/gpu/gpu_testing.h"

namespace moesweep::gpu_testing {
namespace {

void RoundTrip(Env& env) {
  auto host = Uniform(env.rng, 12345);
  DeviceVector<float> d(env, host);
  ExpectClose(env, d.Host(), host, 0, 0, "copy there and back");
}

void FillWritesEveryByte(Env& env) {
  DeviceVector<int32_t> d(env, std::vector<int32_t>(1000, 7));
  env.engine->Fill(d.get(), 0, sizeof(int32_t) * 1000);
  ExpectClose(env, d.Host(), std::vector<int32_t>(1000, 0), 0, 0, "zeroed");
  d.Poison();
  ExpectClose(env, d.Host(), std::vector<int32_t>(1000, -1), 0, 0, "poisoned");
}

void DescribeNamesTheDevice(Env& env) {
  std::string d = env.engine->Describe();
  Expect(
      env,
      d.find("sm_") != std::string::npos && d.find("SMs") != std::string::npos,
      "Describe() = '" + d + "' names the architecture and SM count");
}

// A captured graph replays its ops on their buffers' current contents:
// captured once, launched twice, it gives what the ops give run eagerly.
void CaptureReplaysTheOpsOnNewInputs(Env& env) {
  const size_t n = 4099;
  auto a = Uniform(env.rng, n), b = Uniform(env.rng, n);
  DeviceVector<float> d_a(env, a), d_b(env, b), d_out(env, n);
  size_t graph = env.engine->Capture([&] {
    kernels::cuda::add_forward(env.ctx, d_out.get(), d_a.get(), d_b.get(), n);
    kernels::cuda::add_forward(env.ctx, d_out.get(), d_out.get(), d_b.get(), n);
  });
  // Capturing ran nothing: the output still holds its NaN poison.
  bool untouched = true;
  for (float x : d_out.Host()) untouched = untouched && std::isnan(x);
  Expect(env, untouched, "the capture ran nothing");
  for (int launch = 0; launch < 2; ++launch) {
    auto next = Uniform(env.rng, n);
    env.engine->CopyToDevice(d_a.get(), next.data(), sizeof(float) * n);
    env.engine->Launch(graph);
    std::vector<float> expected(n);
    for (size_t i = 0; i < n; ++i) expected[i] = (next[i] + b[i]) + b[i];
    ExpectClose(env, d_out.Host(), expected, 0, 0,
                "launch " + std::to_string(launch));
  }
}

void PeakIsAHopperOrAmpereFigure(Env& env) {
  double peak = env.engine->PeakBf16Flops();
  // A100 312 TFLOP/s, H100/H200 SXM 989 at their boost clocks.
  Expect(env, peak == 0 || (peak > 1e14 && peak < 3e15),
         "PeakBf16Flops() = " + std::to_string(peak));
}

// Over every visible GPU (one alone still runs NCCL's init and call): each
// buffer becomes the elementwise sum of all of them.
void AllReduceSumsAcrossEveryGpu(Env& env) {
  std::string why;
  const int gpus = kernels::CudaDeviceCount(&why);
  std::vector<std::unique_ptr<kernels::CudaEngine>> engines;
  std::vector<kernels::CudaEngine*> raw;
  for (int g = 0; g < gpus; ++g) {
    std::string error;
    engines.push_back(kernels::CudaEngine::Create(g, &error));
    if (engines.back() == nullptr) {
      Expect(env, false, "engine on GPU " + std::to_string(g) + ": " + error);
      return;
    }
    raw.push_back(engines.back().get());
  }
  std::string error;
  auto group = kernels::CudaGroup::Create(raw, &error);
  if (group == nullptr) {
    Expect(env, false,
           "CudaGroup over " + std::to_string(gpus) + " GPUs: " + error);
    return;
  }
  const size_t n = 100003;
  std::vector<std::vector<float>> host;
  std::vector<float*> buffers;
  std::vector<float> expected(n, 0.0f);
  for (int g = 0; g < gpus; ++g) {
    host.push_back(Uniform(env.rng, n));
    for (size_t i = 0; i < n; ++i) expected[i] += host[g][i];
    buffers.push_back(static_cast<float*>(raw[g]->Alloc(sizeof(float) * n)));
    raw[g]->CopyToDevice(buffers[g], host[g].data(), sizeof(float) * n);
  }
  group->AllReduceSum(buffers, n);
  for (int g = 0; g < gpus; ++g) {
    std::vector<float> got(n);
    raw[g]->CopyToHost(got.data(), buffers[g], sizeof(float) * n);
    // NCCL sums in its own order: float rounding apart.
    ExpectClose(env, got, expected, 1e-6, 1e-6,
                "GPU " + std::to_string(g) + " of " + std::to_string(gpus));
    raw[g]->Free(buffers[g]);
  }
  std::printf("  all-reduce over %d GPU(s)\n", gpus);
}

}  // namespace
}  // namespace moesweep::gpu_testing

int main() {
  using namespace moesweep::gpu_testing;
  return RunAll(
      "cuda_engine_gpu_test",
      {{"RoundTrip", RoundTrip},
       {"FillWritesEveryByte", FillWritesEveryByte},
       {"DescribeNamesTheDevice", DescribeNamesTheDevice},
       {"CaptureReplaysTheOpsOnNewInputs", CaptureReplaysTheOpsOnNewInputs},
       {"PeakIsAHopperOrAmpereFigure", PeakIsAHopperOrAmpereFigure},
       {"AllReduceSumsAcrossEveryGpu", AllReduceSumsAcrossEveryGpu}});
}
