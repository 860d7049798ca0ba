// Dense matmuls through cuBLASLt and the grouped expert matmuls, ours: the
// expert row segments live on the device, and cuBLASLt (CUDA 13.0) has no
// grouped GEMM that reads sizes from device memory.

#include <cublasLt.h>

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

// Column-major C[m,n] = op(A) op(B) + beta C in fp32 (CUBLAS_COMPUTE_32F:
// no TF32, so results match the reference to fp32 rounding). Row-major
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
  LtCheck(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F),
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

// out[rows of e, :O] = inp[rows of e, :I] W_e^T (forward), or
// dinp[rows of e, :I] = dout[rows of e, :O] W_e (input gradient). Blocks
// past the last row tile return (moe_tiles.h).
__global__ void GroupedRows(float* out, const float* inp, const float* weight,
                            const int32_t* offsets, int E, int I, int O,
                            bool input_gradient) {
  int e, begin, end;
  if (!LocateRowTile(offsets, E, kTile, blockIdx.x, &e, &begin, &end)) return;
  const float* w = weight + size_t(e) * O * I;
  const int n0 = blockIdx.y * kTile;
  if (!input_gradient) {  // depth I, columns O
    GemmTile(out + size_t(begin) * O + n0, O, false, inp + size_t(begin) * I, I,
             1, w + size_t(n0) * I, 1, I, end - begin, min(kTile, O - n0), I);
  } else {  // depth O, columns I
    GemmTile(out + size_t(begin) * I + n0, I, false, inp + size_t(begin) * O, O,
             1, w + n0, I, 1, end - begin, min(kTile, I - n0), O);
  }
}

// dW_e[O, I] += dout[rows of e]^T inp[rows of e]: the sum runs over the
// expert's rows, so it is grouped along K; an empty expert adds nothing.
__global__ void GroupedWeight(float* dweight, const float* dout,
                              const float* inp, const int32_t* offsets, int I,
                              int O) {
  const int e = blockIdx.z, o0 = blockIdx.x * kTile, i0 = blockIdx.y * kTile;
  const int begin = offsets[e], rows = offsets[e + 1] - begin;
  if (rows == 0) return;
  GemmTile(dweight + size_t(e) * O * I + size_t(o0) * I + i0, I, true,
           dout + size_t(begin) * O + o0, 1, O, inp + size_t(begin) * I + i0, I,
           1, min(kTile, O - o0), min(kTile, I - i0), rows);
}

unsigned TilesOf(int n) { return unsigned((n + kTile - 1) / kTile); }

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
  dim3 grid(unsigned(RowTileBound(M, E, kTile)), TilesOf(O));
  GroupedRows<<<grid, kThreads, 0, cuda_internal::Stream(ctx)>>>(
      out, inp, weight, offsets, E, I, O, false);
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
    GroupedRows<<<grid, kThreads, 0, stream>>>(dinp, dout, weight, offsets, E,
                                               I, O, true);
    MOESWEEP_CUDA_LAUNCHED();
  }
  if (I > 0 && O > 0) {
    dim3 grid(TilesOf(O), TilesOf(I), unsigned(E));
    GroupedWeight<<<grid, kThreads, 0, stream>>>(dweight, dout, inp, offsets, I,
                                                 O);
    MOESWEEP_CUDA_LAUNCHED();
  }
}

}  // namespace moesweep::kernels::cuda
