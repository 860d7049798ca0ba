// Token embedding lookup and its gradient.

#include "kernels/kernels.h"
#include "kernels/ref_instantiate.h"

namespace moesweep::kernels::ref {

template <typename Float>
void embedding_forward(const Context&, Float* out, const int32_t* tokens,
                       const Float* wte, int N, int C) {
  for (int n = 0; n < N; ++n) {
    for (int c = 0; c < C; ++c) out[n * C + c] = wte[tokens[n] * C + c];
  }
}

template <typename Float>
void embedding_backward(const Context&, Float* dwte, const Float* dout,
                        const int32_t* tokens, int N, int C) {
  for (int n = 0; n < N; ++n) {
    for (int c = 0; c < C; ++c) dwte[tokens[n] * C + c] += dout[n * C + c];
  }
}

MOESWEEP_REF_INSTANTIATE(embedding_forward);
MOESWEEP_REF_INSTANTIATE(embedding_backward);

}  // namespace moesweep::kernels::ref
