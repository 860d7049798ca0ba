// The trainer's model on the CUDA backend against the CPU one (STYLE.md
// H11): one step's losses, routing and gradients; steps replayed as CUDA
// graphs against the same steps run eagerly and on the CPU; a ten-step loss
// curve; data parallel over two GPUs against one (where two are present). Built
// with kernels/ and the model alone, so scripts/gpu-check runs it on a GPU
// machine with no gtest.

#include <memory>

#include "tests/gpu/gpu_testing.h"
#include "tests/testing/small_models.h"
#include "worker/trainer/model.h"
#include "worker/trainer/replicas.h"

namespace moesweep::gpu_testing {
namespace {

using worker::Backend;
using worker::Model;
using worker::ModelConfig;

ModelConfig SmallMoe(int experts) {
  return moesweep::testing::SmallMoeConfig(experts);
}

std::unique_ptr<Model> GpuModel(Env& env, const ModelConfig& c, int B,
                                bool graphs) {
  auto backend = Backend::Cuda(0, graphs);
  if (!backend.ok()) {
    Expect(env, false, "Backend::Cuda: " + backend.status().ToString());
    return nullptr;
  }
  return std::make_unique<Model>(c, B, std::move(*backend));
}

double RelativeDifference(const std::vector<float>& a,
                          const std::vector<float>& b) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    diff += (a[i] - b[i]) * double(a[i] - b[i]);
    norm += double(b[i]) * b[i];
  }
  return std::sqrt(diff / norm);
}

bool Near(double got, double want, double rtol, double atol = 1e-7) {
  return std::fabs(got - want) <= atol + rtol * std::fabs(want);
}

void OneStepMatchesTheCpu(Env& env) {
  const ModelConfig c = SmallMoe(8);
  const int B = 4, N = B * c.seq_len;
  auto gpu = GpuModel(env, c, B, false);
  if (gpu == nullptr) return;
  Model cpu(c, B, 2);
  uint64_t seed = env.rng();
  gpu->Init(seed);
  cpu.Init(seed);
  auto tokens = Integers(env.rng, N, c.vocab_size);
  auto targets = Integers(env.rng, N, c.vocab_size);
  worker::Losses lg = gpu->Forward(tokens.data(), targets.data(), B);
  worker::Losses lc = cpu.Forward(tokens.data(), targets.data(), B);
  Expect(env, Near(lg.ce, lc.ce, 1e-5), "ce");
  Expect(env, Near(lg.aux, lc.aux, 1e-5), "aux");
  Expect(env, Near(lg.z, lc.z, 1e-5), "z");
  Expect(env, gpu->Routing() == cpu.Routing(), "routing");
  gpu->ZeroGrad();
  cpu.ZeroGrad();
  gpu->Backward();
  cpu.Backward();
  double rel = RelativeDifference(gpu->Gradients(), cpu.Gradients());
  Expect(env, rel < 1e-4,
         "relative gradient difference " + std::to_string(rel));
}

// Steps with a changing learning rate: the graph bakes in pointers, so a
// replay that missed the new rate (or re-ran stale inputs) drifts from the
// eager GPU run and the CPU run at once.
void GraphStepsMatchEagerStepsAndTheCpu(Env& env, int experts) {
  const ModelConfig c = SmallMoe(experts);
  const int B = 4, N = B * c.seq_len;
  auto graph = GpuModel(env, c, B, true);
  auto eager = GpuModel(env, c, B, false);
  if (graph == nullptr || eager == nullptr) return;
  Model cpu(c, B, 2);
  uint64_t seed = env.rng();
  for (Model* m : {graph.get(), eager.get(), &cpu}) m->Init(seed);
  worker::OptimizerConfig opt;
  opt.grad_clip = 0.5f;  // clips some steps: the norm stays on the device
  for (int step = 1; step <= 4; ++step) {
    // The last step runs half a batch: a second graph.
    const int b = step == 4 ? B / 2 : B;
    auto tokens = Integers(env.rng, N, c.vocab_size);
    auto targets = Integers(env.rng, N, c.vocab_size);
    const float lr = 1e-3f * float(step);
    worker::StepResult rg =
        graph->TrainStep(tokens.data(), targets.data(), b, opt, lr, step);
    worker::StepResult re =
        eager->TrainStep(tokens.data(), targets.data(), b, opt, lr, step);
    worker::StepResult rc =
        cpu.TrainStep(tokens.data(), targets.data(), b, opt, lr, step);
    const std::string at = " at step " + std::to_string(step);
    Expect(env, Near(rg.losses.ce, re.losses.ce, 1e-6), "graph ce" + at);
    Expect(env, Near(rg.grad_norm, re.grad_norm, 1e-5), "graph norm" + at);
    Expect(env, Near(rg.losses.ce, rc.losses.ce, 1e-4), "cpu ce" + at);
    Expect(env, Near(rg.losses.aux, rc.losses.aux, 1e-4), "cpu aux" + at);
    Expect(env, Near(rg.grad_norm, rc.grad_norm, 1e-3), "cpu norm" + at);
  }
  Expect(env, graph->backend().graphs() == 2,
         "two batch sizes, two graphs: captured " +
             std::to_string(graph->backend().graphs()));
  // Evaluation forwards replay a graph of their own, on new inputs each time.
  for (int eval = 0; eval < 2; ++eval) {
    auto tokens = Integers(env.rng, N, c.vocab_size);
    auto targets = Integers(env.rng, N, c.vocab_size);
    float g = graph->Forward(tokens.data(), targets.data(), 3).ce;
    float e = eager->Forward(tokens.data(), targets.data(), 3).ce;
    Expect(env, Near(g, e, 1e-6), "eval forward " + std::to_string(eval));
  }
  Expect(env, graph->backend().graphs() == 3, "the eval forward's graph");
  Expect(env, eager->backend().graphs() == 0, "the eager backend captured");
  auto state = [](const Model& m) {
    std::vector<float> s = m.SaveState();
    s.resize(m.num_params());
    return s;
  };
  double rel = RelativeDifference(state(*graph), state(*eager));
  Expect(env, rel < 1e-5, "graph vs eager parameters " + std::to_string(rel));
  rel = RelativeDifference(state(*graph), state(cpu));
  Expect(env, rel < 1e-4, "graph vs cpu parameters " + std::to_string(rel));
}

void GraphStepsMoe(Env& env) { GraphStepsMatchEagerStepsAndTheCpu(env, 8); }
void GraphStepsDense(Env& env) { GraphStepsMatchEagerStepsAndTheCpu(env, 1); }

// Ten graph-replayed steps against the CPU's curve: fp32 matmuls within
// fp32 rounding, bf16 tensor-core matmuls within bf16's (inputs rounded to
// 8 bits of mantissa, so about 1e-2 on the loss).
void TenStepsFollowTheCpuLossCurve(Env& env, kernels::MatmulPrecision p,
                                   double rtol) {
  const ModelConfig c = SmallMoe(8);
  const int B = 8, N = B * c.seq_len;
  auto gpu = GpuModel(env, c, B, true);
  if (gpu == nullptr) return;
  gpu->backend().ctx().cuda->set_matmul_precision(p);
  Model cpu(c, B, 2);
  gpu->Init(7);
  cpu.Init(7);
  worker::OptimizerConfig opt;
  opt.lr = 3e-3f;
  opt.warmup_steps = 3;
  for (int step = 0; step < 10; ++step) {
    auto tokens = Integers(env.rng, N, c.vocab_size);
    auto targets = tokens;  // a learnable task: copy the input
    float lr = worker::LearningRate(opt, step, 10);
    float g =
        gpu->TrainStep(tokens.data(), targets.data(), B, opt, lr, step + 1)
            .losses.ce;
    float h = cpu.TrainStep(tokens.data(), targets.data(), B, opt, lr, step + 1)
                  .losses.ce;
    Expect(env, Near(g, h, rtol),
           "step " + std::to_string(step + 1) + ": gpu " + std::to_string(g) +
               ", cpu " + std::to_string(h));
  }
}

void TenStepsFp32(Env& env) {
  TenStepsFollowTheCpuLossCurve(env, kernels::MatmulPrecision::kFp32, 1e-3);
}
void TenStepsBf16(Env& env) {
  TenStepsFollowTheCpuLossCurve(env, kernels::MatmulPrecision::kBf16, 2e-2);
}

// Data parallel over two GPUs (NCCL) against one GPU on the whole batch;
// the load-balancing loss off, as each GPU takes it over its own share.
void TwoGpusStepAsOne(Env& env) {
  std::string why;
  const int gpus = kernels::CudaDeviceCount(&why);
  if (gpus < 2) {
    std::printf("  not run: needs 2 GPUs, %d visible\n", gpus);
    return;
  }
  ModelConfig c = SmallMoe(8);
  c.aux_loss_coef = 0;
  const int B = 8, N = B * c.seq_len;
  auto make = [&](int copies) -> std::unique_ptr<worker::Replicas> {
    std::vector<std::unique_ptr<Backend>> backends;
    for (int g = 0; g < copies; ++g) {
      auto backend = Backend::Cuda(g);
      if (!backend.ok()) return nullptr;
      backends.push_back(std::move(*backend));
    }
    auto r = worker::Replicas::Create(c, B, std::move(backends));
    if (!r.ok()) {
      Expect(env, false, "Replicas: " + r.status().ToString());
      return nullptr;
    }
    return std::move(*r);
  };
  auto one = make(1), two = make(2);
  if (one == nullptr || two == nullptr) return;
  one->Init(3);
  two->Init(3);
  worker::OptimizerConfig opt;
  opt.grad_clip = 0.5f;
  for (int step = 1; step <= 3; ++step) {
    auto tokens = Integers(env.rng, N, c.vocab_size);
    auto targets = Integers(env.rng, N, c.vocab_size);
    worker::StepResult a =
        one->TrainStep(tokens.data(), targets.data(), B, opt, 1e-3f, step);
    worker::StepResult b =
        two->TrainStep(tokens.data(), targets.data(), B, opt, 1e-3f, step);
    const std::string at = " at step " + std::to_string(step);
    Expect(env, Near(b.losses.ce, a.losses.ce, 1e-5), "ce" + at);
    Expect(env, Near(b.grad_norm, a.grad_norm, 1e-4), "norm" + at);
    Expect(env, two->copy(1).SaveState() == two->copy(0).SaveState(),
           "the two GPUs' copies differ" + at);
  }
  auto params = [](const worker::Replicas& r) {
    std::vector<float> s = r.SaveState();
    s.resize(r.num_params());
    return s;
  };
  double rel = RelativeDifference(params(*two), params(*one));
  Expect(env, rel < 1e-5, "2 GPUs vs 1, parameters " + std::to_string(rel));
}

// A model too big for the GPU is refused, naming the sizes, before any
// allocation (the CUDA allocator would abort the worker).
void AModelTooBigForTheGpuIsRefused(Env& env) {
  ModelConfig c = SmallMoe(8);
  c.d_model = 32768;
  c.n_heads = 32;
  c.n_layers = 16;  // 2^32 attention parameters a layer: 1 TiB with state
  auto backend = Backend::Cuda(0);
  if (!backend.ok()) {
    Expect(env, false, backend.status().ToString());
    return;
  }
  std::vector<std::unique_ptr<Backend>> backends;
  backends.push_back(std::move(*backend));
  auto replicas = worker::Replicas::Create(c, 1, std::move(backends));
  Expect(env, replicas.status().code() == StatusCode::kResourceExhausted,
         "Create: " + replicas.status().ToString());
}

}  // namespace
}  // namespace moesweep::gpu_testing

int main() {
  using namespace moesweep::gpu_testing;
  return RunAll(
      "model_gpu_test",
      {{"OneStepMatchesTheCpu", OneStepMatchesTheCpu},
       {"GraphStepsMoe", GraphStepsMoe},
       {"GraphStepsDense", GraphStepsDense},
       {"TenStepsFp32FollowTheCpuLossCurve", TenStepsFp32},
       {"TenStepsBf16FollowTheCpuLossCurve", TenStepsBf16},
       {"TwoGpusStepAsOne", TwoGpusStepAsOne},
       {"AModelTooBigForTheGpuIsRefused", AModelTooBigForTheGpuIsRefused}});
}
