// llm.c's comparison of a computed tensor with its reference, free of any
// test framework: the kernel tests (GoogleTest) and the GPU tests (their own
// harness, tests/gpu/gpu_testing.h) report from the same numbers.

#ifndef MOESWEEP_TESTS_TESTING_CLOSE_COMPARE_H_
#define MOESWEEP_TESTS_TESTING_CLOSE_COMPARE_H_

#include <cmath>
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

namespace moesweep::testing {

// Elements with |actual - expected| > atol + rtol |expected| (NaN never
// passes), the first of them, and the largest error.
struct CloseReport {
  size_t bad = 0, first = 0;
  double worst = 0;
  std::string message;  // empty when bad == 0
};

// REQUIRES: actual.size() == expected.size().
template <typename A, typename B>
CloseReport CompareClose(const std::vector<A>& actual,
                         const std::vector<B>& expected, double atol,
                         double rtol, const std::string& what) {
  CloseReport r;
  for (size_t i = 0; i < actual.size(); ++i) {
    double a = double(actual[i]), e = double(expected[i]);
    double err = std::fabs(a - e);
    if (!(err <= atol + rtol * std::fabs(e))) {
      if (r.bad++ == 0) r.first = i;
    }
    if (err > r.worst || std::isnan(err)) r.worst = err;
  }
  if (r.bad > 0) {
    std::ostringstream m;
    m.precision(9);
    m << what << ": " << r.bad << " of " << actual.size()
      << " elements differ; first at " << r.first << ": got "
      << double(actual[r.first]) << ", want " << double(expected[r.first])
      << "; largest error " << r.worst;
    r.message = m.str();
  }
  return r;
}

}  // namespace moesweep::testing

#endif  // MOESWEEP_TESTS_TESTING_CLOSE_COMPARE_H_
