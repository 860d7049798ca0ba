#include <gtest/gtest.h>

#include "tests/kernels/kernel_testing.h"

namespace moesweep::kernels {
namespace {

using testing::ExpectClose;
using testing::Uniform;

AdamwStep Settings(float lr, float weight_decay, int step) {
  AdamwStep s;
  s.lr = lr;
  s.beta1 = 0.9f;
  s.beta2 = 0.95f;
  s.eps = 1e-8f;
  s.weight_decay = weight_decay;
  s.step = step;
  return s;
}

TEST(AdamwTest, FirstStepMovesEachParameterByLrTimesSign) {
  // Bias correction makes step 1 exactly lr * g / (|g| + eps) (+ decay).
  std::vector<double> p = {0.5, -0.25, 1.0}, g = {0.2, -3.0, 1e-3};
  std::vector<double> m(3, 0.0), v(3, 0.0);
  AdamwStep s = Settings(0.1f, 0.0f, 1);
  s.eps = 1e-12f;
  ref::adamw_update<double>({}, p.data(), g.data(), m.data(), v.data(), 3, &s,
                            true);
  EXPECT_NEAR(p[0], 0.4, 1e-7);  // lr is a float
  EXPECT_NEAR(p[1], -0.15, 1e-7);
  EXPECT_NEAR(p[2], 0.9, 1e-6);
}

TEST(AdamwTest, DecayIsDecoupledFromTheGradientAndOnlyWhereAsked) {
  std::vector<float> p = {2.0f, 2.0f}, g = {0.0f, 0.0f}, m = {0, 0}, v = {0, 0};
  AdamwStep s = Settings(0.1f, 0.5f, 1);
  ref::adamw_update<float>({}, p.data(), g.data(), m.data(), v.data(), 1, &s,
                           true);
  ref::adamw_update<float>({}, p.data() + 1, g.data() + 1, m.data() + 1,
                           v.data() + 1, 1, &s, false);
  EXPECT_FLOAT_EQ(p[0], 2.0f - 0.1f * 0.5f * 2.0f);
  EXPECT_FLOAT_EQ(p[1], 2.0f);
}

TEST(AdamwTest, ClipScalesTheGradientsToMaxNormOnlyAboveIt) {
  AdamwStep s;
  s.norm_squared = 16.0;  // norm 4
  s.max_norm = 0;
  EXPECT_EQ(AdamwClipScale(s), 1.0f);  // no clip asked
  s.max_norm = 5;
  EXPECT_EQ(AdamwClipScale(s), 1.0f);  // below the bound
  s.max_norm = 1;
  EXPECT_FLOAT_EQ(AdamwClipScale(s), 0.25f);
  // An update with the clip equals one on gradients scaled by hand.
  std::mt19937 rng(testing::KernelSeed());
  const size_t n = 301;
  auto g = Uniform<float>(rng, n);
  std::vector<float> scaled(g);
  for (float& x : scaled) x *= 0.25f;
  auto p1 = Uniform<float>(rng, n);
  auto p2 = p1;
  std::vector<float> m1(n, 0.01f), v1(n, 0.02f), m2(m1), v2(v1);
  AdamwStep clipped = Settings(1e-2f, 0.1f, 3), plain = clipped;
  clipped.norm_squared = 16.0;
  clipped.max_norm = 1;
  ref::adamw_update<float>({}, p1.data(), g.data(), m1.data(), v1.data(), n,
                           &clipped, true);
  ref::adamw_update<float>({}, p2.data(), scaled.data(), m2.data(), v2.data(),
                           n, &plain, true);
  ExpectClose(p1, p2, 0, 1e-6, "params");
  ExpectClose(m1, m2, 0, 1e-6, "m");
}

TEST(AdamwTest, FastMatchesReferenceOverSeveralSteps) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  const size_t n = 1003;
  auto p1 = Uniform<float>(rng, n);
  std::vector<float> m1(n, 0.0f), v1(n, 0.0f);
  auto p2 = p1, m2 = m1, v2 = v1;
  for (int step = 1; step <= 5; ++step) {
    auto g = Uniform<float>(rng, n);
    AdamwStep s = Settings(1e-2f, 0.1f, step);
    s.max_norm = 2.0f;
    s.norm_squared = 9.0 + step;  // clips every step, by a varying factor
    ref::adamw_update<float>({}, p1.data(), g.data(), m1.data(), v1.data(), n,
                             &s, step % 2 == 1);
    cpu::adamw_update(Context{&pools.three}, p2.data(), g.data(), m2.data(),
                      v2.data(), n, &s, step % 2 == 1);
  }
  ExpectClose(p2, p1, 1e-6, 1e-5, "params");
  ExpectClose(m2, m1, 1e-6, 1e-5, "m");
  ExpectClose(v2, v1, 1e-6, 1e-5, "v");
}

TEST(AdamwTest, GradNormMatchesReferenceAndRepeats) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  auto g = Uniform<float>(rng, 100003);
  double want = -1, got = -1, again = -2;
  ref::grad_norm_squared<float>({}, &want, g.data(), g.size());
  cpu::grad_norm_squared(Context{&pools.two}, &got, g.data(), g.size());
  EXPECT_NEAR(got, want, 1e-9 * want);
  cpu::grad_norm_squared(Context{&pools.two}, &again, g.data(), g.size());
  EXPECT_EQ(got, again);
}

}  // namespace
}  // namespace moesweep::kernels
