// Internal: a numerically stable log(Σ exp(x_i)) that works for doubles and
// ceres::Jet.

#ifndef MOESWEEP_FITTER_LOG_SUM_EXP_H_
#define MOESWEEP_FITTER_LOG_SUM_EXP_H_

#include <cmath>
#include <cstddef>

namespace moesweep::fitter {

// Shifting by the largest term keeps exp() from overflowing at the extreme
// starts of a grid (a = 25 gives e^25 ≈ 7e10, and further out a plain sum would
// overflow).
template <typename T, std::size_t kN>
T LogSumExp(const T (&x)[kN]) {
  using std::exp;
  using std::log;
  T m = x[0];
  for (std::size_t i = 1; i < kN; ++i) {
    if (x[i] > m) m = x[i];
  }
  T sum = exp(x[0] - m);
  for (std::size_t i = 1; i < kN; ++i) sum += exp(x[i] - m);
  return m + log(sum);
}

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_LOG_SUM_EXP_H_
