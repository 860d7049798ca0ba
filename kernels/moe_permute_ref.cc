// Routing tokens into expert-contiguous order and combining expert outputs
// back, weighted by their gates.

#include "kernels/kernels.h"
#include "kernels/ref_instantiate.h"

namespace moesweep::kernels::ref {

template <typename Float>
void moe_permute_forward(const Context&, Float* xp, int32_t* offsets,
                         int32_t* slot, const Float* x, const int32_t* expert,
                         const int32_t* counts, int N, int C, int E, int K) {
  offsets[0] = 0;
  for (int e = 0; e < E; ++e) offsets[e + 1] = offsets[e] + counts[e];
  // Scanning (n, k) in ascending order keeps each expert's rows in that order.
  for (int e = 0; e < E; ++e) {
    int row = offsets[e];
    for (int nk = 0; nk < N * K; ++nk) {
      if (expert[nk] != e) continue;
      slot[nk] = row;
      for (int c = 0; c < C; ++c) xp[row * C + c] = x[(nk / K) * C + c];
      ++row;
    }
  }
}

template <typename Float>
void moe_permute_backward(const Context&, Float* dx, const Float* dxp,
                          const int32_t* slot, int N, int C, int K) {
  for (int n = 0; n < N; ++n) {
    for (int k = 0; k < K; ++k) {
      for (int c = 0; c < C; ++c) dx[n * C + c] += dxp[slot[n * K + k] * C + c];
    }
  }
}

template <typename Float>
void moe_unpermute_forward(const Context&, Float* out, const Float* yp,
                           const Float* gate, const int32_t* slot, int N, int C,
                           int K) {
  for (int n = 0; n < N; ++n) {
    for (int c = 0; c < C; ++c) {
      Float sum = 0;
      for (int k = 0; k < K; ++k) {
        sum += gate[n * K + k] * yp[slot[n * K + k] * C + c];
      }
      out[n * C + c] = sum;
    }
  }
}

template <typename Float>
void moe_unpermute_backward(const Context&, Float* dyp, Float* dgate,
                            const Float* dout, const Float* yp,
                            const Float* gate, const int32_t* slot, int N,
                            int C, int K) {
  for (int n = 0; n < N; ++n) {
    for (int k = 0; k < K; ++k) {
      int row = slot[n * K + k];
      Float dot = 0;
      for (int c = 0; c < C; ++c) {
        dyp[row * C + c] = gate[n * K + k] * dout[n * C + c];
        dot += dout[n * C + c] * yp[row * C + c];
      }
      dgate[n * K + k] = dot;
    }
  }
}

MOESWEEP_REF_INSTANTIATE(moe_permute_forward);
MOESWEEP_REF_INSTANTIATE(moe_permute_backward);
MOESWEEP_REF_INSTANTIATE(moe_unpermute_forward);
MOESWEEP_REF_INSTANTIATE(moe_unpermute_backward);

}  // namespace moesweep::kernels::ref
