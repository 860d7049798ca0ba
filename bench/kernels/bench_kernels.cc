// bench_kernels: the grouped expert GEMM (kernels/matmul.cu) against one
// dense cuBLASLt GEMM of the same total shape, measured in the same run, for
// granularities 1 to 16 (STYLE.md H10: the ceiling measured beside the
// kernel).
//
// The MoE layer of each granularity G splits 8 experts of hidden width 4d
// into 8G experts of width 4d/G with top-G routing (Krajewski et al. 2024),
// so the routed matrix has N*G rows of width d going to 2*4d/G outputs; the
// same [N*G, d] x [d, 8d/G] product as one dense GEMM is the reference.
// Tokens go to experts uniformly at random, the segments uneven as a router
// makes them. fp32 in, fp32 accumulation on both sides.
//
// Prints `bench kernels grouped_gemm_g<G>_of_dense value=<grouped TFLOP/s>
// ref=<dense TFLOP/s> ratio=<v/r> goal=0.8`; higher is better. Where no GPU
// is present it says so and measures nothing.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace {

namespace k = moesweep::kernels;

constexpr int kTokens = 8192, kWidth = 1024, kRepeats = 10, kRounds = 5;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Seconds a call of f takes: the median over kRounds of kRepeats calls
// between two stream synchronisations, after one warm-up call.
template <typename F>
double Time(k::CudaEngine& engine, F&& f) {
  f();
  engine.Synchronize();
  std::vector<double> rounds;
  for (int r = 0; r < kRounds; ++r) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRepeats; ++i) f();
    engine.Synchronize();
    std::chrono::duration<double> took =
        std::chrono::steady_clock::now() - start;
    rounds.push_back(took.count() / kRepeats);
  }
  return Median(rounds);
}

float* Random(k::CudaEngine& engine, std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> host(n);
  for (float& x : host) x = dist(rng);
  auto* d = static_cast<float*>(engine.Alloc(sizeof(float) * n));
  engine.CopyToDevice(d, host.data(), sizeof(float) * n);
  return d;
}

}  // namespace

int main() {
  std::string why;
  if (k::CudaDeviceCount(&why) == 0) {
    std::printf("bench kernels: no GPU present (%s); nothing measured\n",
                why.c_str());
    return 0;
  }
  std::string error;
  auto engine = k::CudaEngine::Create(0, &error);
  if (engine == nullptr) {
    std::fprintf(stderr, "bench kernels: %s\n", error.c_str());
    return 1;
  }
  std::printf("bench kernels: %s, %d tokens, width %d\n",
              engine->Describe().c_str(), kTokens, kWidth);
  k::Context ctx;
  ctx.cuda = engine.get();
  std::mt19937 rng(1);
  for (int G : {1, 2, 4, 8, 16}) {
    const int E = 8 * G, M = kTokens * G, I = kWidth, O = 8 * kWidth / G;
    std::vector<int32_t> offsets(E + 1, 0);
    for (int m = 0; m < M; ++m) ++offsets[1 + rng() % E];
    for (int e = 0; e < E; ++e) offsets[e + 1] += offsets[e];
    auto* d_offsets =
        static_cast<int32_t*>(engine->Alloc(sizeof(int32_t) * (E + 1)));
    engine->CopyToDevice(d_offsets, offsets.data(), sizeof(int32_t) * (E + 1));
    float* inp = Random(*engine, rng, size_t(M) * I);
    float* weight = Random(*engine, rng, size_t(E) * O * I);
    float* out = static_cast<float*>(engine->Alloc(sizeof(float) * M * O));
    double grouped = Time(*engine, [&] {
      k::cuda::expert_matmul_forward(ctx, out, inp, weight, d_offsets, M, E, I,
                                     O);
    });
    double dense = Time(*engine, [&] {
      k::cuda::matmul_forward(ctx, out, inp, weight, M, I, O);
    });
    double flops = 2.0 * M * I * O;
    double v = flops / grouped / 1e12, r = flops / dense / 1e12;
    std::printf(
        "bench kernels grouped_gemm_g%d_of_dense value=%.2f ref=%.2f "
        "ratio=%.3f goal=0.8\n",
        G, v, r, v / r);
    engine->Free(out);
    engine->Free(weight);
    engine->Free(inp);
    engine->Free(d_offsets);
  }
  return 0;
}
