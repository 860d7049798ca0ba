// Sgemm: OpenBLAS when the build found it, else BuiltinSgemm
// (gemm_builtin.cc).

#include "kernels/gemm.h"

#include "kernels/kernels.h"

#ifdef MOESWEEP_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace moesweep::kernels {

#ifdef MOESWEEP_HAVE_OPENBLAS

void Sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
           const float* A, int lda, const float* B, int ldb, float beta,
           float* C, int ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // OpenBLAS rejects a zero leading dimension; C = beta C.
    BuiltinSgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C,
                 ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B,
              ldb, beta, C, ldc);
}

void SetGemmLibraryThreads(int threads) { openblas_set_num_threads(threads); }

const char* GemmBackend() { return "openblas"; }

#else

void Sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
           const float* A, int lda, const float* B, int ldb, float beta,
           float* C, int ldc) {
  BuiltinSgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void SetGemmLibraryThreads(int) {}

const char* GemmBackend() { return "builtin"; }

#endif

}  // namespace moesweep::kernels
