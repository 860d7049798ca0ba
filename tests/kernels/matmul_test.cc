#include <gtest/gtest.h>

#include "tests/kernels/kernel_testing.h"

namespace moesweep::kernels {
namespace {

using testing::ExpectClose;
using testing::NumericGradient;
using testing::Uniform;

TEST(MatmulTest, ReferenceGradientMatchesFiniteDifferences) {
  std::mt19937 rng(testing::KernelSeed());
  const int N = 4, I = 3, O = 5;
  auto inp = Uniform<double>(rng, N * I), weight = Uniform<double>(rng, O * I);
  auto w = Uniform<double>(rng, N * O);
  std::vector<double> out(N * O);
  auto loss = [&] {
    ref::matmul_forward<double>({}, out.data(), inp.data(), weight.data(), N, I,
                                O);
    return testing::Dot(out, w);
  };
  std::vector<double> dinp(N * I, 0.0), dweight(O * I, 0.0);
  ref::matmul_backward<double>({}, dinp.data(), dweight.data(), w.data(),
                               inp.data(), weight.data(), N, I, O);
  ExpectClose(dinp, NumericGradient(&inp, loss), 1e-7, 1e-6, "dinp");
  ExpectClose(dweight, NumericGradient(&weight, loss), 1e-7, 1e-6, "dweight");
}

TEST(MatmulTest, ExpertReferenceGradientMatchesFiniteDifferences) {
  std::mt19937 rng(testing::KernelSeed());
  // Expert 1 has no rows.
  const int E = 3, I = 3, O = 2;
  std::vector<int32_t> offsets = {0, 3, 3, 5};
  const int M = 5;
  auto inp = Uniform<double>(rng, M * I);
  auto weight = Uniform<double>(rng, E * O * I);
  auto w = Uniform<double>(rng, M * O);
  std::vector<double> out(M * O);
  auto loss = [&] {
    ref::expert_matmul_forward<double>(
        {}, out.data(), inp.data(), weight.data(), offsets.data(), M, E, I, O);
    return testing::Dot(out, w);
  };
  auto dinp = Uniform<double>(rng, M * I);  // overwritten
  std::vector<double> dweight(E * O * I, 0.0);
  ref::expert_matmul_backward<double>({}, dinp.data(), dweight.data(), w.data(),
                                      inp.data(), weight.data(), offsets.data(),
                                      M, E, I, O);
  ExpectClose(dinp, NumericGradient(&inp, loss), 1e-7, 1e-6, "dinp");
  ExpectClose(dweight, NumericGradient(&weight, loss), 1e-7, 1e-6, "dweight");
}

TEST(MatmulTest, FastMatchesReference) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  const int N = 67, I = 29, O = 45;  // no multiple of any tile
  auto inp = Uniform<float>(rng, N * I), weight = Uniform<float>(rng, O * I);
  auto dout = Uniform<float>(rng, N * O);
  for (ThreadPool* pool : pools.All()) {
    Context ctx{pool};
    std::vector<float> a(N * O), b(N * O);
    ref::matmul_forward<float>({}, a.data(), inp.data(), weight.data(), N, I,
                               O);
    cpu::matmul_forward(ctx, b.data(), inp.data(), weight.data(), N, I, O);
    ExpectClose(b, a, 1e-5, 1e-4, "out");
    auto di1 = Uniform<float>(rng, N * I), di2 = di1;
    auto dw1 = Uniform<float>(rng, O * I), dw2 = dw1;
    ref::matmul_backward<float>({}, di1.data(), dw1.data(), dout.data(),
                                inp.data(), weight.data(), N, I, O);
    cpu::matmul_backward(ctx, di2.data(), dw2.data(), dout.data(), inp.data(),
                         weight.data(), N, I, O);
    ExpectClose(di2, di1, 1e-5, 1e-4, "dinp");
    ExpectClose(dw2, dw1, 1e-5, 1e-4, "dweight");
  }
}

TEST(MatmulTest, FastExpertMatchesReferenceWithEmptyExperts) {
  std::mt19937 rng(testing::KernelSeed());
  testing::Pools pools;
  const int E = 5, I = 17, O = 23;
  // Experts 0 and 3 get no rows; expert 2 gets a single row.
  std::vector<int32_t> offsets = {0, 0, 19, 20, 20, 53};
  const int M = offsets[E];
  auto inp = Uniform<float>(rng, M * I);
  auto weight = Uniform<float>(rng, E * O * I);
  auto dout = Uniform<float>(rng, M * O);
  for (ThreadPool* pool : pools.All()) {
    Context ctx{pool};
    std::vector<float> a(M * O), b(M * O);
    ref::expert_matmul_forward<float>({}, a.data(), inp.data(), weight.data(),
                                      offsets.data(), M, E, I, O);
    cpu::expert_matmul_forward(ctx, b.data(), inp.data(), weight.data(),
                               offsets.data(), M, E, I, O);
    ExpectClose(b, a, 1e-5, 1e-4, "out");
    std::vector<float> di1(M * I), di2(M * I, 7.0f);
    auto dw1 = Uniform<float>(rng, E * O * I), dw2 = dw1;
    ref::expert_matmul_backward<float>({}, di1.data(), dw1.data(), dout.data(),
                                       inp.data(), weight.data(),
                                       offsets.data(), M, E, I, O);
    cpu::expert_matmul_backward(ctx, di2.data(), dw2.data(), dout.data(),
                                inp.data(), weight.data(), offsets.data(), M, E,
                                I, O);
    ExpectClose(di2, di1, 1e-5, 1e-4, "dinp");
    ExpectClose(dw2, dw1, 1e-5, 1e-4, "dweight");
  }
}

}  // namespace
}  // namespace moesweep::kernels
