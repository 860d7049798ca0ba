#include <gtest/gtest.h>

#include "tests/kernels/kernel_testing.h"

namespace moesweep::kernels {
namespace {

using testing::ExpectClose;
using testing::Uniform;

TEST(RouterTest, ReferenceGradientMatchesFiniteDifferences) {
  std::mt19937 rng(testing::KernelSeed());
  const int N = 6, E = 5, K = 2;
  auto logits = Uniform<double>(rng, N * E, -2, 2);
  auto wg = Uniform<double>(rng, N * K);
  const double daux = 0.7, dz = 0.3;
  std::vector<double> probs(N * E), lse(N), gate(N * K);
  std::vector<int32_t> expert(N * K), counts(E);
  auto loss = [&] {
    ref::router_forward<double>({}, probs.data(), lse.data(), expert.data(),
                                gate.data(), counts.data(), logits.data(), N, E,
                                K);
    double aux, z;
    ref::router_loss_forward<double>({}, &aux, &z, probs.data(), lse.data(),
                                     counts.data(), N, E, K);
    return testing::Dot(gate, wg) + daux * aux + dz * z;
  };
  loss();
  std::vector<double> dlogits(N * E);
  ref::router_backward<double>({}, dlogits.data(), wg.data(), probs.data(),
                               lse.data(), expert.data(), counts.data(), daux,
                               dz, N, E, K);
  ExpectClose(dlogits, testing::NumericGradient(&logits, loss), 1e-7, 1e-6,
              "dlogits");
}

TEST(RouterTest, TiesGoToTheLowerIndexAndCountsAreAHistogram) {
  const int N = 3, E = 4, K = 2;
  std::vector<float> logits = {0.5f, 0.9f, 0.9f, 0.1f,   // tie for first
                               0.9f, 0.2f, 0.9f, 0.9f,   // three-way tie
                               0.0f, 0.0f, 0.0f, 0.0f};  // all tied
  std::vector<int32_t> want = {1, 2, 0, 2, 0, 1};
  std::vector<int32_t> want_counts = {2, 2, 2, 0};  // expert 3: no tokens
  testing::Pools pools;
  for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pools.two}) {
    Context ctx{pool};
    std::vector<float> probs(N * E), lse(N), gate(N * K);
    std::vector<int32_t> expert(N * K), counts(E);
    if (pool == nullptr) {
      ref::router_forward<float>(ctx, probs.data(), lse.data(), expert.data(),
                                 gate.data(), counts.data(), logits.data(), N,
                                 E, K);
    } else {
      cpu::router_forward(ctx, probs.data(), lse.data(), expert.data(),
                          gate.data(), counts.data(), logits.data(), N, E, K);
    }
    EXPECT_EQ(expert, want);
    EXPECT_EQ(counts, want_counts);
    EXPECT_FLOAT_EQ(gate[4], 0.25f);
  }
}

TEST(RouterTest, FastMatchesReference) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  const int N = 53, E = 8, K = 3;
  auto logits = Uniform<float>(rng, N * E, -3, 3);
  // Hard case: some rows entirely tied.
  for (int e = 0; e < E; ++e) logits[5 * E + e] = logits[9 * E + e] = 0.25f;
  auto dgate = Uniform<float>(rng, N * K);
  std::vector<float> p1(N * E), l1(N), g1(N * K);
  std::vector<int32_t> x1(N * K), c1(E);
  ref::router_forward<float>({}, p1.data(), l1.data(), x1.data(), g1.data(),
                             c1.data(), logits.data(), N, E, K);
  float aux1, z1;
  ref::router_loss_forward<float>({}, &aux1, &z1, p1.data(), l1.data(),
                                  c1.data(), N, E, K);
  std::vector<float> dl1(N * E);
  ref::router_backward<float>({}, dl1.data(), dgate.data(), p1.data(),
                              l1.data(), x1.data(), c1.data(), 0.1f, 0.01f, N,
                              E, K);
  for (ThreadPool* pool : pools.All()) {
    Context ctx{pool};
    std::vector<float> p2(N * E), l2(N), g2(N * K);
    std::vector<int32_t> x2(N * K), c2(E);
    cpu::router_forward(ctx, p2.data(), l2.data(), x2.data(), g2.data(),
                        c2.data(), logits.data(), N, E, K);
    ExpectClose(p2, p1, 1e-6, 1e-5, "probs");
    ExpectClose(l2, l1, 1e-6, 1e-5, "lse");
    ExpectClose(g2, g1, 1e-6, 1e-5, "gate");
    EXPECT_EQ(x2, x1);
    EXPECT_EQ(c2, c1);
    float aux2, z2;
    cpu::router_loss_forward(ctx, &aux2, &z2, p2.data(), l2.data(), c2.data(),
                             N, E, K);
    EXPECT_NEAR(aux2, aux1, 1e-5);
    EXPECT_NEAR(z2, z1, 1e-5);
    std::vector<float> dl2(N * E);
    cpu::router_backward(ctx, dl2.data(), dgate.data(), p1.data(), l1.data(),
                         x1.data(), c1.data(), 0.1f, 0.01f, N, E, K);
    ExpectClose(dl2, dl1, 1e-6, 1e-5, "dlogits");
  }
}

TEST(RouterTest, BalancedRoutingHasAuxLossOne) {
  // Uniform probabilities and equal counts: aux = E * sum_e (1/E)(1/E) = 1.
  const int N = 4, E = 4, K = 1;
  std::vector<float> probs(N * E, 0.25f), lse(N, 0.0f);
  std::vector<int32_t> counts = {1, 1, 1, 1};
  float aux, z;
  ref::router_loss_forward<float>({}, &aux, &z, probs.data(), lse.data(),
                                  counts.data(), N, E, K);
  EXPECT_FLOAT_EQ(aux, 1.0f);
  EXPECT_FLOAT_EQ(z, 0.0f);
}

}  // namespace
}  // namespace moesweep::kernels
