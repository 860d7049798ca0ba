// Dense matmuls through cuBLASLt and the grouped expert matmuls, ours: the
// expert row segments live on the device, and cuBLASLt (CUDA 13.0) has no
// grouped GEMM that reads sizes from device memory.

#include <cublasLt.h>
#include <cuda_bf16.h>

#include <cstdio>
#include <cstdlib>

#include "kernels/cuda_util.cuh"
#include "kernels/kernels.h"
#include "kernels/moe_tiles.h"

namespace moesweep::kernels::cuda {

namespace {

void LtCheck(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return;
  std::fprintf(stderr, "moesweep: cuBLASLt %s failed with status %d\n", what,
               int(st));
  std::abort();
}

// What cuBLASLt may assume of a matrix's alignment: the largest power of two
// up to 256 dividing both its address and its row pitch. Its default, 256,
// lets the heuristic pick vector loads that fault on (or refuse) the model's
// tensors, packed one after another in one buffer at any float offset.
uint32_t Alignment(const float* p, int ld) {
  const uintptr_t bits =
      reinterpret_cast<uintptr_t>(p) | (uintptr_t(ld) * sizeof(float));
  uint32_t align = 256;
  while (align > 1 && bits % align != 0) align /= 2;
  return align;
}

// Column-major C[m,n] = op(A) op(B) + beta C on fp32 storage: in fp32
// (CUBLAS_COMPUTE_32F: no TF32, so results match the reference to fp32
// rounding), or for MatmulPrecision::kBf16 on bf16 tensor cores with fp32
// accumulation (CUBLAS_COMPUTE_32F_FAST_16BF). Row-major
// callers pass their matrices as the transposes cuBLAS sees. Descriptors and
// the heuristic query are made per call: simple, and a cost a cache keyed by
// shape would remove.
void LtGemm(const Context& ctx, bool trans_a, bool trans_b, int m, int n, int k,
            const float* A, int lda, const float* B, int ldb, float* C, int ldc,
            float beta) {
  if (m == 0 || n == 0) return;
  cudaStream_t stream = cuda_internal::Stream(ctx);
  if (k == 0) {  // op(A) op(B) is zero: C = beta C
    if (beta == 0.0f) {
      MOESWEEP_CUDA_CHECK(cudaMemset2DAsync(C, sizeof(float) * ldc, 0,
                                            sizeof(float) * m, n, stream));
    }
    return;
  }
  auto handle = static_cast<cublasLtHandle_t>(ctx.cuda->lt_handle());
  cublasLtMatmulDesc_t desc;
  const cublasComputeType_t compute =
      ctx.cuda->matmul_precision() == MatmulPrecision::kBf16
          ? CUBLAS_COMPUTE_32F_FAST_16BF
          : CUBLAS_COMPUTE_32F;
  LtCheck(cublasLtMatmulDescCreate(&desc, compute, CUDA_R_32F),
          "MatmulDescCreate");
  cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  LtCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta,
                                         sizeof(ta)),
          "set TRANSA");
  LtCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb,
                                         sizeof(tb)),
          "set TRANSB");
  cublasLtMatrixLayout_t la, lb, lc;
  LtCheck(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, trans_a ? k : m,
                                     trans_a ? m : k, lda),
          "layout A");
  LtCheck(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, trans_b ? n : k,
                                     trans_b ? k : n, ldb),
          "layout B");
  LtCheck(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, m, n, ldc), "layout C");
  cublasLtMatmulPreference_t pref;
  LtCheck(cublasLtMatmulPreferenceCreate(&pref), "PreferenceCreate");
  uint64_t workspace = ctx.cuda->workspace_bytes();
  LtCheck(cublasLtMatmulPreferenceSetAttribute(
              pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
              sizeof(workspace)),
          "set workspace");
  const uint32_t align[] = {Alignment(A, lda), Alignment(B, ldb),
                            Alignment(C, ldc)};
  const cublasLtMatmulPreferenceAttributes_t align_attr[] = {
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
  for (int i = 0; i < 4; ++i) {
    LtCheck(cublasLtMatmulPreferenceSetAttribute(
                pref, align_attr[i], &align[i < 3 ? i : 2], sizeof(uint32_t)),
            "set alignment");
  }
  cublasLtMatmulHeuristicResult_t result;
  int found = 0;
  LtCheck(cublasLtMatmulAlgoGetHeuristic(handle, desc, la, lb, lc, lc, pref, 1,
                                         &result, &found),
          "AlgoGetHeuristic");
  if (found == 0) {
    std::fprintf(stderr, "moesweep: cuBLASLt has no algorithm for %dx%dx%d\n",
                 m, n, k);
    std::abort();
  }
  const float alpha = 1.0f;
  LtCheck(
      cublasLtMatmul(handle, desc, &alpha, A, la, B, lb, &beta, C, lc, C, lc,
                     &result.algo, ctx.cuda->workspace(), workspace, stream),
      "Matmul");
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatmulDescDestroy(desc);
}

// The grouped GEMM tile: 64x64 outputs a block of 256 threads, 4x4 a thread,
// K in slabs of 16 through shared memory, fp32 FMA. A(m, k) = A[m a_m + k
// a_k] and B(k, n) = B[k b_k + n b_n], bases at the tile's corner, so one
// body serves the row-grouped forward and input gradient and the K-grouped
// weight gradient. Loads walk whichever index is contiguous.
constexpr int kTile = 64, kSlab = 16, kThreads = 256;

__device__ void GemmTile(float* C, size_t ldc, bool accumulate, const float* A,
                         size_t a_m, size_t a_k, const float* B, size_t b_k,
                         size_t b_n, int rows, int cols, int depth) {
  __shared__ float As[kSlab][kTile];
  __shared__ float Bs[kSlab][kTile];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  float acc[4][4] = {};
  for (int k0 = 0; k0 < depth; k0 += kSlab) {
    for (int l = 0; l < kSlab * kTile / kThreads; ++l) {
      int e = threadIdx.x + l * kThreads;
      int r = a_k == 1 ? e / kSlab : e % kTile;
      int kk = a_k == 1 ? e % kSlab : e / kTile;
      As[kk][r] = r < rows && k0 + kk < depth
                      ? A[size_t(r) * a_m + size_t(k0 + kk) * a_k]
                      : 0.0f;
      int c = b_n == 1 ? e % kTile : e / kSlab;
      int kb = b_n == 1 ? e / kTile : e % kSlab;
      Bs[kb][c] = c < cols && k0 + kb < depth
                      ? B[size_t(k0 + kb) * b_k + size_t(c) * b_n]
                      : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kSlab; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        a[i] = As[kk][ty + 16 * i];
        b[i] = Bs[kk][tx + 16 * i];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      int r = ty + 16 * i, c = tx + 16 * j;
      if (r >= rows || c >= cols) continue;
      float* out = C + size_t(r) * ldc + c;
      *out = accumulate ? *out + acc[i][j] : acc[i][j];
    }
  }
}

// The same tile on bf16 tensor cores (MatmulPrecision::kBf16): each slab is
// rounded to bf16 as it goes to shared memory ([row][k], padded against bank
// conflicts), and the 8 warps each own 32x16 outputs, 2x2 mma.sync
// m16n8k16 tiles with fp32 accumulators. Fragment layouts are PTX's for
// m16n8k16 .row.col: g = lane / 4 picks a row (A, C) or column (B), t =
// lane % 4 a pair of k (A, B) or columns (C); the lower k sits in the lower
// half of each 32-bit register.
constexpr int kPad = 8;  // halves of padding a shared-memory row

__device__ uint32_t PairAt(const unsigned short* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 16);
}

__device__ void GemmTileBf16(float* C, size_t ldc, bool accumulate,
                             const float* A, size_t a_m, size_t a_k,
                             const float* B, size_t b_k, size_t b_n, int rows,
                             int cols, int depth) {
  __shared__ __align__(16) unsigned short As[kTile][kSlab + kPad];
  __shared__ __align__(16) unsigned short Bs[kTile][kSlab + kPad];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int wm = (warp / 4) * 32, wn = (warp % 4) * 16;
  float acc[2][2][4] = {};
  for (int k0 = 0; k0 < depth; k0 += kSlab) {
    for (int l = 0; l < kSlab * kTile / kThreads; ++l) {
      int e = threadIdx.x + l * kThreads;
      int r = a_k == 1 ? e / kSlab : e % kTile;
      int kk = a_k == 1 ? e % kSlab : e / kTile;
      float a = r < rows && k0 + kk < depth
                    ? A[size_t(r) * a_m + size_t(k0 + kk) * a_k]
                    : 0.0f;
      As[r][kk] = __bfloat16_as_ushort(__float2bfloat16_rn(a));
      int c = b_n == 1 ? e % kTile : e / kSlab;
      int kb = b_n == 1 ? e / kTile : e % kSlab;
      float b = c < cols && k0 + kb < depth
                    ? B[size_t(k0 + kb) * b_k + size_t(c) * b_n]
                    : 0.0f;
      Bs[c][kb] = __bfloat16_as_ushort(__float2bfloat16_rn(b));
    }
    __syncthreads();
    uint32_t a[2][4], b[2][2];
#pragma unroll
    for (int mi = 0; mi < 2; ++mi) {
      const int r = wm + mi * 16 + g;
      a[mi][0] = PairAt(&As[r][2 * t]);
      a[mi][1] = PairAt(&As[r + 8][2 * t]);
      a[mi][2] = PairAt(&As[r][2 * t + 8]);
      a[mi][3] = PairAt(&As[r + 8][2 * t + 8]);
    }
#pragma unroll
    for (int ni = 0; ni < 2; ++ni) {
      const int c = wn + ni * 8 + g;
      b[ni][0] = PairAt(&Bs[c][2 * t]);
      b[ni][1] = PairAt(&Bs[c][2 * t + 8]);
    }
#pragma unroll
    for (int mi = 0; mi < 2; ++mi) {
#pragma unroll
      for (int ni = 0; ni < 2; ++ni) {
        float* d = acc[mi][ni];
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
            "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[mi][0]), "r"(a[mi][1]), "r"(a[mi][2]), "r"(a[mi][3]),
              "r"(b[ni][0]), "r"(b[ni][1]));
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int mi = 0; mi < 2; ++mi) {
#pragma unroll
    for (int ni = 0; ni < 2; ++ni) {
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        const int r = wm + mi * 16 + g + (v / 2) * 8;
        const int c = wn + ni * 8 + 2 * t + v % 2;
        if (r >= rows || c >= cols) continue;
        float* out = C + size_t(r) * ldc + c;
        *out = accumulate ? *out + acc[mi][ni][v] : acc[mi][ni][v];
      }
    }
  }
}

// One body for both precisions: the launch picks the tile.
template <bool kBf16>
__device__ void Tile(float* C, size_t ldc, bool accumulate, const float* A,
                     size_t a_m, size_t a_k, const float* B, size_t b_k,
                     size_t b_n, int rows, int cols, int depth) {
  if constexpr (kBf16) {
    GemmTileBf16(C, ldc, accumulate, A, a_m, a_k, B, b_k, b_n, rows, cols,
                 depth);
  } else {
    GemmTile(C, ldc, accumulate, A, a_m, a_k, B, b_k, b_n, rows, cols, depth);
  }
}

// out[rows of e, :O] = inp[rows of e, :I] W_e^T (forward), or
// dinp[rows of e, :I] = dout[rows of e, :O] W_e (input gradient). Blocks
// past the last row tile return (moe_tiles.h).
template <bool kBf16>
__global__ void GroupedRows(float* out, const float* inp, const float* weight,
                            const int32_t* offsets, int E, int I, int O,
                            bool input_gradient) {
  int e, begin, end;
  if (!LocateRowTile(offsets, E, kTile, blockIdx.x, &e, &begin, &end)) return;
  const float* w = weight + size_t(e) * O * I;
  const int n0 = blockIdx.y * kTile;
  if (!input_gradient) {  // depth I, columns O
    Tile<kBf16>(out + size_t(begin) * O + n0, O, false, inp + size_t(begin) * I,
                I, 1, w + size_t(n0) * I, 1, I, end - begin, min(kTile, O - n0),
                I);
  } else {  // depth O, columns I
    Tile<kBf16>(out + size_t(begin) * I + n0, I, false, inp + size_t(begin) * O,
                O, 1, w + n0, I, 1, end - begin, min(kTile, I - n0), O);
  }
}

// dW_e[O, I] += dout[rows of e]^T inp[rows of e]: the sum runs over the
// expert's rows, so it is grouped along K; an empty expert adds nothing.
template <bool kBf16>
__global__ void GroupedWeight(float* dweight, const float* dout,
                              const float* inp, const int32_t* offsets, int I,
                              int O) {
  const int e = blockIdx.z, o0 = blockIdx.x * kTile, i0 = blockIdx.y * kTile;
  const int begin = offsets[e], rows = offsets[e + 1] - begin;
  if (rows == 0) return;
  Tile<kBf16>(dweight + size_t(e) * O * I + size_t(o0) * I + i0, I, true,
              dout + size_t(begin) * O + o0, 1, O, inp + size_t(begin) * I + i0,
              I, 1, min(kTile, O - o0), min(kTile, I - i0), rows);
}

unsigned TilesOf(int n) { return unsigned((n + kTile - 1) / kTile); }

bool Bf16(const Context& ctx) {
  return ctx.cuda->matmul_precision() == MatmulPrecision::kBf16;
}

}  // namespace

void matmul_forward(const Context& ctx, float* out, const float* inp,
                    const float* weight, int N, int I, int O) {
  // Row-major out[N,O] is column-major out^T[O,N] = W (as I x O)^T inp^T.
  LtGemm(ctx, true, false, O, N, I, weight, I, inp, I, out, O, 0.0f);
}

void matmul_backward(const Context& ctx, float* dinp, float* dweight,
                     const float* dout, const float* inp, const float* weight,
                     int N, int I, int O) {
  // dinp^T[I,N] += W^T[I,O] dout^T[O,N]; dW^T[I,O] += inp^T[I,N] dout[N,O].
  LtGemm(ctx, false, false, I, N, O, weight, I, dout, O, dinp, I, 1.0f);
  LtGemm(ctx, false, true, I, O, N, inp, I, dout, O, dweight, I, 1.0f);
}

void expert_matmul_forward(const Context& ctx, float* out, const float* inp,
                           const float* weight, const int32_t* offsets, int M,
                           int E, int I, int O) {
  if (M == 0 || O == 0) return;
  cudaStream_t stream = cuda_internal::Stream(ctx);  // checks ctx.cuda first
  dim3 grid(unsigned(RowTileBound(M, E, kTile)), TilesOf(O));
  auto kernel = Bf16(ctx) ? GroupedRows<true> : GroupedRows<false>;
  kernel<<<grid, kThreads, 0, stream>>>(out, inp, weight, offsets, E, I, O,
                                        false);
  MOESWEEP_CUDA_LAUNCHED();
}

void expert_matmul_backward(const Context& ctx, float* dinp, float* dweight,
                            const float* dout, const float* inp,
                            const float* weight, const int32_t* offsets, int M,
                            int E, int I, int O) {
  if (M == 0) return;
  cudaStream_t stream = cuda_internal::Stream(ctx);
  if (I > 0) {
    dim3 grid(unsigned(RowTileBound(M, E, kTile)), TilesOf(I));
    auto kernel = Bf16(ctx) ? GroupedRows<true> : GroupedRows<false>;
    kernel<<<grid, kThreads, 0, stream>>>(dinp, dout, weight, offsets, E, I, O,
                                          true);
    MOESWEEP_CUDA_LAUNCHED();
  }
  if (I > 0 && O > 0) {
    dim3 grid(TilesOf(O), TilesOf(I), unsigned(E));
    auto kernel = Bf16(ctx) ? GroupedWeight<true> : GroupedWeight<false>;
    kernel<<<grid, kThreads, 0, stream>>>(dweight, dout, inp, offsets, I, O);
    MOESWEEP_CUDA_LAUNCHED();
  }
}

}  // namespace moesweep::kernels::cuda
