// RMSNorm (Zhang & Sennrich 2019): out = inp * rstd * weight.

#include <cmath>

#include "kernels/kernels.h"
#include "kernels/ref_instantiate.h"

namespace moesweep::kernels::ref {

template <typename Float>
void rmsnorm_forward(const Context&, Float* out, Float* rstd, const Float* inp,
                     const Float* weight, int N, int C) {
  for (int n = 0; n < N; ++n) {
    const Float* x = inp + n * C;
    Float ms = 0;
    for (int c = 0; c < C; ++c) ms += x[c] * x[c];
    ms /= C;
    Float r = 1 / std::sqrt(ms + Float(1e-5));
    for (int c = 0; c < C; ++c) out[n * C + c] = x[c] * r * weight[c];
    rstd[n] = r;
  }
}

// With xhat = x * r: dx = r * (g - xhat * mean(g * xhat)), g = dout * weight.
template <typename Float>
void rmsnorm_backward(const Context&, Float* dinp, Float* dweight,
                      const Float* dout, const Float* inp, const Float* weight,
                      const Float* rstd, int N, int C) {
  for (int n = 0; n < N; ++n) {
    const Float* x = inp + n * C;
    const Float* dy = dout + n * C;
    Float r = rstd[n];
    Float dot = 0;
    for (int c = 0; c < C; ++c) dot += dy[c] * weight[c] * x[c] * r;
    dot /= C;
    for (int c = 0; c < C; ++c) {
      Float xhat = x[c] * r;
      dweight[c] += dy[c] * xhat;
      dinp[n * C + c] += r * (dy[c] * weight[c] - xhat * dot);
    }
  }
}

MOESWEEP_REF_INSTANTIATE(rmsnorm_forward);
MOESWEEP_REF_INSTANTIATE(rmsnorm_backward);

}  // namespace moesweep::kernels::ref
