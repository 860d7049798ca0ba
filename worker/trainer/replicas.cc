// Replicas: the data-parallel step and the gradient all-reduce.

#include "worker/trainer/replicas.h"

#include <cassert>
#include <cstdint>
#include <cstdio>
#include <string>

namespace moesweep::worker {

// The NCCL communicators, where the build has CUDA (the CudaGroup code is
// linked only then).
struct Replicas::Group {
#ifdef MOESWEEP_TRAINER_CUDA
  std::unique_ptr<kernels::CudaGroup> nccl;
#endif
};

size_t Replicas::MemoryNeeded(const ModelConfig& config, int max_batch,
                              int copies) {
  const size_t need = Model::MemoryBytes(config, max_batch / copies);
  return need > SIZE_MAX - kMemoryHeadroomBytes ? SIZE_MAX
                                                : need + kMemoryHeadroomBytes;
}

StatusOr<std::unique_ptr<Replicas>> Replicas::Create(
    const ModelConfig& config, int max_batch,
    std::vector<std::unique_ptr<Backend>> backends) {
  const int R = int(backends.size());
  if (R < 1) return InvalidArgumentError("no backends for the model");
  if (max_batch % R != 0) {
    return InvalidArgumentError("batch_size " + std::to_string(max_batch) +
                                " is not a multiple of the " +
                                std::to_string(R) + " replicas");
  }
  const bool host = backends[0]->host_memory();
  [[maybe_unused]] std::vector<kernels::CudaEngine*> engines;
  for (const auto& backend : backends) {
    if (backend->host_memory() != host) {
      return InvalidArgumentError("replicas on host and device memory mixed");
    }
    if (!host) engines.push_back(backend->ctx().cuda);
  }
  auto group = std::make_unique<Group>();
#ifdef MOESWEEP_TRAINER_CUDA  // else there are no CUDA backends
  if (!host && R > 1) {
    std::string error;
    group->nccl = kernels::CudaGroup::Create(engines, &error);
    if (group->nccl == nullptr) {
      return FailedPreconditionError("data parallel over " + std::to_string(R) +
                                     " GPUs: " + error);
    }
  }
#endif
  // Checked before anything is allocated: the CUDA allocator aborts on a
  // device with no memory left, and the host would swap or kill us; a trial
  // too big for its worker must fail as a trial, not take the worker down.
  const size_t need = Model::MemoryBytes(config, max_batch / R);
  for (int r = 0; r < R; ++r) {
    const size_t free = backends[r]->free_bytes();
    if (free == SIZE_MAX) continue;
    if (need > free || free - need < kMemoryHeadroomBytes) {  // no wrap
      auto gib = [](size_t bytes) {
        char text[32];
        std::snprintf(text, sizeof text, "%.2f GiB", double(bytes) / (1 << 30));
        return std::string(text);
      };
      return ResourceExhaustedError(
          "the model needs " + gib(need) + " on each of its " +
          std::to_string(R) +
          " backend(s) (parameters, gradients, AdamW "
          "moments and the activations of " +
          std::to_string(max_batch / R) + " sequences) plus " +
          gib(kMemoryHeadroomBytes) + " of headroom; " +
          backends[r]->Describe() + " has " + gib(free) + " free");
    }
  }
  std::vector<std::unique_ptr<Model>> models;
  for (auto& backend : backends) {
    models.push_back(
        std::make_unique<Model>(config, max_batch / R, std::move(backend)));
    models.back()->set_loss_scale(1.0f / float(R));
  }
  return std::unique_ptr<Replicas>(
      new Replicas(std::move(models), std::move(group)));
}

Replicas::Replicas(std::vector<std::unique_ptr<Model>> models,
                   std::unique_ptr<Group> group)
    : models_(std::move(models)), group_(std::move(group)) {}

Replicas::~Replicas() {
  group_.reset();  // the communicators before the engines they span
  models_.clear();
}

void Replicas::Init(uint64_t seed) {
  for (auto& model : models_) model->Init(seed);
}

StepResult Replicas::TrainStep(const int32_t* tokens, const int32_t* targets,
                               int B, const OptimizerConfig& opt, float lr,
                               int step) {
  const int R = count();
  if (R == 1) return models_[0]->TrainStep(tokens, targets, B, opt, lr, step);
  assert(B % R == 0);
  const int b = B / R;
  const size_t share = size_t(b) * models_[0]->config().seq_len;
  for (int r = 0; r < R; ++r) {
    models_[r]->StepGradients(tokens + r * share, targets + r * share, b, opt,
                              lr, step);
  }
  AllReduceGradients();
  StepResult sum;
  double ce = 0, aux = 0, z = 0, total = 0;
  for (int r = 0; r < R; ++r) {
    StepResult one = models_[r]->StepUpdate();
    ce += one.losses.ce;
    aux += one.losses.aux;
    z += one.losses.z;
    total += one.losses.total;
    if (r == 0) sum.grad_norm = one.grad_norm;  // the same on every copy
  }
  sum.losses.ce = float(ce / R);
  sum.losses.aux = float(aux / R);
  sum.losses.z = float(z / R);
  sum.losses.total = total / R;
  return sum;
}

void Replicas::AllReduceGradients() {
  const size_t n = num_params();
#ifdef MOESWEEP_TRAINER_CUDA
  if (group_->nccl != nullptr) {
    std::vector<float*> buffers;
    for (auto& model : models_) buffers.push_back(model->grad_buffer());
    group_->nccl->AllReduceSum(buffers, n);
    return;
  }
#endif
  // Host memory: the backward passes are done (the CPU runs ops as they
  // are queued). The sum in copy order, the same bits into every copy.
  for (size_t i = 0; i < n; ++i) {
    float s = 0;
    for (auto& model : models_) s += model->grad_buffer()[i];
    for (auto& model : models_) model->grad_buffer()[i] = s;
  }
}

Losses Replicas::Forward(const int32_t* tokens, const int32_t* targets, int B) {
  const int R = count();
  if (R == 1) return models_[0]->Forward(tokens, targets, B);
  const size_t T = models_[0]->config().seq_len;
  double ce = 0, aux = 0, z = 0, total = 0;
  int at = 0;
  for (int r = 0; r < R; ++r) {
    const int b = B / R + (r < B % R ? 1 : 0);
    if (b == 0) continue;
    Losses one = models_[r]->Forward(tokens + at * T, targets + at * T, b);
    ce += double(one.ce) * b;
    aux += double(one.aux) * b;
    z += double(one.z) * b;
    total += one.total * b;
    at += b;
  }
  Losses l;
  l.ce = float(ce / B);
  l.aux = float(aux / B);
  l.z = float(z / B);
  l.total = total / B;
  return l;
}

std::vector<float> Replicas::SaveState() const {
  return models_[0]->SaveState();
}

void Replicas::LoadState(const void* state) {
  for (auto& model : models_) model->LoadState(state);
}

}  // namespace moesweep::worker
