// The MoE decoder-only transformer: parameters in one contiguous buffer with
// named views, activations in one arena allocated at creation (a step
// allocates nothing), forward and backward in llm.c's order. The public
// header of moesweep_model (the model and its backends, a library of its own
// that builds with CUDA and CMake alone): the trainer, bench/kernels and the
// tests use it.

#ifndef MOESWEEP_WORKER_TRAINER_MODEL_H_
#define MOESWEEP_WORKER_TRAINER_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "worker/trainer/backend.h"
#include "worker/worker.h"

namespace moesweep::worker {

// One named tensor of the parameter buffer: [offset, offset + size).
struct ParamTensor {
  std::string name;  // e.g. "layers.2.w13"
  size_t offset = 0;
  size_t size = 0;
};

// Pointers into a parameter-shaped buffer (the weights or their gradients).
struct LayerViews {
  float* ln1;         // [C]
  float* wqkv;        // [3C, C]
  float* wo;          // [C, C]
  float* ln2;         // [C]
  float* wrouter;     // [E, C]; null when E == 1
  float* w13;         // [E, 2H, C]: gate rows then up rows of each expert
  float* w2;          // [E, C, H]
  float* shared_w13;  // [2 Hs, C], Hs = n_shared_experts * H; null if none
  float* shared_w2;   // [C, Hs]
};
struct ModelViews {
  float* wte;      // [V, C]
  float* lm_head;  // [V, C]; == wte when tied
  float* lnf;      // [C]
  std::vector<LayerViews> layers;
};

struct Losses {
  float ce = 0;   // mean cross-entropy, nats/token
  float aux = 0;  // load-balancing loss summed over layers
  float z = 0;    // router z-loss summed over layers
  // What the backward pass differentiates: ce + aux_coef aux + z_coef z.
  double total = 0;
};

struct StepResult {
  Losses losses;
  float grad_norm = 0;  // before clipping
};

// Not thread-safe. Borrows nothing; owns its backend, and every buffer lives
// in the backend's memory.
class Model {
 public:
  // Sized for up to max_batch sequences. REQUIRES: config.Validate() is OK.
  Model(const ModelConfig& config, int max_batch,
        std::unique_ptr<Backend> backend);
  // On the CPU backend with `threads` threads.
  Model(const ModelConfig& config, int max_batch, int threads);
  // The bytes such a model allocates from its backend: parameters, their
  // gradients, both AdamW moments, and the activations of max_batch
  // sequences. REQUIRES: config.Validate() is OK.
  static size_t MemoryBytes(const ModelConfig& config, int max_batch);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // Seeded init: matrices N(0, init_std), output projections scaled by
  // 1/sqrt(2 n_layers), norm weights 1. Clears the AdamW state.
  void Init(uint64_t seed);
  // One training step on tokens/targets [B, T], B <= max_batch: forward,
  // gradients, clip to opt.grad_clip (0: no clip) and one AdamW step
  // (1-based `step`). The inputs and the step's settings are copied in
  // first, the losses and the norm read back once at the end, and the ops
  // between run as one Backend::Replay unit keyed by B: on a GPU, one CUDA
  // graph replayed every step.
  StepResult TrainStep(const int32_t* tokens, const int32_t* targets, int B,
                       const OptimizerConfig& opt, float lr, int step);
  // TrainStep in two replayed halves, for data parallelism (Replicas): the
  // first stages the inputs and queues forward and backward; between them
  // the caller all-reduces grad_buffer(); the second queues the clip and
  // AdamW and reads the losses and the norm back.
  void StepGradients(const int32_t* tokens, const int32_t* targets, int B,
                     const OptimizerConfig& opt, float lr, int step);
  StepResult StepUpdate();
  // What Backward differentiates is total * scale (default 1): with R
  // replicas each takes 1/R, so the sum of their gradients is the mean over
  // the whole batch. Set before the first step (a captured graph keeps it).
  void set_loss_scale(float scale) { loss_scale_ = scale; }

  // The same step in parts (evaluation and tests). Forward is replayed too,
  // a graph per batch size on a GPU, and keeps what Backward needs; the
  // others run eagerly.
  Losses Forward(const int32_t* tokens, const int32_t* targets, int B);
  void ZeroGrad();
  // Gradients of Forward's `total` into grads(); REQUIRES: Forward ran.
  void Backward();
  // TrainStep's clip and AdamW step; returns the norm before clipping.
  float Update(const OptimizerConfig& opt, float lr, int step);

  // Every layer's expert choices [L, N, K] from the last Forward, so a test
  // can tell when a perturbation flipped a routing decision.
  std::vector<int32_t> Routing() const;

  // The training state besides the step (a checkpoint's contents):
  // parameters, then both AdamW moments, num_params() floats each, back to
  // back, copied out of or into the backend's memory.
  std::vector<float> SaveState() const;
  // REQUIRES: state holds 3 num_params() floats (any alignment).
  void LoadState(const void* state);

  // The parameters and their gradients in place: host memory only, so for
  // tests on the CPU backend. REQUIRES: backend().host_memory().
  float* params() { return HostOnly(params_); }
  float* grads() { return HostOnly(grads_); }
  // The gradients copied to the host, whatever the backend.
  std::vector<float> Gradients() const;
  // The gradients in the backend's memory, num_params() floats, for an
  // all-reduce queued between StepGradients and StepUpdate.
  float* grad_buffer() { return grads_; }
  size_t num_params() const { return num_params_; }
  const Backend& backend() const { return *backend_; }
  const std::vector<ParamTensor>& tensors() const { return tensors_; }
  const ModelConfig& config() const { return config_; }

  // Defined in activations.h.
  struct Activations;

 private:
  // Host copies in (Stage*) and out (Collect*) around the ops, which queue
  // kernels only (*Ops, the layer passes), so TrainStep can replay them.
  void Stage(const int32_t* tokens, const int32_t* targets, int B);
  void StageUpdate(const OptimizerConfig& opt, float lr, int step);
  void ForwardOps(int B);
  void UpdateOps();
  Losses CollectLosses(int B);
  float CollectNorm();
  void LayerForward(int l, int B);
  void LayerBackward(int l, int B);
  void MoeForward(int l, int B);
  void MoeBackward(int l, int B);
  float* HostOnly(float* buffer) const;
  void ZeroFloats(float* buffer, size_t n) {
    backend_->Zero(buffer, sizeof(float) * n);
  }

  const ModelConfig config_;
  const int max_batch_;
  const std::unique_ptr<Backend> backend_;
  const Ops k_;                 // backend_'s ops
  const kernels::Context ctx_;  // and what they run on
  std::vector<ParamTensor> tensors_;
  size_t num_params_ = 0;
  size_t num_decayed_ = 0;  // matrices first, then norm weights
  // Backend buffers of num_params_ floats each.
  float* params_ = nullptr;
  float* grads_ = nullptr;
  float* adam_m_ = nullptr;
  float* adam_v_ = nullptr;
  kernels::AdamwStep* adamw_ = nullptr;  // the step's settings and norm
  ModelViews p_, g_;
  float loss_scale_ = 1.0f;
  int staged_batch_ = 0;  // StepGradients' B, for StepUpdate
  std::unique_ptr<Activations> a_;
  // Host copies of the per-token losses and each layer's aux and z losses.
  std::vector<float> host_losses_;
  std::vector<float> host_scalars_;
};

}  // namespace moesweep::worker

#endif  // MOESWEEP_WORKER_TRAINER_MODEL_H_
