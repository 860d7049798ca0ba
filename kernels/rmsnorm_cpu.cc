// Fast RMSNorm. The weight gradient is a sum over rows: each chunk of rows
// sums into its own slice of `partial`, and the slices are added in chunk
// order, so the result does not depend on timing.

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace moesweep::kernels::cpu {

void rmsnorm_forward(const Context& ctx, float* out, float* rstd,
                     const float* inp, const float* weight, int N, int C) {
  ParallelFor(ctx, N, [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      const float* x = inp + n * C;
      float ms = 0;
      for (int c = 0; c < C; ++c) ms += x[c] * x[c];
      float r = 1 / std::sqrt(ms / C + 1e-5f);
      for (int c = 0; c < C; ++c) out[n * C + c] = x[c] * r * weight[c];
      rstd[n] = r;
    }
  });
}

void rmsnorm_backward(const Context& ctx, float* dinp, float* dweight,
                      const float* dout, const float* inp, const float* weight,
                      const float* rstd, int N, int C) {
  int parts = Parts(ctx, N);
  std::vector<float> no_pool;
  float* partial = Scratch(ctx, size_t(parts) * C, &no_pool);
  std::fill_n(partial, size_t(parts) * C, 0.0f);
  ParallelTasks(ctx, parts, [&](int part) {
    size_t begin, end;
    Chunk(N, part, parts, &begin, &end);
    float* dw = partial + size_t(part) * C;
    for (size_t n = begin; n < end; ++n) {
      const float* x = inp + n * C;
      const float* dy = dout + n * C;
      float r = rstd[n];
      float dot = 0;
      for (int c = 0; c < C; ++c) dot += dy[c] * weight[c] * x[c];
      dot *= r / C;
      for (int c = 0; c < C; ++c) {
        float xhat = x[c] * r;
        dw[c] += dy[c] * xhat;
        dinp[n * C + c] += r * (dy[c] * weight[c] - xhat * dot);
      }
    }
  });
  for (int part = 0; part < parts; ++part) {
    for (int c = 0; c < C; ++c) dweight[c] += partial[size_t(part) * C + c];
  }
}

}  // namespace moesweep::kernels::cpu
