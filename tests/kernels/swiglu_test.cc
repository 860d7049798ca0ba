#include <gtest/gtest.h>

#include "tests/kernels/kernel_testing.h"

namespace moesweep::kernels {
namespace {

using testing::ExpectClose;
using testing::Uniform;

TEST(SwigluTest, ReferenceGradientMatchesFiniteDifferences) {
  std::mt19937 rng(testing::KernelSeed());
  const int N = 3, H = 4;
  auto h = Uniform<double>(rng, N * 2 * H, -3, 3);
  auto w = Uniform<double>(rng, N * H);
  std::vector<double> out(N * H);
  auto loss = [&] {
    ref::swiglu_forward<double>({}, out.data(), h.data(), N, H);
    return testing::Dot(out, w);
  };
  std::vector<double> dh(N * 2 * H);
  ref::swiglu_backward<double>({}, dh.data(), w.data(), h.data(), N, H);
  ExpectClose(dh, testing::NumericGradient(&h, loss), 1e-7, 1e-6, "dh");
}

TEST(SwigluTest, FastMatchesReference) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  const int N = 29, H = 37;
  auto h = Uniform<float>(rng, N * 2 * H, -4, 4);
  auto dout = Uniform<float>(rng, N * H);
  std::vector<float> o1(N * H), d1(N * 2 * H);
  ref::swiglu_forward<float>({}, o1.data(), h.data(), N, H);
  ref::swiglu_backward<float>({}, d1.data(), dout.data(), h.data(), N, H);
  for (ThreadPool* pool : pools.All()) {
    Context ctx{pool};
    std::vector<float> o2(N * H), d2(N * 2 * H);
    cpu::swiglu_forward(ctx, o2.data(), h.data(), N, H);
    cpu::swiglu_backward(ctx, d2.data(), dout.data(), h.data(), N, H);
    ExpectClose(o2, o1, 1e-6, 1e-5, "out");
    ExpectClose(d2, d1, 1e-6, 1e-5, "dh");
  }
}

TEST(SwigluTest, AddMatchesReference) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  const size_t n = 1001;
  auto a = Uniform<float>(rng, n), b = Uniform<float>(rng, n);
  std::vector<float> o1(n), o2(n);
  ref::add_forward<float>({}, o1.data(), a.data(), b.data(), n);
  cpu::add_forward(Context{&pools.three}, o2.data(), a.data(), b.data(), n);
  ExpectClose(o2, o1, 0, 0, "out");
  EXPECT_FLOAT_EQ(o1[7], a[7] + b[7]);
}

}  // namespace
}  // namespace moesweep::kernels
