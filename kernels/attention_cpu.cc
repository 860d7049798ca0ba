// Fast causal attention: one task per (batch, head); scores, softmax and
// products in row tiles so the GEMMs skip most of the masked upper triangle.
// A tile's probabilities live in scratch only while it is worked on: the
// backward recomputes them from the forward's log-sum-exp.

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

// a[0..t] = softmax(a[0..t]), a(t..end) = 0; returns log(sum(exp(a[0..t]))).
MOESWEEP_SIMD_CLONES
float CausalSoftmaxRow(float* a, int t, int end) {
  float max = a[0];
  for (int u = 1; u <= t; ++u) max = std::max(max, a[u]);
  for (int u = 0; u <= t; ++u) a[u] = FastExp(a[u] - max);
  float sum = 0;
  for (int u = 0; u <= t; ++u) sum += a[u];
  float inv = 1 / sum;
  for (int u = 0; u <= t; ++u) a[u] *= inv;
  std::fill(a + t + 1, a + end, 0.0f);
  return max + std::log(sum);
}

// p[0..t] = exp(s[0..t] - lse), p(t..end) = 0: the forward's row, again.
MOESWEEP_SIMD_CLONES
void RecomputeRow(float* p, float lse, int t, int end) {
  for (int u = 0; u <= t; ++u) p[u] = FastExp(p[u] - lse);
  std::fill(p + t + 1, p + end, 0.0f);
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

// Scratch for the tables and for each chunk's tiles: cos and sin [T, hs/2]
// each, then `tiles` tiles [kTile, T] a chunk.
struct Scratchpad {
  float* cos_table;
  float* sin_table;
  float* tiles;
  size_t tile_floats;
  std::vector<float> no_pool;

  Scratchpad(const Context& ctx, int B, int T, int NH, int hs, int tiles_each,
             float theta) {
    tile_floats = size_t(kTile) * T;
    size_t slots = size_t(Parts(ctx, size_t(B) * NH)) * tiles_each;
    cos_table = Scratch(ctx, size_t(T) * hs + slots * tile_floats, &no_pool);
    sin_table = cos_table + size_t(T) * (hs / 2);
    tiles = cos_table + size_t(T) * hs;
    FillRopeTable(cos_table, sin_table, T, hs, theta);
  }
  float* Tile(int part, int i, int tiles_each) {
    return tiles + (size_t(part) * tiles_each + i) * tile_floats;
  }
};

}  // namespace

void attention_forward(const Context& ctx, float* out, float* qkvr, float* lse,
                       const float* qkv, int B, int T, int C, int NH,
                       float rope_theta) {
  int hs = C / NH, h2 = hs / 2, C3 = 3 * C;
  float scale = 1 / std::sqrt(float(hs));
  Scratchpad pad(ctx, B, T, NH, hs, 1, rope_theta);
  ParallelChunks(ctx, size_t(B) * NH, [&](int part, size_t begin, size_t end) {
    float* A = pad.Tile(part, 0, 1);
    for (size_t task = begin; task < end; ++task) {
      int b = int(task) / NH, h = int(task) % NH;
      size_t base = size_t(b) * T * C3 + h * hs;
      for (int t = 0; t < T; ++t) {
        for (int p = 0; p < 3; ++p) {
          const float* src = qkv + base + size_t(t) * C3 + p * C;
          float* dst = qkvr + base + size_t(t) * C3 + p * C;
          std::copy(src, src + hs, dst);
          if (p < 2) {
            Rotate(dst, &pad.cos_table[t * h2], &pad.sin_table[t * h2], h2,
                   1.0f);
          }
        }
      }
      const float* Q = qkvr + base;
      const float* K = Q + C;
      const float* V = Q + 2 * C;
      float* O = out + size_t(b) * T * C + h * hs;
      float* L = lse + task * T;
      for (int r0 = 0; r0 < T; r0 += kTile) {
        int r1 = std::min(T, r0 + kTile), rows = r1 - r0;
        Sgemm(false, true, rows, r1, hs, scale, Q + size_t(r0) * C3, C3, K, C3,
              0.0f, A, T);
        for (int t = r0; t < r1; ++t) {
          L[t] = CausalSoftmaxRow(A + size_t(t - r0) * T, t, r1);
        }
        Sgemm(false, false, rows, hs, r1, 1.0f, A, T, V, C3, 0.0f,
              O + size_t(r0) * C, C);
      }
    }
  });
}

void attention_backward(const Context& ctx, float* dqkv, float* delta,
                        const float* dout, const float* qkvr, const float* out,
                        const float* lse, int B, int T, int C, int NH,
                        float rope_theta) {
  int hs = C / NH, h2 = hs / 2, C3 = 3 * C;
  float scale = 1 / std::sqrt(float(hs));
  Scratchpad pad(ctx, B, T, NH, hs, 2, rope_theta);
  ParallelChunks(ctx, size_t(B) * NH, [&](int part, size_t begin, size_t end) {
    float* P = pad.Tile(part, 0, 2);
    float* dP = pad.Tile(part, 1, 2);
    for (size_t task = begin; task < end; ++task) {
      int b = int(task) / NH, h = int(task) % NH;
      size_t base = size_t(b) * T * C3 + h * hs;
      const float* Q = qkvr + base;
      const float* K = Q + C;
      const float* V = Q + 2 * C;
      float* dQ = dqkv + base;
      float* dK = dQ + C;
      float* dV = dQ + 2 * C;
      for (int t = 0; t < T; ++t) {
        for (int p = 0; p < 3; ++p) {
          std::fill_n(dQ + size_t(t) * C3 + p * C, hs, 0.0f);
        }
      }
      const float* dO = dout + size_t(b) * T * C + h * hs;
      const float* O = out + size_t(b) * T * C + h * hs;
      const float* L = lse + task * T;
      float* D = delta + task * T;
      for (int t = 0; t < T; ++t) {
        float d = 0;
        for (int i = 0; i < hs; ++i)
          d += dO[size_t(t) * C + i] * O[size_t(t) * C + i];
        D[t] = d;
      }
      for (int r0 = 0; r0 < T; r0 += kTile) {
        int r1 = std::min(T, r0 + kTile), rows = r1 - r0;
        const float* do_tile = dO + size_t(r0) * C;
        Sgemm(false, true, rows, r1, hs, scale, Q + size_t(r0) * C3, C3, K, C3,
              0.0f, P, T);
        for (int t = r0; t < r1; ++t) {
          RecomputeRow(P + size_t(t - r0) * T, L[t], t, r1);
        }
        Sgemm(false, true, rows, r1, hs, 1.0f, do_tile, C, V, C3, 0.0f, dP, T);
        Sgemm(true, false, r1, hs, rows, 1.0f, P, T, do_tile, C, 1.0f, dV, C3);
        for (int t = r0; t < r1; ++t) {
          const float* p = P + size_t(t - r0) * T;
          float* ds = dP + size_t(t - r0) * T;
          for (int u = 0; u <= t; ++u) ds[u] = p[u] * (ds[u] - D[t]) * scale;
          std::fill(ds + t + 1, ds + r1, 0.0f);
        }
        Sgemm(false, false, rows, hs, r1, 1.0f, dP, T, K, C3, 1.0f,
              dQ + size_t(r0) * C3, C3);
        Sgemm(true, false, r1, hs, rows, 1.0f, dP, T, Q + size_t(r0) * C3, C3,
              1.0f, dK, C3);
      }
      for (int t = 0; t < T; ++t) {
        Rotate(dQ + size_t(t) * C3, &pad.cos_table[t * h2],
               &pad.sin_table[t * h2], h2, -1.0f);
        Rotate(dK + size_t(t) * C3, &pad.cos_table[t * h2],
               &pad.sin_table[t * h2], h2, -1.0f);
      }
    }
  });
}

}  // namespace moesweep::kernels::cpu
