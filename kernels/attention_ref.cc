// Causal multi-head self-attention with RoPE on queries and keys. The
// forward keeps each row's log-sum-exp instead of its probabilities; the
// backward recomputes them, as flash attention does (Dao 2023, alg. 2).

#include <cmath>

#include "kernels/kernels.h"
#include "kernels/ref_instantiate.h"
#include "kernels/rope.h"

namespace moesweep::kernels::ref {

namespace {

// Row t's scaled score against key u.
template <typename Float>
Float Score(const Float* qkvr, int b, int t, int u, int h, int T, int C,
            int hs) {
  const Float* q = qkvr + (b * T + t) * 3 * C + h * hs;
  const Float* k = qkvr + (b * T + u) * 3 * C + C + h * hs;
  Float s = 0;
  for (int i = 0; i < hs; ++i) s += q[i] * k[i];
  return s / std::sqrt(Float(hs));
}

}  // namespace

template <typename Float>
void attention_forward(const Context&, Float* out, Float* qkvr, Float* lse,
                       const Float* qkv, int B, int T, int C, int NH,
                       float rope_theta) {
  int hs = C / NH;
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
        Float max = -INFINITY;
        for (int u = 0; u <= t; ++u) {
          max = std::fmax(max, Score(qkvr, b, t, u, h, T, C, hs));
        }
        Float sum = 0;
        for (int u = 0; u <= t; ++u) {
          sum += std::exp(Score(qkvr, b, t, u, h, T, C, hs) - max);
        }
        Float* o = out + (b * T + t) * C + h * hs;
        for (int i = 0; i < hs; ++i) o[i] = 0;
        for (int u = 0; u <= t; ++u) {
          Float p = std::exp(Score(qkvr, b, t, u, h, T, C, hs) - max) / sum;
          const Float* v = qkvr + (b * T + u) * 3 * C + 2 * C + h * hs;
          for (int i = 0; i < hs; ++i) o[i] += p * v[i];
        }
        lse[(b * NH + h) * T + t] = max + std::log(sum);
      }
    }
  }
}

template <typename Float>
void attention_backward(const Context&, Float* dqkv, Float* delta,
                        const Float* dout, const Float* qkvr, const Float* out,
                        const Float* lse, int B, int T, int C, int NH,
                        float rope_theta) {
  int hs = C / NH;
  Float scale = 1 / std::sqrt(Float(hs));
  for (int i = 0; i < B * T * 3 * C; ++i) dqkv[i] = 0;
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < NH; ++h) {
      for (int t = 0; t < T; ++t) {
        const Float* dot = dout + (b * T + t) * C + h * hs;
        const Float* o = out + (b * T + t) * C + h * hs;
        // sum_u p (dout . v_u) = dout . out: the softmax backward's row term.
        Float d = 0;
        for (int i = 0; i < hs; ++i) d += dot[i] * o[i];
        delta[(b * NH + h) * T + t] = d;
        const Float* q = qkvr + (b * T + t) * 3 * C + h * hs;
        Float* dq = dqkv + (b * T + t) * 3 * C + h * hs;
        for (int u = 0; u <= t; ++u) {
          Float p = std::exp(Score(qkvr, b, t, u, h, T, C, hs) -
                             lse[(b * NH + h) * T + t]);
          const Float* k = qkvr + (b * T + u) * 3 * C + C + h * hs;
          const Float* v = k + C;
          Float* dk = dqkv + (b * T + u) * 3 * C + C + h * hs;
          Float* dv = dk + C;
          Float dp = 0;
          for (int i = 0; i < hs; ++i) {
            dp += dot[i] * v[i];
            dv[i] += p * dot[i];
          }
          Float ds = p * (dp - d) * scale;
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
