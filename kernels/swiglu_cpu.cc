// Fast SwiGLU and elementwise add, rows split across threads.

#include "kernels/fast_exp.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "kernels/simd.h"

namespace moesweep::kernels::cpu {

namespace {

MOESWEEP_SIMD_CLONES
void SwigluForwardRows(float* out, const float* h, size_t begin, size_t end,
                       int H) {
  for (size_t n = begin; n < end; ++n) {
    const float* g = h + n * 2 * H;
    const float* u = g + H;
    float* o = out + n * H;
    for (int j = 0; j < H; ++j) o[j] = g[j] / (1.0f + FastExp(-g[j])) * u[j];
  }
}

MOESWEEP_SIMD_CLONES
void SwigluBackwardRows(float* dh, const float* dout, const float* h,
                        size_t begin, size_t end, int H) {
  for (size_t n = begin; n < end; ++n) {
    const float* g = h + n * 2 * H;
    const float* u = g + H;
    const float* d = dout + n * H;
    float* dg = dh + n * 2 * H;
    float* du = dg + H;
    for (int j = 0; j < H; ++j) {
      float sig = 1.0f / (1.0f + FastExp(-g[j]));
      dg[j] = d[j] * u[j] * sig * (1.0f + g[j] * (1.0f - sig));
      du[j] = d[j] * g[j] * sig;
    }
  }
}

}  // namespace

void swiglu_forward(const Context& ctx, float* out, const float* h, int N,
                    int H) {
  ParallelFor(ctx, N, [&](size_t begin, size_t end) {
    SwigluForwardRows(out, h, begin, end, H);
  });
}

void swiglu_backward(const Context& ctx, float* dh, const float* dout,
                     const float* h, int N, int H) {
  ParallelFor(ctx, N, [&](size_t begin, size_t end) {
    SwigluBackwardRows(dh, dout, h, begin, end, H);
  });
}

void add_forward(const Context& ctx, float* out, const float* a, const float* b,
                 size_t n) {
  ParallelFor(ctx, n, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) out[i] = a[i] + b[i];
  });
}

}  // namespace moesweep::kernels::cpu
