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
// ref=<dense TFLOP/s> ratio=<v/r> goal=0.8`; higher is better.
//
// Then whole training steps (Model::TrainStep on the CUDA backend, one CUDA
// graph a step) of three MoE models, 8 experts top-2, 8 x 1024 tokens a
// step, with bf16 tensor-core matmuls and in fp32: model FLOP utilisation,
// the trainer's FLOPs a token (fitter/arch's count, what the coordinator
// prices runs by) times tokens/s over the GPU's dense bf16 peak
// (`train_mfu_<size> value=<MFU> ref=1 goal=0.4`, bf16), and tokens/s
// against the same model in PyTorch eager on the same GPU, under
// torch.autocast(bf16) and in fp32 (bench/trainer/torch_reference.py
// --device cuda, run after ours has freed the GPU;
// `train_tokens_per_s_<size>_<bf16|fp32>_of_torch ... goal=1.5`). PyTorch is
// found as `python3` on the PATH, or $MOESWEEP_PYTHON.
//
// Where no GPU is present it says so and measures nothing.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "worker/trainer/model.h"

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

// The grouped GEMM of each granularity against one dense GEMM.
void GroupedGemms(k::CudaEngine* engine) {
  std::printf("bench kernels: %s, %d tokens, width %d\n",
              engine->Describe().c_str(), kTokens, kWidth);
  k::Context ctx;
  ctx.cuda = engine;
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
}

struct Size {
  const char* name;
  int d_model, n_layers, n_heads, expert_hidden;
};
constexpr int kVocab = 32768, kSeq = 1024, kBatch = 8, kExperts = 8, kTopK = 2;

moesweep::worker::ModelConfig ConfigOf(const Size& size) {
  moesweep::worker::ModelConfig c;
  c.vocab_size = kVocab;
  c.d_model = size.d_model;
  c.n_layers = size.n_layers;
  c.n_heads = size.n_heads;
  c.seq_len = kSeq;
  c.n_experts = kExperts;
  c.top_k = kTopK;
  c.ffn_hidden = size.expert_hidden;
  c.granularity = 1;
  c.n_shared_experts = 0;
  c.aux_loss_coef = 0.01f;  // as torch_reference.py
  c.z_loss_coef = 0.001f;
  return c;
}

// Seconds a training step takes: the median of up to 5 steps after two
// (the first captures the graph), fewer where they pass 30 s.
double StepSeconds(const moesweep::worker::ModelConfig& config,
                   k::MatmulPrecision precision) {
  namespace w = moesweep::worker;
  auto backend = w::Backend::Cuda(0);
  if (!backend.ok()) {
    std::fprintf(stderr, "bench kernels: %s\n",
                 backend.status().ToString().c_str());
    std::exit(1);
  }
  (*backend)->ctx().cuda->set_matmul_precision(precision);
  w::Model model(config, kBatch, std::move(*backend));
  model.Init(1);
  std::mt19937 rng(2);
  std::vector<int32_t> tokens(size_t(kBatch) * kSeq), targets(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = int32_t(rng() % kVocab);
    targets[i] = int32_t(rng() % kVocab);
  }
  w::OptimizerConfig opt;
  std::vector<double> times;
  auto begin = std::chrono::steady_clock::now();
  for (int step = 1; step <= 7; ++step) {
    auto start = std::chrono::steady_clock::now();
    model.TrainStep(tokens.data(), targets.data(), kBatch, opt, 1e-4f, step);
    auto end = std::chrono::steady_clock::now();
    if (step > 2)
      times.push_back(std::chrono::duration<double>(end - start).count());
    if (step >= 3 && end - begin > std::chrono::seconds(30)) break;
  }
  return Median(times);
}

// PyTorch eager's tokens/s for the same model on the same GPU; 0, saying
// why, where it cannot run.
double TorchTokensPerSecond(const Size& size, bool bf16) {
  const char* python = std::getenv("MOESWEEP_PYTHON");
  std::string command =
      std::string(python != nullptr ? python : "python3") +
      " " MOESWEEP_SOURCE_DIR
      "/bench/trainer/torch_reference.py --device cuda --threads 4 "
      "--warmup 2 --steps 5 --autocast " +
      std::string(bf16 ? "bf16" : "none") + " --vocab " +
      std::to_string(kVocab) + " --d_model " + std::to_string(size.d_model) +
      " --layers " + std::to_string(size.n_layers) + " --heads " +
      std::to_string(size.n_heads) + " --seq " + std::to_string(kSeq) +
      " --batch " + std::to_string(kBatch) + " --experts " +
      std::to_string(kExperts) + " --top_k " + std::to_string(kTopK) +
      " --expert_hidden " + std::to_string(size.expert_hidden) + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return 0;
  std::string output;
  char line[512];
  while (std::fgets(line, sizeof line, pipe) != nullptr) output += line;
  int status = pclose(pipe);
  size_t at = output.rfind("tokens_per_second=");
  if (status != 0 || at == std::string::npos) {
    std::printf(
        "bench kernels: PyTorch reference did not run (%s): %s\n",
        command.c_str(),
        output.substr(output.size() > 400 ? output.size() - 400 : 0).c_str());
    return 0;
  }
  return std::atof(output.c_str() + at + 18);
}

void TrainingSteps(double peak) {
  for (const Size& size :
       {Size{"s", 512, 8, 8, 1024}, Size{"m", 768, 12, 12, 2048},
        Size{"l", 1024, 16, 16, 2048}}) {
    const moesweep::worker::ModelConfig config = ConfigOf(size);
    const double tokens = double(kBatch) * kSeq;
    const double bf16 = tokens / StepSeconds(config, k::MatmulPrecision::kBf16);
    const double fp32 = tokens / StepSeconds(config, k::MatmulPrecision::kFp32);
    const double flops = config.TrainingFlopsPerToken();
    std::printf(
        "bench kernels: model %s, d_model %d, %d layers, %lld active "
        "parameters, %.3g training FLOPs a token; fp32 matmuls: %.0f "
        "tokens/s, MFU %.4f\n",
        size.name, size.d_model, size.n_layers,
        static_cast<long long>(config.ActiveParameters()), flops, fp32,
        fp32 * flops / peak);
    const double mfu = bf16 * flops / peak;
    std::printf(
        "bench kernels train_mfu_%s value=%.4f ref=1 ratio=%.4f "
        "goal=0.4\n",
        size.name, mfu, mfu);
    for (bool half : {true, false}) {
      const double ours = half ? bf16 : fp32;
      const double torch = TorchTokensPerSecond(size, half);
      std::printf(
          "bench kernels train_tokens_per_s_%s_%s_of_torch value=%.0f "
          "ref=%.0f ratio=%.3f goal=1.5\n",
          size.name, half ? "bf16" : "fp32", ours, torch,
          torch > 0 ? ours / torch : 0.0);
    }
  }
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
  GroupedGemms(engine.get());
  const double peak = engine->PeakBf16Flops();
  engine.reset();  // the models open their own
  if (peak <= 0) {
    std::printf(
        "bench kernels: no bf16 tensor-core peak for this GPU; no MFU\n");
    return 0;
  }
  std::printf("bench kernels: dense bf16 peak %.0f TFLOP/s\n", peak / 1e12);
  TrainingSteps(peak);
  return 0;
}
