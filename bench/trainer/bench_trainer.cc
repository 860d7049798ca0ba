// bench_trainer: training tokens/s of the fixed MoE model of issue 7 (vocab
// 256, d_model 128, 4 layers, 4 heads, seq 256, batch 8, 8 experts top-2,
// expert hidden 256) against the same model in PyTorch on CPU
// (bench/trainer/torch_reference.py under Debian's /usr/bin/python3, same
// thread count, OMP_WAIT_POLICY=PASSIVE; BENCH.md), and achieved FLOP/s as a
// fraction of one 1024^3 fp32 GEMM's FLOP/s, all measured in the same run.
// Medians over the measured steps (after warm-up steps) of rounds in which
// the two sides take turns.
//
// Prints `bench trainer <metric> value=<v> ref=<r> ratio=<v/r> goal=<g>`;
// higher ratio is better.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#ifdef MOESWEEP_BENCH_OPENBLAS
#include <cblas.h>
#endif

#include "kernels/kernels.h"
#include "worker/worker.h"

namespace {

constexpr int kWarmupSteps = 3;
constexpr int kMeasuredSteps = 10;
// Ours and PyTorch take turns, kRounds times each, so a burst of load from
// another process on this shared machine hits both sides alike.
constexpr int kRounds = 3;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void Print(const std::string& metric, double value, double ref, double goal) {
  std::printf("bench trainer %s value=%.6g ref=%.6g ratio=%.6g goal=%g\n",
              metric.c_str(), value, ref, value / ref, goal);
}

// FLOP/s of one 1024^3 fp32 GEMM, median of 5 after a warm-up: the better
// of our pooled matmul (each thread a single-threaded GEMM on its rows) and,
// when the build found OpenBLAS, OpenBLAS with its own `threads` threads.
double GemmFlops(int threads, std::string* which) {
  const int n = 1024;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> a(size_t(n) * n), b(size_t(n) * n), c(size_t(n) * n);
  for (float& x : a) x = dist(rng);
  for (float& x : b) x = dist(rng);
  auto time = [&](auto&& gemm) {
    std::vector<double> seconds;
    for (int i = 0; i < 6; ++i) {
      auto start = std::chrono::steady_clock::now();
      gemm();
      std::chrono::duration<double> s =
          std::chrono::steady_clock::now() - start;
      if (i > 0) seconds.push_back(s.count());
    }
    return 2.0 * n * n * n / Median(seconds);
  };
  moesweep::kernels::ThreadPool pool(threads);
  moesweep::kernels::Context ctx{&pool};
  double best = time([&] {
    moesweep::kernels::cpu::matmul_forward(ctx, c.data(), a.data(), b.data(), n,
                                           n, n);
  });
  *which = "pooled matmul";
#ifdef MOESWEEP_BENCH_OPENBLAS
  openblas_set_num_threads(threads);
  double openblas = time([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f,
                a.data(), n, b.data(), n, 0.0f, c.data(), n);
  });
  openblas_set_num_threads(1);
  if (openblas > best) {
    best = openblas;
    *which = "OpenBLAS sgemm, its own threads";
  }
#endif
  return best;
}

// Tokens/s of the PyTorch reference; 0 when it cannot run.
double TorchTokensPerSecond(int threads) {
  std::string cmd =
      "OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 " MOESWEEP_SOURCE_DIR
      "/bench/trainer/torch_reference.py --threads " +
      std::to_string(threads) + " --warmup " + std::to_string(kWarmupSteps) +
      " --steps " + std::to_string(kMeasuredSteps) + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return 0;
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  int rc = pclose(pipe);
  size_t at = output.find("tokens_per_second=");
  if (rc != 0 || at == std::string::npos) {
    std::cout << "bench trainer: the PyTorch reference did not run ("
              << "install python3-torch with scripts/setup-bench): "
              << output.substr(0, 300) << "\n";
    return 0;
  }
  return std::stod(output.substr(at + 18));
}

}  // namespace

int main() {
  using moesweep::worker::TrainOptions;
  const int threads = moesweep::kernels::HardwareThreads();
  TrainOptions o;  // the defaults are the fixed model
  o.batch_size = 8;
  o.steps = kWarmupSteps + kRounds * kMeasuredSteps;
  o.threads = threads;
  o.eval_tokens = o.model.seq_len + 1;
  moesweep::worker::TokenShard train, val;
  std::mt19937 rng(1);
  for (int i = 0; i < 1 << 20; ++i)
    train.tokens.push_back(uint16_t(rng() % 256));
  val.tokens.assign(train.tokens.begin(), train.tokens.begin() + 4096);
  auto trainer = moesweep::worker::Trainer::Create(o, train, val);
  if (!trainer.ok()) {
    std::cerr << trainer.status().ToString() << "\n";
    return 1;
  }
  std::cout << "bench trainer: " << threads << " threads, GEMM "
            << moesweep::kernels::GemmBackend() << ", "
            << o.model.TotalParameters() << " parameters ("
            << o.model.ActiveParameters() << " active), "
            << o.model.TrainingFlopsPerToken() / 1e6 << " MFLOP/token\n";
  std::vector<double> step_seconds, torch_runs;
  for (int round = 0; round < kRounds; ++round) {
    int steps = kMeasuredSteps + (round == 0 ? kWarmupSteps : 0);
    for (int i = 0; i < steps; ++i) {
      auto report = (*trainer)->Step();
      if (!report.ok()) {
        std::cerr << report.status().ToString() << "\n";
        return 1;
      }
      if (report->step > kWarmupSteps) step_seconds.push_back(report->seconds);
    }
    double torch_run = TorchTokensPerSecond(threads);
    if (torch_run <= 0) break;
    torch_runs.push_back(torch_run);
  }
  const double tokens_per_step = double(o.batch_size) * o.model.seq_len;
  const double ours = tokens_per_step / Median(step_seconds);
  const double torch = torch_runs.empty() ? 0 : Median(torch_runs);
  if (torch > 0) {
    Print("tokens_per_second_vs_torch", ours, torch, 2);
  } else {
    std::cout << "bench trainer tokens_per_second value=" << ours
              << " (no PyTorch reference: no ratio)\n";
  }
  std::string gemm_source;
  const double gemm = GemmFlops(threads, &gemm_source);
  std::cout << "bench trainer: GEMM ceiling from " << gemm_source
            << "; FLOPs count causal attention in full\n";
  Print("flops_fraction_of_gemm", ours * o.model.TrainingFlopsPerToken(), gemm,
        0.5);
  return 0;
}
