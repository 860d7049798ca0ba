#include <gtest/gtest.h>

#include "tests/kernels/kernel_testing.h"

namespace moesweep::kernels {
namespace {

using testing::ExpectClose;
using testing::Uniform;

TEST(AdamwTest, FirstStepMovesEachParameterByLrTimesSign) {
  // Bias correction makes step 1 exactly lr * g / (|g| + eps) (+ decay).
  std::vector<double> p = {0.5, -0.25, 1.0}, g = {0.2, -3.0, 1e-3};
  std::vector<double> m(3, 0.0), v(3, 0.0);
  ref::adamw_update<double>({}, p.data(), g.data(), m.data(), v.data(), 3, 0.1f,
                            0.9f, 0.95f, 1e-12f, 0.0f, 1.0f, 1);
  EXPECT_NEAR(p[0], 0.4, 1e-7);  // lr is a float
  EXPECT_NEAR(p[1], -0.15, 1e-7);
  EXPECT_NEAR(p[2], 0.9, 1e-6);
}

TEST(AdamwTest, DecayIsDecoupledFromTheGradient) {
  std::vector<float> p = {2.0f}, g = {0.0f}, m = {0.0f}, v = {0.0f};
  ref::adamw_update<float>({}, p.data(), g.data(), m.data(), v.data(), 1, 0.1f,
                           0.9f, 0.95f, 1e-8f, 0.5f, 1.0f, 1);
  EXPECT_FLOAT_EQ(p[0], 2.0f - 0.1f * 0.5f * 2.0f);
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
    ref::adamw_update<float>({}, p1.data(), g.data(), m1.data(), v1.data(), n,
                             1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, step);
    cpu::adamw_update(Context{&pools.three}, p2.data(), g.data(), m2.data(),
                      v2.data(), n, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f,
                      step);
  }
  ExpectClose(p2, p1, 1e-6, 1e-5, "params");
  ExpectClose(m2, m1, 1e-6, 1e-5, "m");
  ExpectClose(v2, v1, 1e-6, 1e-5, "v");
}

TEST(AdamwTest, GradNormMatchesReferenceAndRepeats) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  auto g = Uniform<float>(rng, 100003);
  double want = ref::grad_norm_squared<float>({}, g.data(), g.size());
  double got = cpu::grad_norm_squared(Context{&pools.two}, g.data(), g.size());
  EXPECT_NEAR(got, want, 1e-9 * want);
  EXPECT_EQ(got,
            cpu::grad_norm_squared(Context{&pools.two}, g.data(), g.size()));
}

}  // namespace
}  // namespace moesweep::kernels
