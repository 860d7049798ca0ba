#include <gtest/gtest.h>

#include "tests/kernels/kernel_testing.h"

namespace moesweep::kernels {
namespace {

using testing::ExpectClose;
using testing::NumericGradient;
using testing::Uniform;

TEST(RmsnormTest, ReferenceGradientMatchesFiniteDifferences) {
  std::mt19937 rng(testing::KernelSeed());
  const int N = 3, C = 6;
  auto inp = Uniform<double>(rng, N * C);
  auto weight = Uniform<double>(rng, C);
  auto w = Uniform<double>(rng, N * C);
  std::vector<double> out(N * C), rstd(N);
  auto loss = [&] {
    ref::rmsnorm_forward<double>({}, out.data(), rstd.data(), inp.data(),
                                 weight.data(), N, C);
    return testing::Dot(out, w);
  };
  loss();
  // Accumulating contract: start from non-zero gradients.
  auto dinp = Uniform<double>(rng, N * C), dweight = Uniform<double>(rng, C);
  auto dinp0 = dinp, dweight0 = dweight;
  ref::rmsnorm_backward<double>({}, dinp.data(), dweight.data(), w.data(),
                                inp.data(), weight.data(), rstd.data(), N, C);
  auto g_inp = NumericGradient(&inp, loss);
  auto g_weight = NumericGradient(&weight, loss);
  for (int i = 0; i < N * C; ++i) g_inp[i] += dinp0[i];
  for (int i = 0; i < C; ++i) g_weight[i] += dweight0[i];
  ExpectClose(dinp, g_inp, 1e-7, 1e-6, "dinp");
  ExpectClose(dweight, g_weight, 1e-7, 1e-6, "dweight");
}

TEST(RmsnormTest, FastMatchesReference) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  const int N = 41, C = 33;
  auto inp = Uniform<float>(rng, N * C), weight = Uniform<float>(rng, C);
  auto dout = Uniform<float>(rng, N * C);
  for (ThreadPool* pool : pools.All()) {
    Context ctx{pool};
    std::vector<float> o1(N * C), o2(N * C), r1(N), r2(N);
    ref::rmsnorm_forward<float>({}, o1.data(), r1.data(), inp.data(),
                                weight.data(), N, C);
    cpu::rmsnorm_forward(ctx, o2.data(), r2.data(), inp.data(), weight.data(),
                         N, C);
    ExpectClose(o2, o1, 1e-6, 1e-5, "out");
    ExpectClose(r2, r1, 1e-6, 1e-5, "rstd");
    auto di1 = Uniform<float>(rng, N * C), di2 = di1;
    auto dw1 = Uniform<float>(rng, C), dw2 = dw1;
    ref::rmsnorm_backward<float>({}, di1.data(), dw1.data(), dout.data(),
                                 inp.data(), weight.data(), r1.data(), N, C);
    cpu::rmsnorm_backward(ctx, di2.data(), dw2.data(), dout.data(), inp.data(),
                          weight.data(), r1.data(), N, C);
    ExpectClose(di2, di1, 1e-5, 1e-4, "dinp");
    ExpectClose(dw2, dw1, 1e-5, 1e-4, "dweight");
  }
}

}  // namespace
}  // namespace moesweep::kernels
