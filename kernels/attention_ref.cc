// Causal multi-head self-attention with RoPE on queries and keys.

#include <cmath>

#include "kernels/kernels.h"
#include "kernels/ref_instantiate.h"
#include "kernels/rope.h"

namespace moesweep::kernels::ref {

template <typename Float>
void attention_forward(const Context&, Float* out, Float* qkvr, Float* att,
                       const Float* qkv, int B, int T, int C, int NH,
                       float rope_theta) {
  int hs = C / NH;
  Float scale = 1 / std::sqrt(Float(hs));
  for (int i = 0; i < B * T * 3 * C; ++i) qkvr[i] = qkv[i];
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      for (int h = 0; h < NH; ++h) {
        Float* row = qkvr + (b * T + t) * 3 * C + h * hs;
        RopeRotate(row, t, hs, rope_theta, false);      // q
        RopeRotate(row + C, t, hs, rope_theta, false);  // k
      }
    }
  }
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < NH; ++h) {
      for (int t = 0; t < T; ++t) {
        const Float* q = qkvr + (b * T + t) * 3 * C + h * hs;
        Float* a = att + ((b * NH + h) * T + t) * T;
        Float max = -INFINITY;
        for (int u = 0; u <= t; ++u) {
          const Float* k = qkvr + (b * T + u) * 3 * C + C + h * hs;
          Float s = 0;
          for (int i = 0; i < hs; ++i) s += q[i] * k[i];
          a[u] = s * scale;
          if (a[u] > max) max = a[u];
        }
        Float sum = 0;
        for (int u = 0; u <= t; ++u) {
          a[u] = std::exp(a[u] - max);
          sum += a[u];
        }
        for (int u = 0; u < T; ++u) a[u] = u <= t ? a[u] / sum : Float(0);
        Float* o = out + (b * T + t) * C + h * hs;
        for (int i = 0; i < hs; ++i) o[i] = 0;
        for (int u = 0; u <= t; ++u) {
          const Float* v = qkvr + (b * T + u) * 3 * C + 2 * C + h * hs;
          for (int i = 0; i < hs; ++i) o[i] += a[u] * v[i];
        }
      }
    }
  }
}

template <typename Float>
void attention_backward(const Context&, Float* dqkv, Float* datt,
                        const Float* dout, const Float* qkvr, const Float* att,
                        int B, int T, int C, int NH, float rope_theta) {
  int hs = C / NH;
  Float scale = 1 / std::sqrt(Float(hs));
  for (int i = 0; i < B * T * 3 * C; ++i) dqkv[i] = 0;
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < NH; ++h) {
      for (int t = 0; t < T; ++t) {
        const Float* a = att + ((b * NH + h) * T + t) * T;
        Float* da = datt + ((b * NH + h) * T + t) * T;
        const Float* dot = dout + (b * T + t) * C + h * hs;
        // Through out = att v.
        for (int u = 0; u <= t; ++u) {
          const Float* v = qkvr + (b * T + u) * 3 * C + 2 * C + h * hs;
          Float* dv = dqkv + (b * T + u) * 3 * C + 2 * C + h * hs;
          da[u] = 0;
          for (int i = 0; i < hs; ++i) {
            da[u] += dot[i] * v[i];
            dv[i] += a[u] * dot[i];
          }
        }
        // Through the softmax: ds = a * (da - sum(a * da)).
        Float sum = 0;
        for (int u = 0; u <= t; ++u) sum += a[u] * da[u];
        const Float* q = qkvr + (b * T + t) * 3 * C + h * hs;
        Float* dq = dqkv + (b * T + t) * 3 * C + h * hs;
        for (int u = 0; u <= t; ++u) {
          Float ds = a[u] * (da[u] - sum) * scale;
          const Float* k = qkvr + (b * T + u) * 3 * C + C + h * hs;
          Float* dk = dqkv + (b * T + u) * 3 * C + C + h * hs;
          for (int i = 0; i < hs; ++i) {
            dq[i] += ds * k[i];
            dk[i] += ds * q[i];
          }
        }
      }
    }
  }
  // Through RoPE: the gradient turns back by the same angle.
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      for (int h = 0; h < NH; ++h) {
        Float* row = dqkv + (b * T + t) * 3 * C + h * hs;
        RopeRotate(row, t, hs, rope_theta, true);
        RopeRotate(row + C, t, hs, rope_theta, true);
      }
    }
  }
}

MOESWEEP_REF_INSTANTIATE(attention_forward);
MOESWEEP_REF_INSTANTIATE(attention_backward);

}  // namespace moesweep::kernels::ref
