// Fast causal attention: one task per (batch, head); scores, softmax and
// products in row tiles so the GEMMs skip most of the masked upper triangle.

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/fast_exp.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "kernels/rope.h"
#include "kernels/simd.h"

namespace moesweep::kernels::cpu {

namespace {

constexpr int kTile = 64;

// cos and sin of every (t, i) pair, [T, hs/2] each; the same doubles the
// reference computes, rounded once.
void FillRopeTable(float* cos_table, float* sin_table, int T, int hs,
                   float theta) {
  int h2 = hs / 2;
  for (int t = 0; t < T; ++t) {
    for (int i = 0; i < h2; ++i) {
      double c, s;
      RopeAngle(t, i, hs, theta, &c, &s);
      cos_table[t * h2 + i] = float(c);
      sin_table[t * h2 + i] = float(s);
    }
  }
}

// a[0..t] = softmax(a[0..t]); a(t..T) = 0.
MOESWEEP_SIMD_CLONES
void CausalSoftmaxRow(float* a, int t, int T) {
  float max = a[0];
  for (int u = 1; u <= t; ++u) max = std::max(max, a[u]);
  for (int u = 0; u <= t; ++u) a[u] = FastExp(a[u] - max);
  float sum = 0;
  for (int u = 0; u <= t; ++u) sum += a[u];
  float inv = 1 / sum;
  for (int u = 0; u <= t; ++u) a[u] *= inv;
  std::fill(a + t + 1, a + T, 0.0f);
}

// Turns x (hs wide) at position t; `sign` -1 turns back.
inline void Rotate(float* x, const float* cos_t, const float* sin_t, int h2,
                   float sign) {
  for (int i = 0; i < h2; ++i) {
    float a = x[i], b = x[i + h2], s = sign * sin_t[i];
    x[i] = a * cos_t[i] - b * s;
    x[i + h2] = a * s + b * cos_t[i];
  }
}

}  // namespace

void attention_forward(const Context& ctx, float* out, float* qkvr, float* att,
                       const float* qkv, int B, int T, int C, int NH,
                       float rope_theta) {
  int hs = C / NH, h2 = hs / 2, C3 = 3 * C;
  float scale = 1 / std::sqrt(float(hs));
  std::vector<float> no_pool;
  float* cos_table = Scratch(ctx, size_t(T) * hs, &no_pool);
  float* sin_table = cos_table + size_t(T) * h2;
  FillRopeTable(cos_table, sin_table, T, hs, rope_theta);
  ParallelTasks(ctx, B * NH, [&](int task) {
    int b = task / NH, h = task % NH;
    size_t base = size_t(b) * T * C3 + h * hs;
    for (int t = 0; t < T; ++t) {
      for (int part = 0; part < 3; ++part) {
        const float* src = qkv + base + size_t(t) * C3 + part * C;
        float* dst = qkvr + base + size_t(t) * C3 + part * C;
        std::copy(src, src + hs, dst);
        if (part < 2) {
          Rotate(dst, &cos_table[t * h2], &sin_table[t * h2], h2, 1.0f);
        }
      }
    }
    const float* Q = qkvr + base;
    const float* K = Q + C;
    const float* V = Q + 2 * C;
    float* A = att + size_t(task) * T * T;
    float* O = out + size_t(b) * T * C + h * hs;
    for (int r0 = 0; r0 < T; r0 += kTile) {
      int r1 = std::min(T, r0 + kTile), rows = r1 - r0;
      Sgemm(false, true, rows, r1, hs, scale, Q + size_t(r0) * C3, C3, K, C3,
            0.0f, A + size_t(r0) * T, T);
      for (int t = r0; t < r1; ++t) CausalSoftmaxRow(A + size_t(t) * T, t, T);
      Sgemm(false, false, rows, hs, r1, 1.0f, A + size_t(r0) * T, T, V, C3,
            0.0f, O + size_t(r0) * C, C);
    }
  });
}

void attention_backward(const Context& ctx, float* dqkv, float* datt,
                        const float* dout, const float* qkvr, const float* att,
                        int B, int T, int C, int NH, float rope_theta) {
  int hs = C / NH, h2 = hs / 2, C3 = 3 * C;
  float scale = 1 / std::sqrt(float(hs));
  std::vector<float> no_pool;
  float* cos_table = Scratch(ctx, size_t(T) * hs, &no_pool);
  float* sin_table = cos_table + size_t(T) * h2;
  FillRopeTable(cos_table, sin_table, T, hs, rope_theta);
  ParallelTasks(ctx, B * NH, [&](int task) {
    int b = task / NH, h = task % NH;
    size_t base = size_t(b) * T * C3 + h * hs;
    const float* Q = qkvr + base;
    const float* K = Q + C;
    const float* V = Q + 2 * C;
    float* dQ = dqkv + base;
    float* dK = dQ + C;
    float* dV = dQ + 2 * C;
    for (int t = 0; t < T; ++t) {
      for (int part = 0; part < 3; ++part) {
        std::fill_n(dQ + size_t(t) * C3 + part * C, hs, 0.0f);
      }
    }
    const float* A = att + size_t(task) * T * T;
    float* dA = datt + size_t(task) * T * T;
    const float* dO = dout + size_t(b) * T * C + h * hs;
    for (int r0 = 0; r0 < T; r0 += kTile) {
      int r1 = std::min(T, r0 + kTile), rows = r1 - r0;
      const float* a_tile = A + size_t(r0) * T;
      float* da_tile = dA + size_t(r0) * T;
      const float* do_tile = dO + size_t(r0) * C;
      Sgemm(false, true, rows, r1, hs, 1.0f, do_tile, C, V, C3, 0.0f, da_tile,
            T);
      Sgemm(true, false, r1, hs, rows, 1.0f, a_tile, T, do_tile, C, 1.0f, dV,
            C3);
      for (int t = r0; t < r1; ++t) {
        const float* a = A + size_t(t) * T;
        float* da = dA + size_t(t) * T;
        float dot = 0;
        for (int u = 0; u <= t; ++u) dot += a[u] * da[u];
        for (int u = 0; u <= t; ++u) da[u] = a[u] * (da[u] - dot) * scale;
        std::fill(da + t + 1, da + r1, 0.0f);
      }
      Sgemm(false, false, rows, hs, r1, 1.0f, da_tile, T, K, C3, 1.0f,
            dQ + size_t(r0) * C3, C3);
      Sgemm(true, false, r1, hs, rows, 1.0f, da_tile, T, Q + size_t(r0) * C3,
            C3, 1.0f, dK, C3);
    }
    for (int t = 0; t < T; ++t) {
      Rotate(dQ + size_t(t) * C3, &cos_table[t * h2], &sin_table[t * h2], h2,
             -1.0f);
      Rotate(dK + size_t(t) * C3, &cos_table[t * h2], &sin_table[t * h2], h2,
             -1.0f);
    }
  });
}

}  // namespace moesweep::kernels::cpu
