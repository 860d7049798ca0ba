#include <gtest/gtest.h>

#include "tests/kernels/kernel_testing.h"

namespace moesweep::kernels {
namespace {

using testing::ExpectClose;
using testing::Uniform;

TEST(CrossentropyTest, ReferenceGradientMatchesFiniteDifferences) {
  std::mt19937 rng(testing::KernelSeed());
  const int N = 4, V = 7;
  auto logits = Uniform<double>(rng, N * V, -3, 3);
  std::vector<int32_t> targets = {0, 6, 3, 3};
  std::vector<double> losses(N), probs(N * V);
  const double dloss = 1.0 / N;
  auto loss = [&] {
    ref::crossentropy_forward<double>({}, losses.data(), probs.data(),
                                      logits.data(), targets.data(), N, V);
    double s = 0;
    for (double l : losses) s += l * dloss;
    return s;
  };
  loss();
  std::vector<double> dlogits(N * V);
  ref::crossentropy_backward<double>({}, dlogits.data(), probs.data(),
                                     targets.data(), dloss, N, V);
  ExpectClose(dlogits, testing::NumericGradient(&logits, loss), 1e-8, 1e-6,
              "dlogits");
}

TEST(CrossentropyTest, UniformLogitsGiveLogV) {
  const int N = 2, V = 256;
  std::vector<float> logits(N * V, 0.37f), losses(N), probs(N * V);
  std::vector<int32_t> targets = {5, 255};
  ref::crossentropy_forward<float>({}, losses.data(), probs.data(),
                                   logits.data(), targets.data(), N, V);
  EXPECT_NEAR(losses[0], std::log(256.0), 1e-5);
  EXPECT_NEAR(losses[1], std::log(256.0), 1e-5);
}

TEST(CrossentropyTest, FastMatchesReference) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  const int N = 45, V = 259;
  auto logits = Uniform<float>(rng, N * V, -5, 5);
  std::vector<int32_t> targets(N);
  for (int32_t& t : targets) t = int32_t(rng() % V);
  std::vector<float> l1(N), p1(N * V), d1(N * V);
  ref::crossentropy_forward<float>({}, l1.data(), p1.data(), logits.data(),
                                   targets.data(), N, V);
  ref::crossentropy_backward<float>({}, d1.data(), p1.data(), targets.data(),
                                    1.0f / N, N, V);
  for (ThreadPool* pool : pools.All()) {
    Context ctx{pool};
    std::vector<float> l2(N), p2(N * V), d2(N * V);
    cpu::crossentropy_forward(ctx, l2.data(), p2.data(), logits.data(),
                              targets.data(), N, V);
    cpu::crossentropy_backward(ctx, d2.data(), p1.data(), targets.data(),
                               1.0f / N, N, V);
    ExpectClose(l2, l1, 1e-5, 1e-5, "losses");
    ExpectClose(p2, p1, 1e-7, 1e-5, "probs");
    ExpectClose(d2, d1, 1e-8, 1e-5, "dlogits");
  }
}

}  // namespace
}  // namespace moesweep::kernels
