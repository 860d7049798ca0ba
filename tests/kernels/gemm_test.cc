#include "kernels/gemm.h"

#include <gtest/gtest.h>

#include "tests/kernels/kernel_testing.h"

namespace moesweep::kernels {
namespace {

using testing::ExpectClose;
using testing::Uniform;

// Naive row-major op(A) op(B) in double.
std::vector<double> Naive(bool ta, bool tb, int M, int N, int K,
                          const std::vector<float>& A, int lda,
                          const std::vector<float>& B, int ldb, float beta,
                          const std::vector<float>& C, int ldc) {
  std::vector<double> out(C.begin(), C.end());
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      double s = 0;
      for (int k = 0; k < K; ++k) {
        s += double(ta ? A[k * lda + i] : A[i * lda + k]) *
             double(tb ? B[j * ldb + k] : B[k * ldb + j]);
      }
      out[i * ldc + j] = s + beta * C[i * ldc + j];
    }
  }
  return out;
}

class GemmTest : public ::testing::TestWithParam<bool> {};

TEST_P(GemmTest, MatchesNaiveForEveryTransposeAndOddSizes) {
  std::mt19937 rng(testing::KernelSeed());
  auto gemm = GetParam() ? BuiltinSgemm : Sgemm;
  // Sizes off every block and tile of the builtin GEMM (kMr 4, kNr 16, kMc
  // 64, kNc 128, kKc 256), with padded strides.
  for (auto [M, N, K] : {std::tuple{1, 1, 1},
                         {7, 13, 5},
                         {67, 131, 129},
                         {130, 3, 257},
                         {5, 0, 4},
                         {4, 6, 0}}) {
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        for (float beta : {0.0f, 1.0f}) {
          int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
          auto A = Uniform<float>(rng, size_t(ta ? K : M) * lda);
          auto B = Uniform<float>(rng, size_t(tb ? N : K) * ldb);
          auto C = Uniform<float>(rng, size_t(M) * ldc);
          auto want = Naive(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
          gemm(ta, tb, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, beta,
               C.data(), ldc);
          // Only the M x N block may change; the padding column stays.
          ExpectClose(C, want, 1e-5, 1e-4,
                      "M=" + std::to_string(M) + " N=" + std::to_string(N) +
                          " K=" + std::to_string(K) + " ta=" +
                          std::to_string(ta) + " tb=" + std::to_string(tb));
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, GemmTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "Builtin" : "Dispatched";
                         });

}  // namespace
}  // namespace moesweep::kernels
