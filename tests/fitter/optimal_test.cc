#include <gtest/gtest.h>

#include <cmath>

#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

// LAWS.md §1d: N* = G·(C/6)^(β/(α+β)), G = (αA/(βB))^(1/(α+β)).
TEST(OptimalTest, ChinchillaMatchesTheClosedFormTo0Point1Percent) {
  for (const char* preset : {"hoffmann_tex", "hoffmann_rounded", "epoch"}) {
    StatusOr<Law> law = PublishedLaw("chinchilla", preset);
    ASSERT_OK(law);
    const std::vector<NamedValue> p = *NaturalParams(*law);
    const double a = p[0].value, b = p[1].value, alpha = p[3].value,
                 beta = p[4].value;
    const double g = std::pow(alpha * a / (beta * b), 1 / (alpha + beta));
    for (double flops : {1e19, 1e21, 5.76e23}) {
      OptimalOptions options;
      options.flops = flops;
      StatusOr<OptimalResult> result = SolveOptimal(*law, options);
      ASSERT_OK(result);
      const double n_star = g * std::pow(flops / 6, beta / (alpha + beta));
      EXPECT_NEAR(result->best.params, n_star, 1e-3 * n_star)
          << preset << " " << flops;
      EXPECT_NEAR(result->best.tokens, flops / 6 / n_star,
                  1e-3 * flops / 6 / n_star);
      EXPECT_FALSE(result->isoflop.empty());
    }
  }
}

// The near-optimal band of a Chinchilla law with alpha = beta = a, in closed
// form: with u = N^a and D = C/(6N), L = E + A/u + B'·u, B' = B·(6/C)^a, so
// L <= (1 + t)·L* is B'·u² - ((1 + t)·L* - E)·u + A <= 0, a quadratic.
TEST(OptimalTest, NearOptimalBandOfChinchillaIsTheClosedFormInterval) {
  const double a_coef = 400, b_coef = 2000, e = 1.7, a = 0.33;
  const NamedValue natural[] = {
      {"A", a_coef}, {"B", b_coef}, {"E", e}, {"alpha", a}, {"beta", a}};
  StatusOr<Law> law = LawFromNatural("chinchilla", natural);
  ASSERT_OK(law);
  double last_ratio = 0;
  for (double t : {1e-4, 1e-3, 1e-2}) {
    for (double flops : {1e19, 1e22}) {
      OptimalOptions options;
      options.flops = flops;
      options.band = t;
      StatusOr<OptimalResult> r = SolveOptimal(*law, options);
      ASSERT_OK(r);
      ASSERT_EQ(r->band.size(), 1u);  // one choice: dense
      const double bp = b_coef * std::pow(6 / flops, a);
      const double best = e + 2 * std::sqrt(a_coef * bp);
      const double q = (1 + t) * best - e;
      const double root = std::sqrt(q * q - 4 * a_coef * bp);
      const double n_lo = std::pow((q - root) / (2 * bp), 1 / a),
                   n_hi = std::pow((q + root) / (2 * bp), 1 / a);
      const NearOptimalRange& band = r->band[0];
      EXPECT_NEAR(band.smallest.params, n_lo, 1e-6 * n_lo) << t << " " << flops;
      EXPECT_NEAR(band.largest.params, n_hi, 1e-6 * n_hi) << t << " " << flops;
      EXPECT_NEAR(band.smallest.loss, (1 + t) * best, 1e-9 * best);
      EXPECT_NEAR(band.largest.loss, (1 + t) * best, 1e-9 * best);
      EXPECT_NEAR(band.best.params, r->best.params, 1e-9 * r->best.params);
      EXPECT_NEAR(band.smallest.tokens, flops / (6 * n_lo),
                  1e-6 * flops / n_lo);
      last_ratio = n_hi / n_lo;
    }
  }
  EXPECT_GT(last_ratio, 2);  // 1% of loss leaves a wide choice of size
  OptimalOptions none;
  none.flops = 1e20;
  EXPECT_TRUE(SolveOptimal(*law, none)->band.empty());
  none.band = -0.1;
  EXPECT_EQ(SolveOptimal(*law, none).status().code(),
            StatusCode::kInvalidArgument);
}

// Joint: a choice of experts is in the band when its own best is, and the
// band's edges stay within it.
TEST(OptimalTest, NearOptimalBandListsEveryExpertCountWithinIt) {
  StatusOr<Law> law = PublishedLaw("joint", "ludziejewski2025");
  ASSERT_OK(law);
  OptimalOptions options;
  options.flops = 1e22;
  options.allowed_experts = {1, 4, 8, 16, 32, 64};
  options.band = 0.01;
  StatusOr<OptimalResult> r = SolveOptimal(*law, options);
  ASSERT_OK(r);
  ASSERT_FALSE(r->band.empty());
  EXPECT_EQ(r->band[0].best.num_experts, r->best.num_experts);
  const double limit = 1.01 * r->best.loss;
  for (const NearOptimalRange& b : r->band) {
    EXPECT_LE(b.best.loss, limit);
    EXPECT_LE(b.smallest.loss, limit * (1 + 1e-12));
    EXPECT_LE(b.largest.loss, limit * (1 + 1e-12));
    EXPECT_LT(b.smallest.active_params, b.best.active_params);
    EXPECT_GT(b.largest.active_params, b.best.active_params);
    EXPECT_EQ(b.smallest.num_experts, b.best.num_experts);
  }
  // Dense is worse than 1% here (Ludziejewski: MoE wins at this budget).
  for (const NearOptimalRange& b : r->band) EXPECT_NE(b.best.num_experts, 1);
  options.band = 1e-4;
  EXPECT_LE(SolveOptimal(*law, options)->band.size(), r->band.size());
}

// T4: Hoffmann's TeX coefficients give the paper's "40B" at the Gopher budget.
TEST(OptimalTest, ChinchillaGopherBudget) {
  OptimalOptions options;
  options.flops = 5.76e23;
  StatusOr<OptimalResult> result =
      SolveOptimal(*PublishedLaw("chinchilla", "hoffmann_tex"), options);
  ASSERT_OK(result);
  EXPECT_NEAR(result->best.params, 4.04e10, 0.01 * 4.04e10);
}

// T6: Krajewski et al. 2024, Table 2: G exactly, N_act and D to 5%, L to 0.03.
TEST(OptimalTest, FinegrainedReproducesKrajewskiTable2) {
  StatusOr<Law> law = PublishedLaw("finegrained", "krajewski2024");
  ASSERT_OK(law);
  const double table[][5] = {{2.95e18, 100e6, 4.37e9, 8, 3.133},
                             {1.93e20, 1e9, 28.94e9, 16, 2.491},
                             {1.41e21, 3e9, 72.90e9, 16, 2.245},
                             {6.46e21, 7e9, 137.60e9, 32, 2.076},
                             {4.16e23, 70e9, 941.07e9, 32, 1.694},
                             {5.69e24, 300e9, 2.96e12, 64, 1.503},
                             {4.97e25, 1e12, 7.94e12, 64, 1.367}};
  for (const auto& row : table) {
    OptimalOptions options;
    options.flops = row[0];
    StatusOr<OptimalResult> result = SolveOptimal(*law, options);
    ASSERT_OK(result);
    EXPECT_EQ(result->best.granularity, row[3]) << row[0];
    EXPECT_NEAR(result->best.active_params, row[1], 0.05 * row[1]) << row[0];
    EXPECT_NEAR(result->best.tokens, row[2], 0.05 * row[2]) << row[0];
    EXPECT_NEAR(result->best.loss, row[4], 0.03) << row[0];
  }
}

// T8: Ludziejewski et al. 2025, Table 1, to 3%.
TEST(OptimalTest, JointReproducesLudziejewskiTable1) {
  StatusOr<Law> law = PublishedLaw("joint", "ludziejewski2025");
  ASSERT_OK(law);
  const double table[][4] = {
      {1e20, 1, 1.7e9, 9.7e9},    {1e20, 8, 990e6, 17e9},
      {1e20, 32, 669e6, 24.9e9},  {1e21, 1, 5.7e9, 29.3e9},
      {1e21, 8, 3.8e9, 44.3e9},   {1e21, 32, 2.85e9, 58.4e9},
      {1e22, 1, 18.8e9, 88.6e9},  {1e22, 8, 14.4e9, 115.8e9},
      {1e22, 32, 12.2e9, 136.9e9}};
  for (const auto& row : table) {
    OptimalOptions options;
    options.flops = row[0];
    options.allowed_experts = {row[1]};
    StatusOr<OptimalResult> result = SolveOptimal(*law, options);
    ASSERT_OK(result);
    EXPECT_NEAR(result->best.active_params, row[2], 0.03 * row[2])
        << row[0] << " E=" << row[1];
    EXPECT_NEAR(result->best.tokens, row[3], 0.03 * row[3])
        << row[0] << " E=" << row[1];
  }
}

// T10: under a memory cap (bf16 weights plus a 16k-token KV cache) the best
// expert count at 1e22 FLOPs is 4, 16 and 32 for 24, 80 and 640 GB.
TEST(OptimalTest, JointMemoryOptimumAt1e22) {
  StatusOr<Law> law = PublishedLaw("joint", "ludziejewski2025");
  ASSERT_OK(law);
  const double cases[][2] = {{24e9, 4}, {80e9, 16}, {640e9, 32}};
  for (const auto& [memory, experts] : cases) {
    OptimalOptions options;
    options.flops = 1e22;
    options.max_memory_bytes = memory;
    options.kv_cache_tokens = 16384;
    options.allowed_experts = {1, 2, 4, 8, 16, 32};
    StatusOr<OptimalResult> result = SolveOptimal(*law, options);
    ASSERT_OK(result);
    EXPECT_EQ(result->best.num_experts, experts) << memory;
    EXPECT_LE(result->best.memory_bytes, memory);
  }
}

TEST(OptimalTest, CapsBindAndImpossibleCapsAreRefused) {
  StatusOr<Law> law = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(law);
  OptimalOptions options;
  options.flops = 1e21;
  options.max_total_params = 1e9;  // the free optimum is 2.78e9
  StatusOr<OptimalResult> capped = SolveOptimal(*law, options);
  ASSERT_OK(capped);
  EXPECT_LE(capped->best.params, 1e9);
  EXPECT_GT(capped->best.params, 0.99e9);
  options.max_total_params = 10;
  EXPECT_EQ(SolveOptimal(*law, options).status().code(),
            StatusCode::kFailedPrecondition);
  options = {};
  EXPECT_EQ(SolveOptimal(*law, options).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::fitter
