// Causal multi-head self-attention with RoPE on the GPU, flash style (Dao
// 2023): a block takes a tile of 32 query rows (for the key and value
// gradients, 32 keys) of one head and streams the other side through shared
// memory in tiles of 32, keeping each row's running max and sum, so no
// T x T matrix exists anywhere; the backward recomputes each tile's
// probabilities from the forward's log-sum-exp. Query and key gradients are
// separate passes (each recomputing the tile) so that no two blocks add into
// one element: results repeat bit for bit. fp32 on the CUDA cores, any head
// size (the head's columns walked in slabs of 32).

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "kernels/cuda_util.cuh"
#include "kernels/kernels.h"

namespace moesweep::kernels::cuda {

namespace {

constexpr int kTile = 32;  // rows and keys a tile: a lane each
constexpr int kWarps = 8;
constexpr int kThreads = 32 * kWarps;
constexpr int kRowsPerWarp = kTile / kWarps;

__global__ void Copy(float* dst, const float* src, size_t n) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = src[i];
}

// Turns the q and k of every head in place, a thread a rotated pair; the
// angles in double as kernels/rope.h's RopeAngle computes them.
__global__ void RopeInPlace(float* qkv, int BT, int T, int C, int NH,
                            float theta, bool inverse) {
  const int hs = C / NH, h2 = hs / 2;
  size_t id = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  size_t pairs = size_t(BT) * 2 * NH * h2;
  if (id >= pairs) return;
  int i = int(id % h2);
  size_t rest = id / h2;
  int h = int(rest % NH);
  rest /= NH;
  int part = int(rest % 2);  // 0: q, 1: k
  size_t bt = rest / 2;
  int t = int(bt % T);
  double angle = t * pow(double(theta), -2.0 * i / hs);
  float c = float(cos(angle)), s = float(sin(angle));
  if (inverse) s = -s;
  float* x = qkv + bt * 3 * C + size_t(part) * C + size_t(h) * hs;
  float a = x[i], b = x[i + h2];
  x[i] = a * c - b * s;
  x[i + h2] = a * s + b * c;
}

// A [kTile][kTile] slab of shared memory, padded a column so that lanes
// walking either a row or a column touch 32 different banks.
using Slab = float[kTile][kTile + 1];

// s[r][i] = src[(row0 + r) * ld + col0 + i], zero past row T or column hs;
// the block's threads together, consecutive threads on consecutive columns.
__device__ void LoadSlab(Slab& s, const float* src, size_t ld, int row0, int T,
                         int col0, int hs) {
  for (int e = threadIdx.x; e < kTile * kTile; e += kThreads) {
    int r = e / kTile, i = e % kTile;
    bool in = row0 + r < T && col0 + i < hs;
    s[r][i] = in ? src[size_t(row0 + r) * ld + col0 + i] : 0.0f;
  }
}

// dot[j] = a[a0 + warp + kWarps j] . b[b0 + lane] over hs columns, a slab at
// a time through `as` and `bs`; rows past T count as zeros.
__device__ void Dots(float (&dot)[kRowsPerWarp], Slab& as, Slab& bs,
                     const float* a, size_t lda, int a0, const float* b,
                     size_t ldb, int b0, int T, int hs) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int j = 0; j < kRowsPerWarp; ++j) dot[j] = 0;
  for (int i0 = 0; i0 < hs; i0 += kTile) {
    LoadSlab(as, a, lda, a0, T, i0, hs);
    LoadSlab(bs, b, ldb, b0, T, i0, hs);
    __syncthreads();
    for (int j = 0; j < kRowsPerWarp; ++j) {
      const int r = warp + kWarps * j;
      float acc = 0;
      for (int i = 0; i < kTile; ++i) acc += as[r][i] * bs[lane][i];
      dot[j] += acc;
    }
    __syncthreads();
  }
}

// x[r0 + r][i] = x[r0 + r][i] * keep[r] + sum_c w[r][c] src[c0 + c][i] for
// the rows r = warp + kWarps j this thread's warp owns and every column i of
// the head, src a slab at a time through `slab`; keep null keeps x as is.
// Rows past T are skipped, keys past T count as zeros.
__device__ void AccumulateRows(float* x, size_t ldx, const float* keep,
                               const Slab& w, Slab& slab, const float* src,
                               size_t lds, int r0, int c0, int T, int hs) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int i0 = 0; i0 < hs; i0 += kTile) {
    LoadSlab(slab, src, lds, c0, T, i0, hs);
    __syncthreads();
    for (int j = 0; j < kRowsPerWarp; ++j) {
      const int r = warp + kWarps * j, t = r0 + r;
      if (t >= T || i0 + lane >= hs) continue;
      float acc = 0;
      for (int c = 0; c < kTile; ++c) acc += w[r][c] * slab[c][lane];
      float* y = x + size_t(t) * ldx + i0 + lane;
      *y = (keep == nullptr ? *y : *y * keep[r]) + acc;
    }
    __syncthreads();
  }
}

// Zeroes rows [row0, min(row0 + kTile, T)) of x over hs columns.
__device__ void ZeroRows(float* x, size_t ld, int row0, int T, int hs) {
  for (int e = threadIdx.x; e < kTile * hs; e += kThreads) {
    int r = e / hs, i = e % hs;
    if (row0 + r < T) x[size_t(row0 + r) * ld + i] = 0.0f;
  }
}

// Where one head of one sequence lives: q, k, v (and their gradients) a
// position 3C apart, out and dout C apart.
struct Head {
  int b, h, hs, tile0;
  size_t ld;
  __device__ Head(int T, int C, int NH) {
    const int tiles = (T + kTile - 1) / kTile;
    tile0 = (blockIdx.x % tiles) * kTile;
    const int bh = blockIdx.x / tiles;
    h = bh % NH;
    b = bh / NH;
    hs = C / NH;
    ld = size_t(3) * C;
  }
  __device__ size_t qkv(int T) const {
    return size_t(b) * T * ld + size_t(h) * hs;
  }
  __device__ size_t row(int T, int C) const {
    return size_t(b) * T * C + size_t(h) * hs;
  }
  __device__ size_t bh(int T, int NH) const { return (size_t(b) * NH + h) * T; }
};

// A block a tile of query rows: stream the keys up to the tile's last row
// in tiles, keeping each row's running max m and sum l; out accumulates in
// place, rescaled by exp(m_old - m_new) when the max moves.
__global__ void __launch_bounds__(kThreads)
    FlashForward(float* out, float* lse, const float* qkvr, int T, int C,
                 int NH) {
  __shared__ Slab as, bs, ps;
  __shared__ float m_s[kTile], l_s[kTile], corr_s[kTile];
  const Head hd(T, C, NH);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int r0 = hd.tile0, hs = hd.hs;
  const float* q = qkvr + hd.qkv(T);
  const float* k = q + C;
  const float* v = q + 2 * C;
  float* o = out + hd.row(T, C);
  const float scale = 1.0f / sqrtf(float(hs));
  ZeroRows(o, C, r0, T, hs);
  if (threadIdx.x < kTile) {
    m_s[threadIdx.x] = -INFINITY;
    l_s[threadIdx.x] = 0.0f;
  }
  __syncthreads();
  const int keys = min(T, r0 + kTile);
  for (int c0 = 0; c0 < keys; c0 += kTile) {
    float s[kRowsPerWarp];
    Dots(s, as, bs, q, hd.ld, r0, k, hd.ld, c0, T, hs);
    for (int j = 0; j < kRowsPerWarp; ++j) {
      const int r = warp + kWarps * j, t = r0 + r, u = c0 + lane;
      const float x = t < T && u <= t ? s[j] * scale : -INFINITY;
      const float m_old = m_s[r];
      const float m_new = fmaxf(m_old, cuda_internal::WarpMax(x));
      const float p = x == -INFINITY ? 0.0f : expf(x - m_new);
      const float sum = cuda_internal::WarpSum(p);
      ps[r][lane] = p;
      __syncwarp();  // every lane has read m_s[r] before lane 0 moves it
      if (lane == 0) {
        // m_old = -inf: nothing summed yet (out and l are zero).
        const float corr = m_old == -INFINITY ? 0.0f : expf(m_old - m_new);
        corr_s[r] = corr;
        m_s[r] = m_new;
        l_s[r] = l_s[r] * corr + sum;
      }
    }
    __syncthreads();
    AccumulateRows(o, C, corr_s, ps, bs, v, hd.ld, r0, c0, T, hs);
  }
  for (int e = threadIdx.x; e < kTile * hs; e += kThreads) {
    const int r = e / hs, i = e % hs;
    if (r0 + r < T) o[size_t(r0 + r) * C + i] /= l_s[r];
  }
  if (threadIdx.x < kTile && r0 + int(threadIdx.x) < T) {
    lse[hd.bh(T, NH) + r0 + threadIdx.x] =
        m_s[threadIdx.x] + logf(l_s[threadIdx.x]);
  }
}

// A warp a row (b, h, t): delta = dout . out over the head.
__global__ void RowDots(float* delta, const float* dout, const float* out,
                        size_t rows, int T, int C, int NH) {
  const size_t row = size_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  const int lane = threadIdx.x % 32, hs = C / NH;
  if (row >= rows) return;  // the whole warp alike
  const int t = int(row % T);
  const size_t bh = row / T;
  const size_t at = (bh / NH * T + t) * C + bh % NH * hs;
  float d = 0;
  for (int i = lane; i < hs; i += 32) d += dout[at + i] * out[at + i];
  d = cuda_internal::WarpSum(d);
  if (lane == 0) delta[row] = d;
}

// The recomputed probability p and score gradient ds of row t, key u.
__device__ void ScoreGradient(float s, float dp, float lse, float delta,
                              float scale, bool causal, float* p, float* ds) {
  *p = causal ? expf(s * scale - lse) : 0.0f;
  *ds = *p * (dp - delta) * scale;
}

// A block a tile of query rows: dq = sum over keys u <= t of ds k, the keys
// streamed in tiles, both p and dp recomputed.
__global__ void __launch_bounds__(kThreads)
    FlashBackwardQuery(float* dqkv, const float* delta, const float* dout,
                       const float* qkvr, const float* lse, int T, int C,
                       int NH) {
  __shared__ Slab as, bs, ds_s;
  const Head hd(T, C, NH);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int r0 = hd.tile0, hs = hd.hs;
  const float* q = qkvr + hd.qkv(T);
  const float* k = q + C;
  const float* v = q + 2 * C;
  const float* dO = dout + hd.row(T, C);
  float* dq = dqkv + hd.qkv(T);
  const float scale = 1.0f / sqrtf(float(hs));
  float row_lse[kRowsPerWarp], row_delta[kRowsPerWarp];
  for (int j = 0; j < kRowsPerWarp; ++j) {
    const int t = r0 + warp + kWarps * j;
    row_lse[j] = t < T ? lse[hd.bh(T, NH) + t] : 0.0f;
    row_delta[j] = t < T ? delta[hd.bh(T, NH) + t] : 0.0f;
  }
  ZeroRows(dq, hd.ld, r0, T, hs);
  __syncthreads();
  const int keys = min(T, r0 + kTile);
  for (int c0 = 0; c0 < keys; c0 += kTile) {
    float s[kRowsPerWarp], dp[kRowsPerWarp];
    Dots(s, as, bs, q, hd.ld, r0, k, hd.ld, c0, T, hs);
    Dots(dp, as, bs, dO, C, r0, v, hd.ld, c0, T, hs);
    for (int j = 0; j < kRowsPerWarp; ++j) {
      const int r = warp + kWarps * j, t = r0 + r, u = c0 + lane;
      float p, ds;
      ScoreGradient(s[j], dp[j], row_lse[j], row_delta[j], scale,
                    t < T && u <= t, &p, &ds);
      ds_s[r][lane] = ds;
    }
    __syncthreads();
    AccumulateRows(dq, hd.ld, nullptr, ds_s, bs, k, hd.ld, r0, c0, T, hs);
  }
}

// A block a tile of keys: dk = sum over rows t >= u of ds q and dv = sum of
// p dout, the rows streamed in tiles from the key tile's own on.
__global__ void __launch_bounds__(kThreads)
    FlashBackwardKey(float* dqkv, const float* delta, const float* dout,
                     const float* qkvr, const float* lse, int T, int C,
                     int NH) {
  __shared__ Slab as, bs, ps, ds_s;  // ps and ds_s: [key][row]
  const Head hd(T, C, NH);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int c0 = hd.tile0, hs = hd.hs;
  const float* q = qkvr + hd.qkv(T);
  const float* k = q + C;
  const float* v = q + 2 * C;
  const float* dO = dout + hd.row(T, C);
  float* dk = dqkv + hd.qkv(T) + C;
  float* dv = dk + C;
  const float scale = 1.0f / sqrtf(float(hs));
  ZeroRows(dk, hd.ld, c0, T, hs);
  ZeroRows(dv, hd.ld, c0, T, hs);
  __syncthreads();
  for (int r0 = c0; r0 < T; r0 += kTile) {
    float s[kRowsPerWarp], dp[kRowsPerWarp];
    Dots(s, as, bs, k, hd.ld, c0, q, hd.ld, r0, T, hs);
    Dots(dp, as, bs, v, hd.ld, c0, dO, C, r0, T, hs);
    const int t = r0 + lane;
    const float row_lse = t < T ? lse[hd.bh(T, NH) + t] : 0.0f;
    const float row_delta = t < T ? delta[hd.bh(T, NH) + t] : 0.0f;
    for (int j = 0; j < kRowsPerWarp; ++j) {
      const int c = warp + kWarps * j, u = c0 + c;
      ScoreGradient(s[j], dp[j], row_lse, row_delta, scale, t < T && u <= t,
                    &ps[c][lane], &ds_s[c][lane]);
    }
    __syncthreads();
    for (int i0 = 0; i0 < hs; i0 += kTile) {
      LoadSlab(as, dO, C, r0, T, i0, hs);
      LoadSlab(bs, q, hd.ld, r0, T, i0, hs);
      __syncthreads();
      for (int j = 0; j < kRowsPerWarp; ++j) {
        const int c = warp + kWarps * j, u = c0 + c;
        if (u >= T || i0 + lane >= hs) continue;
        float dv_acc = 0, dk_acc = 0;
        for (int r = 0; r < kTile; ++r) {
          dv_acc += ps[c][r] * as[r][lane];
          dk_acc += ds_s[c][r] * bs[r][lane];
        }
        dv[size_t(u) * hd.ld + i0 + lane] += dv_acc;
        dk[size_t(u) * hd.ld + i0 + lane] += dk_acc;
      }
      __syncthreads();
    }
  }
}

// Blocks of `per_block` items covering n (at least one); a grid past what
// one launch holds is refused (its activations alone would be terabytes).
unsigned CheckedBlocks(size_t n, size_t per_block) {
  const size_t blocks = (n + per_block - 1) / per_block;
  if (blocks > size_t(INT32_MAX)) {
    std::fprintf(stderr, "attention: %zu blocks exceed one launch\n", blocks);
    std::abort();
  }
  return unsigned(blocks == 0 ? 1 : blocks);
}

// One block a tile of kTile positions of every (b, h).
unsigned TileBlocks(int B, int T, int NH) {
  return CheckedBlocks(size_t(B) * NH * ((size_t(T) + kTile - 1) / kTile), 1);
}

}  // namespace

using cuda_internal::Blocks;
using cuda_internal::Stream;

void attention_forward(const Context& ctx, float* out, float* qkvr, float* lse,
                       const float* qkv, int B, int T, int C, int NH,
                       float rope_theta) {
  cudaStream_t stream = Stream(ctx);
  size_t n = size_t(B) * T * 3 * C;
  Copy<<<Blocks(n, 256), 256, 0, stream>>>(qkvr, qkv, n);
  MOESWEEP_CUDA_LAUNCHED();
  size_t pairs = size_t(B) * T * 2 * NH * (C / NH / 2);
  RopeInPlace<<<Blocks(pairs, 256), 256, 0, stream>>>(qkvr, B * T, T, C, NH,
                                                      rope_theta, false);
  MOESWEEP_CUDA_LAUNCHED();
  if (size_t(B) * NH * T == 0) return;
  FlashForward<<<TileBlocks(B, T, NH), kThreads, 0, stream>>>(out, lse, qkvr, T,
                                                              C, NH);
  MOESWEEP_CUDA_LAUNCHED();
}

void attention_backward(const Context& ctx, float* dqkv, float* delta,
                        const float* dout, const float* qkvr, const float* out,
                        const float* lse, int B, int T, int C, int NH,
                        float rope_theta) {
  cudaStream_t stream = Stream(ctx);
  if (size_t(B) * NH * T == 0) return;
  const size_t rows = size_t(B) * NH * T;
  RowDots<<<CheckedBlocks(rows, kWarps), kThreads, 0, stream>>>(
      delta, dout, out, rows, T, C, NH);
  MOESWEEP_CUDA_LAUNCHED();
  const unsigned blocks = TileBlocks(B, T, NH);
  FlashBackwardQuery<<<blocks, kThreads, 0, stream>>>(dqkv, delta, dout, qkvr,
                                                      lse, T, C, NH);
  MOESWEEP_CUDA_LAUNCHED();
  FlashBackwardKey<<<blocks, kThreads, 0, stream>>>(dqkv, delta, dout, qkvr,
                                                    lse, T, C, NH);
  MOESWEEP_CUDA_LAUNCHED();
  size_t pairs = size_t(B) * T * 2 * NH * (C / NH / 2);
  RopeInPlace<<<Blocks(pairs, 256), 256, 0, stream>>>(dqkv, B * T, T, C, NH,
                                                      rope_theta, true);
  MOESWEEP_CUDA_LAUNCHED();
}

}  // namespace moesweep::kernels::cuda
