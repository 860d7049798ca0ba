// What the forward pass keeps for the backward pass, and the backward pass's
// scratch: slices of two arenas (floats, int32s) laid out once at creation.
// Internal to worker/trainer.

#ifndef MOESWEEP_WORKER_TRAINER_ACTIVATIONS_H_
#define MOESWEEP_WORKER_TRAINER_ACTIVATIONS_H_

#include <cstdint>
#include <vector>  // resid, layers

#include "worker/trainer/model.h"

namespace moesweep::worker {

struct LayerActivations {
  float* ln1;        // [N, C]
  float* rstd1;      // [N]
  float* qkv;        // [N, 3C]
  float* qkvr;       // [N, 3C], after RoPE
  float* att_lse;    // [B, NH, T], each attention row's log-sum-exp
  float* atty;       // [N, C]
  float* mid;        // [N, C], residual after attention
  float* ln2;        // [N, C]
  float* rstd2;      // [N]
  float* rlogits;    // [N, E]
  float* probs;      // [N, E]
  float* lse;        // [N]
  float* gate;       // [N, K]
  int32_t* expert;   // [N, K]
  int32_t* counts;   // [E]
  int32_t* offsets;  // [E + 1]
  int32_t* slot;     // [N, K]
  float* xp;         // [M, C], tokens in expert order
  float* h13;        // [M, 2H]
  float* act;        // [M, H]
  float* yp;         // [M, C]
  float* sh13;       // [N, 2 Hs]
  float* sact;       // [N, Hs]
};

struct Model::Activations {
  // The two arenas, backend buffers the model frees.
  float* floats = nullptr;
  int32_t* ints = nullptr;
  std::vector<float*> resid;  // L + 1 residual streams [N, C]
  std::vector<LayerActivations> layers;
  int32_t* tokens;   // [N]
  int32_t* targets;  // [N]
  float* lnf;        // [N, C]
  float* rstdf;      // [N]
  float* logits;     // [N, V]
  float* probs;      // [N, V]
  float* losses;     // [N]
  float* tmp;        // [N, C]
  float* scalars;    // [2L]: each layer's aux and z losses, read back
  // Backward scratch, reused by every layer.
  float* dres;       // [N, C]
  float* dln;        // [N, C]
  float* datty;      // [N, C]
  float* dqkv;       // [N, 3C]
  float* att_delta;  // [B, NH, T]
  float* drlogits;   // [N, E]
  float* dgate;      // [N, K]
  float* dyp;        // [M, C]
  float* dact;       // [M, H]
  float* dh13;       // [M, 2H]
  float* dxp;        // [M, C]
  float* dsact;      // [N, Hs]
  float* dsh13;      // [N, 2 Hs]
  float* dlogits;    // [N, V]
  int B = 0;         // batch of the last Forward
};

}  // namespace moesweep::worker

#endif  // MOESWEEP_WORKER_TRAINER_ACTIVATIONS_H_
