// Fast embedding: rows split across threads. The backward splits the
// embedding table's columns instead, so two threads never add into the same
// row and each row sums its tokens in order.

#include <algorithm>

#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace moesweep::kernels::cpu {

void embedding_forward(const Context& ctx, float* out, const int32_t* tokens,
                       const float* wte, int N, int C) {
  ParallelFor(ctx, N, [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      std::copy_n(wte + size_t(tokens[n]) * C, C, out + n * C);
    }
  });
}

void embedding_backward(const Context& ctx, float* dwte, const float* dout,
                        const int32_t* tokens, int N, int C) {
  ParallelFor(ctx, C, [&](size_t c0, size_t c1) {
    for (int n = 0; n < N; ++n) {
      float* row = dwte + size_t(tokens[n]) * C;
      const float* d = dout + size_t(n) * C;
      for (size_t c = c0; c < c1; ++c) row[c] += d[c];
    }
  });
}

}  // namespace moesweep::kernels::cpu
