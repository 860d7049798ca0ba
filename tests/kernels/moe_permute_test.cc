#include <gtest/gtest.h>

#include "tests/kernels/kernel_testing.h"

namespace moesweep::kernels {
namespace {

using testing::ExpectClose;
using testing::NumericGradient;
using testing::Uniform;

// Expert 2 of 4 is chosen by nobody.
const std::vector<int32_t> kExpert = {3, 0, 1, 0, 0, 3, 1, 3, 0, 1};
const std::vector<int32_t> kCounts = {4, 3, 0, 3};
constexpr int kN = 5, kK = 2, kE = 4;

TEST(MoePermuteTest, OrdersRowsByExpertThenToken) {
  const int C = 1;
  std::vector<float> x = {10, 11, 12, 13, 14}, xp(kN * kK);
  std::vector<int32_t> offsets(kE + 1), slot(kN * kK);
  ref::moe_permute_forward<float>({}, xp.data(), offsets.data(), slot.data(),
                                  x.data(), kExpert.data(), kCounts.data(), kN,
                                  C, kE, kK);
  EXPECT_EQ(offsets, (std::vector<int32_t>{0, 4, 7, 7, 10}));
  EXPECT_EQ(xp, (std::vector<float>{10, 11, 12, 14, 11, 13, 14, 10, 12, 13}));
}

TEST(MoePermuteTest, ReferenceGradientsMatchFiniteDifferences) {
  std::mt19937 rng(testing::KernelSeed());
  const int C = 3, M = kN * kK;
  auto x = Uniform<double>(rng, kN * C);
  auto yp = Uniform<double>(rng, M * C);
  auto gate = Uniform<double>(rng, kN * kK);
  auto w = Uniform<double>(rng, M * C), w_out = Uniform<double>(rng, kN * C);
  std::vector<double> xp(M * C), out(kN * C);
  std::vector<int32_t> offsets(kE + 1), slot(M);
  auto permute_loss = [&] {
    ref::moe_permute_forward<double>({}, xp.data(), offsets.data(), slot.data(),
                                     x.data(), kExpert.data(), kCounts.data(),
                                     kN, C, kE, kK);
    return testing::Dot(xp, w);
  };
  permute_loss();
  std::vector<double> dx(kN * C, 0.0);
  ref::moe_permute_backward<double>({}, dx.data(), w.data(), slot.data(), kN, C,
                                    kK);
  ExpectClose(dx, NumericGradient(&x, permute_loss), 1e-7, 1e-6, "dx");
  auto combine_loss = [&] {
    ref::moe_unpermute_forward<double>({}, out.data(), yp.data(), gate.data(),
                                       slot.data(), kN, C, kK);
    return testing::Dot(out, w_out);
  };
  std::vector<double> dyp(M * C), dgate(kN * kK);
  ref::moe_unpermute_backward<double>({}, dyp.data(), dgate.data(),
                                      w_out.data(), yp.data(), gate.data(),
                                      slot.data(), kN, C, kK);
  ExpectClose(dyp, NumericGradient(&yp, combine_loss), 1e-7, 1e-6, "dyp");
  ExpectClose(dgate, NumericGradient(&gate, combine_loss), 1e-7, 1e-6, "dgate");
}

TEST(MoePermuteTest, FastMatchesReference) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  const int N = 61, C = 13, E = 6, K = 2, M = N * K;
  std::vector<int32_t> expert(M), counts(E, 0);
  for (int n = 0; n < N; ++n) {
    // Two distinct experts per token; expert 4 gets none.
    int a = int(rng() % 4), b = (a + 1 + int(rng() % 3)) % 4;
    expert[n * K] = a;
    expert[n * K + 1] = b == 0 ? 5 : b;
  }
  for (int e : expert) ++counts[e];
  auto x = Uniform<float>(rng, N * C), gate = Uniform<float>(rng, N * K);
  auto dout = Uniform<float>(rng, N * C), dxp = Uniform<float>(rng, M * C);
  std::vector<float> xp1(M * C), out1(N * C), dyp1(M * C), dg1(N * K);
  std::vector<int32_t> off1(E + 1), slot1(M);
  ref::moe_permute_forward<float>({}, xp1.data(), off1.data(), slot1.data(),
                                  x.data(), expert.data(), counts.data(), N, C,
                                  E, K);
  ref::moe_unpermute_forward<float>({}, out1.data(), xp1.data(), gate.data(),
                                    slot1.data(), N, C, K);
  ref::moe_unpermute_backward<float>({}, dyp1.data(), dg1.data(), dout.data(),
                                     xp1.data(), gate.data(), slot1.data(), N,
                                     C, K);
  auto dx1 = Uniform<float>(rng, N * C);
  auto dx2 = dx1;
  ref::moe_permute_backward<float>({}, dx1.data(), dxp.data(), slot1.data(), N,
                                   C, K);
  for (ThreadPool* pool : pools.All()) {
    Context ctx{pool};
    std::vector<float> xp2(M * C), out2(N * C), dyp2(M * C), dg2(N * K);
    std::vector<int32_t> off2(E + 1), slot2(M);
    cpu::moe_permute_forward(ctx, xp2.data(), off2.data(), slot2.data(),
                             x.data(), expert.data(), counts.data(), N, C, E,
                             K);
    EXPECT_EQ(off2, off1);
    EXPECT_EQ(slot2, slot1);
    ExpectClose(xp2, xp1, 0, 0, "xp");
    cpu::moe_unpermute_forward(ctx, out2.data(), xp1.data(), gate.data(),
                               slot1.data(), N, C, K);
    ExpectClose(out2, out1, 1e-6, 1e-5, "out");
    cpu::moe_unpermute_backward(ctx, dyp2.data(), dg2.data(), dout.data(),
                                xp1.data(), gate.data(), slot1.data(), N, C, K);
    ExpectClose(dyp2, dyp1, 1e-6, 1e-5, "dyp");
    ExpectClose(dg2, dg1, 1e-5, 1e-5, "dgate");
    auto dx = dx2;
    cpu::moe_permute_backward(ctx, dx.data(), dxp.data(), slot1.data(), N, C,
                              K);
    ExpectClose(dx, dx1, 1e-6, 1e-5, "dx");
  }
}

}  // namespace
}  // namespace moesweep::kernels
