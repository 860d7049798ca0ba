// Data parallelism inside one worker: R copies of the model, each on its
// own backend (GPU r of the run), each taking B/R of every batch. Each copy
// differentiates its loss / R, their gradients are summed across copies
// between the backward pass and the update (NCCL on GPUs; in host memory on
// the CPU, where the tests check the bookkeeping), and every copy takes the
// same clip and AdamW step on the same sum, so the copies stay identical and
// the step is the whole batch's. With one copy it is the model alone.
// Internal to worker/.

#ifndef MOESWEEP_WORKER_TRAINER_REPLICAS_H_
#define MOESWEEP_WORKER_TRAINER_REPLICAS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"
#include "kernels/kernels.h"
#include "worker/trainer/backend.h"
#include "worker/trainer/model.h"
#include "worker/worker.h"

namespace moesweep::worker {

// Memory a copy leaves free beyond Model::MemoryBytes: CUDA graphs,
// cuBLASLt's internal buffers and the context's growth on a GPU; the
// process's own heap on the CPU.
inline constexpr size_t kMemoryHeadroomBytes = size_t(256) << 20;

// Not thread-safe: one thread drives every copy (the GPUs run concurrently:
// each copy's ops are queued before the next copy's are).
class Replicas {
 public:
  // One copy a backend, all of one kind (host memory or CUDA, each CUDA
  // backend on its own GPU). max_batch is the whole batch.
  // INVALID_ARGUMENT where max_batch is no multiple of the copies or the
  // backends are mixed; FAILED_PRECONDITION where the GPUs cannot be joined
  // (no NCCL in this build, two on one device); RESOURCE_EXHAUSTED, naming
  // the sizes, where a copy would not fit in its backend's free memory
  // (Backend::free_bytes).
  static StatusOr<std::unique_ptr<Replicas>> Create(
      const ModelConfig& config, int max_batch,
      std::vector<std::unique_ptr<Backend>> backends);
  // The memory Create asks of each backend: one copy's Model::MemoryBytes
  // (max_batch / copies sequences) plus kMemoryHeadroomBytes, saturating.
  static size_t MemoryNeeded(const ModelConfig& config, int max_batch,
                             int copies);
  ~Replicas();
  Replicas(const Replicas&) = delete;
  Replicas& operator=(const Replicas&) = delete;

  // Every copy from the same seed.
  void Init(uint64_t seed);
  // Model::TrainStep over the whole batch, B/R sequences a copy; the
  // losses are the copies' means. REQUIRES: B a multiple of count().
  StepResult TrainStep(const int32_t* tokens, const int32_t* targets, int B,
                       const OptimizerConfig& opt, float lr, int step);
  // The whole batch's losses, any B <= max_batch: split as evenly as it
  // goes, each copy's weighted by its tokens.
  Losses Forward(const int32_t* tokens, const int32_t* targets, int B);
  // The first copy's state (they are identical), and the state into all.
  std::vector<float> SaveState() const;
  void LoadState(const void* state);

  int count() const { return int(models_.size()); }
  size_t num_params() const { return models_[0]->num_params(); }
  const Model& copy(int r) const { return *models_[r]; }

 private:
  struct Group;
  Replicas(std::vector<std::unique_ptr<Model>> models,
           std::unique_ptr<Group> group);
  // Sums the copies' gradients into every copy, queued after their
  // backward passes.
  void AllReduceGradients();

  std::vector<std::unique_ptr<Model>> models_;
  std::unique_ptr<Group> group_;  // NCCL; null on host memory or one copy
};

}  // namespace moesweep::worker

#endif  // MOESWEEP_WORKER_TRAINER_REPLICAS_H_
