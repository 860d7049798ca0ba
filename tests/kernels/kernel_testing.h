// Shared helpers of the kernel tests: seeded random tensors, fp64 central
// differences, and an llm.c-style comparison that names the first bad index.

#ifndef MOESWEEP_TESTS_KERNELS_KERNEL_TESTING_H_
#define MOESWEEP_TESTS_KERNELS_KERNEL_TESTING_H_

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "tests/testing/close_compare.h"

namespace moesweep::testing {

// GoogleTest's seed, so --gtest_random_seed=S replays a failure.
inline uint32_t KernelSeed() {
  return uint32_t(::testing::UnitTest::GetInstance()->random_seed()) + 1;
}

// n values uniform in [-1, 1].
template <typename Float>
std::vector<Float> Uniform(std::mt19937& rng, size_t n, double lo = -1,
                           double hi = 1) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<Float> v(n);
  for (Float& x : v) x = Float(dist(rng));
  return v;
}

template <typename To, typename From>
std::vector<To> Cast(const std::vector<From>& v) {
  return std::vector<To>(v.begin(), v.end());
}

inline double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// d loss / d x[i] for every i by central differences; x is restored.
inline std::vector<double> NumericGradient(std::vector<double>* x,
                                           const std::function<double()>& loss,
                                           double eps = 1e-6) {
  std::vector<double> g(x->size());
  for (size_t i = 0; i < x->size(); ++i) {
    double saved = (*x)[i];
    (*x)[i] = saved + eps;
    double up = loss();
    (*x)[i] = saved - eps;
    double down = loss();
    (*x)[i] = saved;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

// Accepts |actual - expected| <= atol + rtol |expected| everywhere; else
// fails naming the first bad index, both values and the largest error.
template <typename A, typename B>
void ExpectClose(const std::vector<A>& actual, const std::vector<B>& expected,
                 double atol, double rtol, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  CloseReport r = CompareClose(actual, expected, atol, rtol, what);
  EXPECT_EQ(r.bad, 0u) << r.message;
}

// No pool (the calling thread alone), a 2-thread and a 3-thread pool: the
// last makes chunk edges fall on odd rows.
struct Pools {
  kernels::ThreadPool two{2};
  kernels::ThreadPool three{3};
  std::vector<kernels::ThreadPool*> All() { return {nullptr, &two, &three}; }
};

}  // namespace moesweep::testing

#endif  // MOESWEEP_TESTS_KERNELS_KERNEL_TESTING_H_
