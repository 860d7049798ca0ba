// Sgemm dispatch and the builtin blocked GEMM.

#include "kernels/gemm.h"

#include <algorithm>

#include "kernels/kernels.h"

#ifdef MOESWEEP_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace moesweep::kernels {

namespace {

// Panels of op(B) of kKc x kNc floats (64 KiB) are packed contiguous so the
// inner loop streams them and the compiler vectorises it over j.
constexpr int kKc = 128;
constexpr int kNc = 128;

}  // namespace

void BuiltinSgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                  const float* A, int lda, const float* B, int ldb, float beta,
                  float* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      C[i * ldc + j] = beta == 0 ? 0.0f : beta * C[i * ldc + j];
    }
  }
  alignas(64) float panel[kKc * kNc];
  for (int j0 = 0; j0 < N; j0 += kNc) {
    int nc = std::min(kNc, N - j0);
    for (int k0 = 0; k0 < K; k0 += kKc) {
      int kc = std::min(kKc, K - k0);
      for (int k = 0; k < kc; ++k) {
        for (int j = 0; j < nc; ++j) {
          panel[k * nc + j] =
              trans_b ? B[(j0 + j) * ldb + k0 + k] : B[(k0 + k) * ldb + j0 + j];
        }
      }
      for (int i = 0; i < M; ++i) {
        float* c = C + i * ldc + j0;
        for (int k = 0; k < kc; ++k) {
          float a =
              alpha * (trans_a ? A[(k0 + k) * lda + i] : A[i * lda + k0 + k]);
          const float* p = panel + k * nc;
          for (int j = 0; j < nc; ++j) c[j] += a * p[j];
        }
      }
    }
  }
}

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
