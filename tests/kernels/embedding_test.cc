#include <gtest/gtest.h>

#include "tests/kernels/kernel_testing.h"

namespace moesweep::kernels {
namespace {

using testing::ExpectClose;
using testing::Uniform;

TEST(EmbeddingTest, ReferenceGradientMatchesFiniteDifferences) {
  std::mt19937 rng(testing::KernelSeed());
  const int N = 7, C = 5, V = 4;
  std::vector<int32_t> tokens = {0, 3, 3, 1, 0, 3, 2};
  auto wte = Uniform<double>(rng, V * C);
  auto w = Uniform<double>(rng, N * C);
  std::vector<double> out(N * C);
  auto loss = [&] {
    ref::embedding_forward<double>({}, out.data(), tokens.data(), wte.data(), N,
                                   C);
    return testing::Dot(out, w);
  };
  std::vector<double> dwte(V * C, 0.0);
  ref::embedding_backward<double>({}, dwte.data(), w.data(), tokens.data(), N,
                                  C);
  ExpectClose(dwte, testing::NumericGradient(&wte, loss), 1e-7, 1e-6, "dwte");
}

TEST(EmbeddingTest, FastMatchesReference) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  const int N = 37, C = 19, V = 11;
  std::vector<int32_t> tokens(N);
  for (int n = 0; n < N; ++n) tokens[n] = int32_t(rng() % V);
  auto wte = Uniform<float>(rng, V * C);
  auto dout = Uniform<float>(rng, N * C);
  for (ThreadPool* pool : pools.All()) {
    Context ctx{pool};
    std::vector<float> a(N * C), b(N * C);
    ref::embedding_forward<float>({}, a.data(), tokens.data(), wte.data(), N,
                                  C);
    cpu::embedding_forward(ctx, b.data(), tokens.data(), wte.data(), N, C);
    ExpectClose(b, a, 0, 0, "out");
    auto da = Uniform<float>(rng, V * C), db = da;
    ref::embedding_backward<float>({}, da.data(), dout.data(), tokens.data(), N,
                                   C);
    cpu::embedding_backward(ctx, db.data(), dout.data(), tokens.data(), N, C);
    ExpectClose(db, da, 1e-6, 1e-6, "dwte");
  }
}

}  // namespace
}  // namespace moesweep::kernels
