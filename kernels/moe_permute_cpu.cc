// Fast permutation: slots are assigned in one serial pass over (n, k) (cheap
// integers), then rows move in parallel.

#include <algorithm>

#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace moesweep::kernels::cpu {

void moe_permute_forward(const Context& ctx, float* xp, int32_t* offsets,
                         int32_t* slot, const float* x, const int32_t* expert,
                         const int32_t* counts, int N, int C, int E, int K) {
  offsets[0] = 0;
  for (int e = 0; e < E; ++e) offsets[e + 1] = offsets[e] + counts[e];
  // offsets[e] serves as expert e's cursor, ending at the start of e + 1;
  // shifting by one restores the starts.
  for (int nk = 0; nk < N * K; ++nk) slot[nk] = offsets[expert[nk]]++;
  for (int e = E; e > 0; --e) offsets[e] = offsets[e - 1];
  offsets[0] = 0;
  ParallelFor(ctx, size_t(N) * K, [&](size_t begin, size_t end) {
    for (size_t nk = begin; nk < end; ++nk) {
      std::copy_n(x + (nk / K) * C, C, xp + size_t(slot[nk]) * C);
    }
  });
}

void moe_permute_backward(const Context& ctx, float* dx, const float* dxp,
                          const int32_t* slot, int N, int C, int K) {
  ParallelFor(ctx, N, [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      float* d = dx + n * C;
      for (int k = 0; k < K; ++k) {
        const float* src = dxp + size_t(slot[n * K + k]) * C;
        for (int c = 0; c < C; ++c) d[c] += src[c];
      }
    }
  });
}

void moe_unpermute_forward(const Context& ctx, float* out, const float* yp,
                           const float* gate, const int32_t* slot, int N, int C,
                           int K) {
  ParallelFor(ctx, N, [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      float* o = out + n * C;
      std::fill_n(o, C, 0.0f);
      for (int k = 0; k < K; ++k) {
        float g = gate[n * K + k];
        const float* y = yp + size_t(slot[n * K + k]) * C;
        for (int c = 0; c < C; ++c) o[c] += g * y[c];
      }
    }
  });
}

void moe_unpermute_backward(const Context& ctx, float* dyp, float* dgate,
                            const float* dout, const float* yp,
                            const float* gate, const int32_t* slot, int N,
                            int C, int K) {
  ParallelFor(ctx, N, [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      const float* d = dout + n * C;
      for (int k = 0; k < K; ++k) {
        size_t row = size_t(slot[n * K + k]) * C;
        float g = gate[n * K + k], dot = 0;
        for (int c = 0; c < C; ++c) {
          dyp[row + c] = g * d[c];
          dot += d[c] * yp[row + c];
        }
        dgate[n * K + k] = dot;
      }
    }
  });
}

}  // namespace moesweep::kernels::cpu
