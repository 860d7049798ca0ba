// SwiGLU (Shazeer 2020): out = silu(gate) * up, silu(g) = g * sigmoid(g).

#include <cmath>

#include "kernels/kernels.h"
#include "kernels/ref_instantiate.h"

namespace moesweep::kernels::ref {

template <typename Float>
void swiglu_forward(const Context&, Float* out, const Float* h, int N, int H) {
  for (int n = 0; n < N; ++n) {
    for (int j = 0; j < H; ++j) {
      Float g = h[n * 2 * H + j], u = h[n * 2 * H + H + j];
      out[n * H + j] = g / (1 + std::exp(-g)) * u;
    }
  }
}

template <typename Float>
void swiglu_backward(const Context&, Float* dh, const Float* dout,
                     const Float* h, int N, int H) {
  for (int n = 0; n < N; ++n) {
    for (int j = 0; j < H; ++j) {
      Float g = h[n * 2 * H + j], u = h[n * 2 * H + H + j];
      Float sig = 1 / (1 + std::exp(-g));
      Float d = dout[n * H + j];
      dh[n * 2 * H + j] = d * u * sig * (1 + g * (1 - sig));
      dh[n * 2 * H + H + j] = d * g * sig;
    }
  }
}

template <typename Float>
void add_forward(const Context&, Float* out, const Float* a, const Float* b,
                 size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

MOESWEEP_REF_INSTANTIATE(swiglu_forward);
MOESWEEP_REF_INSTANTIATE(swiglu_backward);
MOESWEEP_REF_INSTANTIATE(add_forward);

}  // namespace moesweep::kernels::ref
