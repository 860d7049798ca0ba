// Dense and per-expert (grouped) matmuls: out[N,O] = inp[N,I] weight[O,I]^T.

#include <cassert>

#include "kernels/kernels.h"
#include "kernels/ref_instantiate.h"

namespace moesweep::kernels::ref {

template <typename Float>
void matmul_forward(const Context&, Float* out, const Float* inp,
                    const Float* weight, int N, int I, int O) {
  for (int n = 0; n < N; ++n) {
    for (int o = 0; o < O; ++o) {
      Float sum = 0;
      for (int i = 0; i < I; ++i) sum += inp[n * I + i] * weight[o * I + i];
      out[n * O + o] = sum;
    }
  }
}

template <typename Float>
void matmul_backward(const Context&, Float* dinp, Float* dweight,
                     const Float* dout, const Float* inp, const Float* weight,
                     int N, int I, int O) {
  for (int n = 0; n < N; ++n) {
    for (int o = 0; o < O; ++o) {
      Float d = dout[n * O + o];
      for (int i = 0; i < I; ++i) {
        dinp[n * I + i] += d * weight[o * I + i];
        dweight[o * I + i] += d * inp[n * I + i];
      }
    }
  }
}

template <typename Float>
void expert_matmul_forward(const Context& ctx, Float* out, const Float* inp,
                           const Float* weight, const int32_t* offsets,
                           [[maybe_unused]] int M, int E, int I, int O) {
  assert(offsets[E] == M);
  for (int e = 0; e < E; ++e) {
    int begin = offsets[e];
    matmul_forward(ctx, out + size_t(begin) * O, inp + size_t(begin) * I,
                   weight + size_t(e) * O * I, offsets[e + 1] - begin, I, O);
  }
}

template <typename Float>
void expert_matmul_backward(const Context& ctx, Float* dinp, Float* dweight,
                            const Float* dout, const Float* inp,
                            const Float* weight, const int32_t* offsets, int M,
                            int E, int I, int O) {
  assert(offsets[E] == M);
  for (int m = 0; m < M * I; ++m) dinp[m] = 0;
  for (int e = 0; e < E; ++e) {
    int begin = offsets[e];
    matmul_backward(ctx, dinp + size_t(begin) * I, dweight + size_t(e) * O * I,
                    dout + size_t(begin) * O, inp + size_t(begin) * I,
                    weight + size_t(e) * O * I, offsets[e + 1] - begin, I, O);
  }
}

MOESWEEP_REF_INSTANTIATE(matmul_forward);
MOESWEEP_REF_INSTANTIATE(matmul_backward);
MOESWEEP_REF_INSTANTIATE(expert_matmul_forward);
MOESWEEP_REF_INSTANTIATE(expert_matmul_backward);

}  // namespace moesweep::kernels::ref
