#include <gtest/gtest.h>

#include <cmath>

#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

// LAWS.md §4f, T9.
TEST(JointLawTest, LudziejewskiCheckValues) {
  StatusOr<Law> law = PublishedLaw("joint", "ludziejewski2025");
  ASSERT_OK(law);
  const double expected[][2] = {{1, 2.5776}, {8, 2.5088}, {32, 2.4546}};
  for (const auto& [e, loss] : expected) {
    Observation at{.tokens = 2e10, .active_params = 1e9, .num_experts = e};
    StatusOr<double> predicted = PredictLoss(*law, at);
    ASSERT_OK(predicted);
    EXPECT_NEAR(*predicted, loss, 1e-4) << "E = " << e;
  }
}

// LAWS.md §4f, T11.
TEST(JointLawTest, EHatStartsAtEStartGrowsAndSaturatesAtEMax) {
  EXPECT_NEAR(JointEHat(1), 2.0732, 1e-12);
  EXPECT_NEAR(JointEHat(8), 8.8124, 1e-4);
  EXPECT_NEAR(JointEHat(64), 53.17, 1e-2);
  EXPECT_NEAR(JointEHat(256), 136.38, 1e-2);
  EXPECT_NEAR(JointEHat(1e15), 290.4521, 1e-6);
  double previous = 0;
  for (double e = 1; e < 1e6; e *= 1.5) {
    EXPECT_GT(JointEHat(e), previous);
    previous = JointEHat(e);
  }
}

// LAWS.md §4c, T7: for fixed E the law is Chinchilla's, L = m·N^μ + n·D^ν + c,
// with m = a·Ê^δ, μ = α + γ·lnÊ, n = b·Ê^ω, ν = β + ζ·lnÊ (paper's Table 4).
// LAWS.md asks for 0.2% on m, n and 1e-4 on μ, ν; recomputing from the rounded
// Table 3 gives n(E=1) = 53.843 against the printed 53.984 (0.26%) and ν off by
// up to 1.4e-4, so n and ν get 0.3% and 1.5e-4. m and μ keep LAWS.md's bounds.
TEST(JointLawTest, ReducesToTable4PerExpertCount) {
  StatusOr<Law> law = PublishedLaw("joint", "ludziejewski2025");
  ASSERT_OK(law);
  const double table4[][5] = {{1, 30.3640, -0.1817, 53.9838, -0.1965},
                              {8, 21.8330, -0.1676, 119.9126, -0.2338},
                              {32, 16.5424, -0.1557, 234.6726, -0.2652}};
  for (const auto& row : table4) {
    StatusOr<JointReduction> r = ReduceJoint(*law, row[0]);
    ASSERT_OK(r);
    EXPECT_NEAR(r->m, row[1], 0.002 * row[1]) << "E = " << row[0];
    EXPECT_NEAR(r->mu, row[2], 1e-4) << "E = " << row[0];
    EXPECT_NEAR(r->n, row[3], 0.003 * row[3]) << "E = " << row[0];
    EXPECT_NEAR(r->nu, row[4], 1.5e-4) << "E = " << row[0];
    EXPECT_DOUBLE_EQ(r->c, 1.3637);
    // And the reduction predicts what the law does.
    const Observation at{
        .tokens = 3e10, .active_params = 2e9, .num_experts = row[0]};
    EXPECT_NEAR(
        *PredictLoss(*law, at),
        r->m * std::pow(2e9, r->mu) + r->n * std::pow(3e10, r->nu) + r->c,
        1e-12);
  }
  EXPECT_EQ(ReduceJoint(*law, 0.5).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::fitter
