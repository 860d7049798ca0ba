#include <gtest/gtest.h>

#include "tests/kernels/kernel_testing.h"

namespace moesweep::kernels {
namespace {

using testing::ExpectClose;
using testing::NumericGradient;
using testing::Uniform;

TEST(AttentionTest, ReferenceGradientMatchesFiniteDifferences) {
  std::mt19937 rng(testing::KernelSeed());
  const int B = 2, T = 5, C = 8, NH = 2;
  auto qkv = Uniform<double>(rng, B * T * 3 * C);
  auto w = Uniform<double>(rng, B * T * C);
  std::vector<double> out(B * T * C), qkvr(B * T * 3 * C), att(B * NH * T * T);
  auto loss = [&] {
    ref::attention_forward<double>({}, out.data(), qkvr.data(), att.data(),
                                   qkv.data(), B, T, C, NH, 10000.0f);
    return testing::Dot(out, w);
  };
  loss();
  // Causal: nothing above the diagonal; rows sum to one.
  for (int bh = 0; bh < B * NH; ++bh) {
    for (int t = 0; t < T; ++t) {
      double sum = 0;
      for (int u = 0; u < T; ++u) {
        double a = att[(bh * T + t) * T + u];
        if (u > t) {
          EXPECT_EQ(a, 0.0);
        }
        sum += a;
      }
      EXPECT_NEAR(sum, 1.0, 1e-12);
    }
  }
  auto dqkv = Uniform<double>(rng, B * T * 3 * C);  // overwritten
  std::vector<double> datt(B * NH * T * T);
  ref::attention_backward<double>({}, dqkv.data(), datt.data(), w.data(),
                                  qkvr.data(), att.data(), B, T, C, NH,
                                  10000.0f);
  ExpectClose(dqkv, NumericGradient(&qkv, loss), 1e-7, 1e-6, "dqkv");
}

TEST(AttentionTest, RopeMakesScoresDependOnRelativePosition) {
  // The same query/key content at every position: with RoPE, the score of
  // (t, u) depends only on t - u.
  const int T = 6, C = 4, NH = 1;
  std::vector<double> qkv(T * 3 * C);
  for (int t = 0; t < T; ++t) {
    for (int c = 0; c < 3 * C; ++c) qkv[t * 3 * C + c] = 0.3 * (c + 1);
  }
  std::vector<double> out(T * C), qkvr(T * 3 * C), att(T * T);
  ref::attention_forward<double>({}, out.data(), qkvr.data(), att.data(),
                                 qkv.data(), 1, T, C, NH, 10.0f);
  auto score = [&](int t, int u) {
    double s = 0;
    for (int c = 0; c < C; ++c)
      s += qkvr[t * 3 * C + c] * qkvr[u * 3 * C + C + c];
    return s;
  };
  EXPECT_NEAR(score(3, 1), score(5, 3), 1e-12);
  EXPECT_NEAR(score(2, 2), score(4, 4), 1e-12);
  EXPECT_GT(std::fabs(score(3, 1) - score(3, 3)), 1e-3);
}

TEST(AttentionTest, FastMatchesReference) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  // T = 70 is no multiple of the 64-row tile.
  const int B = 2, T = 70, C = 24, NH = 3;
  auto qkv = Uniform<float>(rng, B * T * 3 * C);
  auto dout = Uniform<float>(rng, B * T * C);
  std::vector<float> o1(B * T * C), r1(B * T * 3 * C), a1(B * NH * T * T);
  ref::attention_forward<float>({}, o1.data(), r1.data(), a1.data(), qkv.data(),
                                B, T, C, NH, 10000.0f);
  std::vector<float> d1(B * T * 3 * C), datt(B * NH * T * T);
  ref::attention_backward<float>({}, d1.data(), datt.data(), dout.data(),
                                 r1.data(), a1.data(), B, T, C, NH, 10000.0f);
  for (ThreadPool* pool : pools.All()) {
    Context ctx{pool};
    std::vector<float> o2(B * T * C), r2(B * T * 3 * C), a2(B * NH * T * T);
    cpu::attention_forward(ctx, o2.data(), r2.data(), a2.data(), qkv.data(), B,
                           T, C, NH, 10000.0f);
    ExpectClose(o2, o1, 1e-5, 1e-4, "out");
    ExpectClose(r2, r1, 1e-6, 1e-5, "qkvr");
    ExpectClose(a2, a1, 1e-6, 1e-4, "att");
    std::vector<float> d2(B * T * 3 * C, 5.0f), datt2(B * NH * T * T);
    cpu::attention_backward(ctx, d2.data(), datt2.data(), dout.data(),
                            r1.data(), a1.data(), B, T, C, NH, 10000.0f);
    ExpectClose(d2, d1, 1e-5, 1e-4, "dqkv");
  }
}

}  // namespace
}  // namespace moesweep::kernels
