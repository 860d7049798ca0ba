// BuiltinSgemm: the GEMM used where OpenBLAS is absent. The classic
// Goto/BLIS layout: op(B) is packed in kKc x kNc blocks of kNr-wide strips,
// op(A) (scaled by alpha) in kMc x kKc blocks of kMr-tall strips, and a
// kMr x kNr micro-kernel keeps its tile of C in registers across the whole
// k loop. Packing pads edges with zeros, so the micro-kernel has no edge
// cases; only the write-back clips. On x86-64 the micro-kernel is also built
// for x86-64-v3 (AVX2 + FMA) and picked at load time.

#include <algorithm>

#include "kernels/gemm.h"

namespace moesweep::kernels {

namespace {

constexpr int kMr = 4;
constexpr int kNr = 16;
constexpr int kKc = 256;
constexpr int kMc = 64;
constexpr int kNc = 128;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MOESWEEP_GEMM_CLONES \
  __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MOESWEEP_GEMM_CLONES
#endif

// Eight floats as one value (a GCC/Clang vector extension): the compiler
// keeps the whole kMr x kNr tile in eight of them, in registers.
typedef float Vec8 __attribute__((vector_size(32), aligned(4), may_alias));
static_assert(kNr == 16, "the micro-kernel holds a row as two Vec8");

// acc[kMr][kNr] = sum_k ap[k][i] bp[k][j]. bp is 32-byte aligned.
MOESWEEP_GEMM_CLONES
void MicroKernel(int kc, const float* ap, const float* bp, float* acc) {
  Vec8 c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {}, c30 = {},
       c31 = {};
  for (int k = 0; k < kc; ++k) {
    Vec8 b0 = *reinterpret_cast<const Vec8*>(bp + k * kNr);
    Vec8 b1 = *reinterpret_cast<const Vec8*>(bp + k * kNr + 8);
    const float* a = ap + k * kMr;
    c00 += a[0] * b0;
    c01 += a[0] * b1;
    c10 += a[1] * b0;
    c11 += a[1] * b1;
    c20 += a[2] * b0;
    c21 += a[2] * b1;
    c30 += a[3] * b0;
    c31 += a[3] * b1;
  }
  Vec8* out = reinterpret_cast<Vec8*>(acc);
  out[0] = c00;
  out[1] = c01;
  out[2] = c10;
  out[3] = c11;
  out[4] = c20;
  out[5] = c21;
  out[6] = c30;
  out[7] = c31;
}

}  // namespace

void BuiltinSgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                  const float* A, int lda, const float* B, int ldb, float beta,
                  float* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      C[i * ldc + j] = beta == 0 ? 0.0f : beta * C[i * ldc + j];
    }
  }
  alignas(64) float bp[kKc * kNc];
  alignas(64) float ap[kMc * kKc];
  alignas(64) float acc[kMr * kNr];
  auto a_at = [&](int i, int k) {
    return trans_a ? A[k * lda + i] : A[i * lda + k];
  };
  auto b_at = [&](int k, int j) {
    return trans_b ? B[j * ldb + k] : B[k * ldb + j];
  };
  for (int jc = 0; jc < N; jc += kNc) {
    int nc = std::min(kNc, N - jc);
    int strips_n = (nc + kNr - 1) / kNr;
    for (int pc = 0; pc < K; pc += kKc) {
      int kc = std::min(kKc, K - pc);
      for (int s = 0; s < strips_n; ++s) {
        float* strip = bp + s * kc * kNr;
        for (int k = 0; k < kc; ++k) {
          for (int j = 0; j < kNr; ++j) {
            int col = s * kNr + j;
            strip[k * kNr + j] = col < nc ? b_at(pc + k, jc + col) : 0.0f;
          }
        }
      }
      for (int ic = 0; ic < M; ic += kMc) {
        int mc = std::min(kMc, M - ic);
        int strips_m = (mc + kMr - 1) / kMr;
        for (int s = 0; s < strips_m; ++s) {
          float* strip = ap + s * kc * kMr;
          for (int k = 0; k < kc; ++k) {
            for (int i = 0; i < kMr; ++i) {
              int row = s * kMr + i;
              strip[k * kMr + i] =
                  row < mc ? alpha * a_at(ic + row, pc + k) : 0.0f;
            }
          }
        }
        for (int sn = 0; sn < strips_n; ++sn) {
          for (int sm = 0; sm < strips_m; ++sm) {
            MicroKernel(kc, ap + sm * kc * kMr, bp + sn * kc * kNr, acc);
            int rows = std::min(kMr, mc - sm * kMr);
            int cols = std::min(kNr, nc - sn * kNr);
            for (int i = 0; i < rows; ++i) {
              float* c = C + (ic + sm * kMr + i) * ldc + jc + sn * kNr;
              for (int j = 0; j < cols; ++j) c[j] += acc[i * kNr + j];
            }
          }
        }
      }
    }
  }
}

}  // namespace moesweep::kernels
