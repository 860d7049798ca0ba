// Small model shapes the trainer's CPU and GPU tests share: big enough that
// every path carries gradient (several experts, top-2, a shared expert,
// granularity 2), small enough for a step in milliseconds. Header-only, so
// tests/gpu (no gtest, no test library) includes it too.

#ifndef MOESWEEP_TESTS_TESTING_SMALL_MODELS_H_
#define MOESWEEP_TESTS_TESTING_SMALL_MODELS_H_

#include "worker/worker.h"

namespace moesweep::testing {

// 2 layers of width 64 over a 256-token vocabulary, 32-token sequences;
// `experts` routed experts, top-2 with one shared expert where experts > 1,
// else one dense FFN.
inline worker::ModelConfig SmallMoeConfig(int experts = 8) {
  worker::ModelConfig c;
  c.vocab_size = 256;
  c.d_model = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.seq_len = 32;
  c.n_experts = experts;
  c.top_k = experts > 1 ? 2 : 1;
  c.ffn_hidden = 128;
  c.granularity = experts > 1 ? 2 : 1;
  c.n_shared_experts = experts > 1 ? 1 : 0;
  c.aux_loss_coef = 0.01f;
  c.z_loss_coef = 0.001f;
  return c;
}

}  // namespace moesweep::testing

#endif  // MOESWEEP_TESTS_TESTING_SMALL_MODELS_H_
