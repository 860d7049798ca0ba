#include <gtest/gtest.h>

#include <cmath>

#include "tests/kernels/kernel_testing.h"

namespace moesweep::kernels {
namespace {

using testing::ExpectClose;
using testing::NumericGradient;
using testing::Uniform;

TEST(AttentionTest, ReferenceGradientMatchesFiniteDifferences) {
  std::mt19937 rng(testing::KernelSeed());
  const int B = 2, T = 5, C = 8, NH = 2, hs = C / NH;
  auto qkv = Uniform<double>(rng, B * T * 3 * C);
  auto w = Uniform<double>(rng, B * T * C);
  std::vector<double> out(B * T * C), qkvr(B * T * 3 * C), lse(B * NH * T);
  auto loss = [&] {
    ref::attention_forward<double>({}, out.data(), qkvr.data(), lse.data(),
                                   qkv.data(), B, T, C, NH, 10000.0f);
    return testing::Dot(out, w);
  };
  loss();
  // lse is each row's normaliser: the probabilities it gives over the keys
  // up to the row sum to one.
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < NH; ++h) {
      for (int t = 0; t < T; ++t) {
        double sum = 0;
        for (int u = 0; u <= t; ++u) {
          double s = 0;
          for (int i = 0; i < hs; ++i) {
            s += qkvr[(b * T + t) * 3 * C + h * hs + i] *
                 qkvr[(b * T + u) * 3 * C + C + h * hs + i];
          }
          sum +=
              std::exp(s / std::sqrt(double(hs)) - lse[(b * NH + h) * T + t]);
        }
        EXPECT_NEAR(sum, 1.0, 1e-12);
      }
    }
  }
  auto dqkv = Uniform<double>(rng, B * T * 3 * C);  // overwritten
  std::vector<double> delta(B * NH * T);
  ref::attention_backward<double>({}, dqkv.data(), delta.data(), w.data(),
                                  qkvr.data(), out.data(), lse.data(), B, T, C,
                                  NH, 10000.0f);
  ExpectClose(dqkv, NumericGradient(&qkv, loss), 1e-7, 1e-6, "dqkv");
}

TEST(AttentionTest, NoRowSeesALaterPosition) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  const int T = 70, C = 16, NH = 2, cut = 40;
  auto qkv = Uniform<float>(rng, T * 3 * C);
  for (ThreadPool* pool : pools.All()) {
    std::vector<float> out1(T * C), out2(T * C), qkvr(T * 3 * C), lse(NH * T);
    cpu::attention_forward({pool}, out1.data(), qkvr.data(), lse.data(),
                           qkv.data(), 1, T, C, NH, 10000.0f);
    auto changed = qkv;
    for (int i = (cut + 1) * 3 * C; i < T * 3 * C; ++i) changed[i] += 1.0f;
    cpu::attention_forward({pool}, out2.data(), qkvr.data(), lse.data(),
                           changed.data(), 1, T, C, NH, 10000.0f);
    for (int i = 0; i < (cut + 1) * C; ++i) ASSERT_EQ(out1[i], out2[i]) << i;
    EXPECT_NE(out1[T * C - 1], out2[T * C - 1]);
  }
}

TEST(AttentionTest, RopeMakesScoresDependOnRelativePosition) {
  // The same query/key content at every position: with RoPE, the score of
  // (t, u) depends only on t - u.
  const int T = 6, C = 4, NH = 1;
  std::vector<double> qkv(T * 3 * C);
  for (int t = 0; t < T; ++t) {
    for (int c = 0; c < 3 * C; ++c) qkv[t * 3 * C + c] = 0.3 * (c + 1);
  }
  std::vector<double> out(T * C), qkvr(T * 3 * C), lse(T);
  ref::attention_forward<double>({}, out.data(), qkvr.data(), lse.data(),
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
  const int n_qkv = B * T * 3 * C, n_row = B * NH * T;
  auto qkv = Uniform<float>(rng, n_qkv);
  auto dout = Uniform<float>(rng, B * T * C);
  std::vector<float> o1(B * T * C), r1(n_qkv), l1(n_row);
  ref::attention_forward<float>({}, o1.data(), r1.data(), l1.data(), qkv.data(),
                                B, T, C, NH, 10000.0f);
  std::vector<float> d1(n_qkv), delta1(n_row);
  ref::attention_backward<float>({}, d1.data(), delta1.data(), dout.data(),
                                 r1.data(), o1.data(), l1.data(), B, T, C, NH,
                                 10000.0f);
  for (ThreadPool* pool : pools.All()) {
    Context ctx{pool};
    std::vector<float> o2(B * T * C), r2(n_qkv), l2(n_row);
    cpu::attention_forward(ctx, o2.data(), r2.data(), l2.data(), qkv.data(), B,
                           T, C, NH, 10000.0f);
    ExpectClose(o2, o1, 1e-5, 1e-4, "out");
    ExpectClose(r2, r1, 1e-6, 1e-5, "qkvr");
    ExpectClose(l2, l1, 1e-5, 1e-5, "lse");
    std::vector<float> d2(n_qkv, 5.0f), delta2(n_row, 5.0f);
    cpu::attention_backward(ctx, d2.data(), delta2.data(), dout.data(),
                            r1.data(), o1.data(), l1.data(), B, T, C, NH,
                            10000.0f);
    ExpectClose(d2, d1, 1e-5, 1e-4, "dqkv");
    ExpectClose(delta2, delta1, 1e-6, 1e-5, "delta");
  }
}

}  // namespace
}  // namespace moesweep::kernels
