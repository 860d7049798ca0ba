// Single-threaded fp32 GEMM, the building block of the fast ops (callers
// split work across the ThreadPool themselves). Internal to kernels/.

#ifndef MOESWEEP_KERNELS_GEMM_H_
#define MOESWEEP_KERNELS_GEMM_H_

namespace moesweep::kernels {

// C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C, row-major, where op(X)
// is X or its transpose; lda/ldb/ldc are the row strides of A, B, C as
// stored. Uses OpenBLAS's cblas_sgemm when the build found it, else
// BuiltinSgemm. beta == 0 overwrites C without reading it.
void Sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
           const float* A, int lda, const float* B, int ldb, float beta,
           float* C, int ldc);

// Our own cache-blocked GEMM, the fallback when there is no OpenBLAS; always
// built so tests check it.
void BuiltinSgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                  const float* A, int lda, const float* B, int ldb, float beta,
                  float* C, int ldc);

// Sets the GEMM library's own thread count (no-op for the builtin GEMM).
void SetGemmLibraryThreads(int threads);

}  // namespace moesweep::kernels

#endif  // MOESWEEP_KERNELS_GEMM_H_
