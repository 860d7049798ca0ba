#include "kernels/fast_exp.h"

#include <gtest/gtest.h>

#include <cmath>

namespace moesweep::kernels {
namespace {

TEST(FastExpTest, RelativeErrorBelowOneTenthOfAMillionth) {
  double worst = 0;
  float worst_x = 0;
  for (float x = -87.0f; x <= 88.0f; x += 1.0f / 1024) {
    double want = std::exp(double(x));
    double err = std::fabs(double(FastExp(x)) - want) / want;
    if (err > worst) {
      worst = err;
      worst_x = x;
    }
  }
  EXPECT_LT(worst, 1e-7) << "at x = " << worst_x;
  EXPECT_EQ(FastExp(0.0f), 1.0f);
}

TEST(FastExpTest, ClampsInsteadOfOverflowing) {
  EXPECT_TRUE(std::isfinite(FastExp(1000.0f)));
  EXPECT_GT(FastExp(-1000.0f), 0.0f);
  EXPECT_LT(FastExp(-1000.0f), 1e-37f);
}

}  // namespace
}  // namespace moesweep::kernels
