// The MoE decoder-only transformer: parameters in one contiguous buffer with
// named views, activations in one arena allocated at creation (a step
// allocates nothing), forward and backward in llm.c's order. Internal to
// worker/; tests include it for the whole-model gradient check.

#ifndef MOESWEEP_WORKER_TRAINER_MODEL_H_
#define MOESWEEP_WORKER_TRAINER_MODEL_H_

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/kernels.h"
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

// Not thread-safe. Borrows nothing; owns its pool of `threads` threads.
class Model {
 public:
  // Sized for up to max_batch sequences. REQUIRES: config.Validate() is OK.
  Model(const ModelConfig& config, int max_batch, int threads);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // Seeded init: matrices N(0, init_std), output projections scaled by
  // 1/sqrt(2 n_layers), norm weights 1. Clears the AdamW state.
  void Init(uint64_t seed);
  // tokens/targets [B, T], B <= max_batch. Keeps what Backward needs.
  Losses Forward(const int32_t* tokens, const int32_t* targets, int B);
  void ZeroGrad();
  // Gradients of Forward's `total` into grads(); REQUIRES: Forward ran.
  void Backward();
  // Clips to the global norm `clip` (0: no clip) and takes one AdamW step
  // (1-based `step`); returns the norm before clipping.
  float Update(const OptimizerConfig& opt, float lr, int step);

  // Every layer's expert choices [L, N, K] from the last Forward, so a test
  // can tell when a perturbation flipped a routing decision.
  std::vector<int32_t> Routing() const;

  // The training state besides the step: parameters and both AdamW
  // moments, num_params() floats each (a checkpoint's contents).
  std::array<std::span<float>, 3> State() {
    return {std::span<float>(params_), std::span<float>(adam_m_),
            std::span<float>(adam_v_)};
  }
  std::array<std::span<const float>, 3> State() const {
    return {std::span<const float>(params_), std::span<const float>(adam_m_),
            std::span<const float>(adam_v_)};
  }

  float* params() { return params_.data(); }
  float* grads() { return grads_.data(); }
  size_t num_params() const { return params_.size(); }
  const std::vector<ParamTensor>& tensors() const { return tensors_; }
  const ModelConfig& config() const { return config_; }

  // Defined in activations.h.
  struct Activations;

 private:
  void LayerForward(int l, int B);
  void LayerBackward(int l, int B);
  void MoeForward(int l, int B);
  void MoeBackward(int l, int B);

  const ModelConfig config_;
  const int max_batch_;
  kernels::ThreadPool pool_;
  kernels::Context ctx_;
  std::vector<ParamTensor> tensors_;
  size_t num_decayed_ = 0;  // matrices first, then norm weights
  std::vector<float> params_, grads_, adam_m_, adam_v_;
  ModelViews p_, g_;
  std::unique_ptr<Activations> a_;
  Losses last_;
};

}  // namespace moesweep::worker

#endif  // MOESWEEP_WORKER_TRAINER_MODEL_H_
