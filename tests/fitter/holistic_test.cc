// Wan et al. 2026 (fitter/holistic.h): the paper's Table 2 from Eq. 2, its
// FLOPs per token, and the density curve its method fits per budget.

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fitter/fitter.h"

namespace moesweep::fitter {
namespace {

// LAWS.md §6b: the paper's Table 2, C in FLOPs -> M in GFLOPs per token and
// D in billions of tokens.
struct TableRow {
  double flops, gflops_per_token, billion_tokens;
};
constexpr TableRow kTable2[] = {
    {1e18, 0.2672, 3.7420},  {3e18, 0.4856, 6.1775},  {1e19, 0.9345, 10.7004},
    {3e19, 1.6983, 17.6649}, {1e20, 3.2681, 30.5985}, {3e20, 5.9390, 50.5138},
};

TEST(HolisticTest, ComputeOptimalAllocationReproducesTable2) {
  for (const TableRow& row : kTable2) {
    StatusOr<WanAllocation> a = WanComputeOptimal(row.flops);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_NEAR(a->flops_per_token / 1e9, row.gflops_per_token,
                1e-3 * row.gflops_per_token)
        << row.flops;
    EXPECT_NEAR(a->tokens / 1e9, row.billion_tokens, 1e-3 * row.billion_tokens)
        << row.flops;
    // The split spends the budget: M·D = C.
    EXPECT_NEAR(a->flops_per_token * a->tokens / row.flops, 1, 1e-4);
  }
  for (double bad : {0.0, -1.0, std::nan(""), HUGE_VAL}) {
    EXPECT_EQ(WanComputeOptimal(bad).status().code(),
              StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(HolisticTest, FlopsPerTokenCountsAttentionBeyondSixNa) {
  // 1e9 active parameters, context 8192, 16 heads of 128, 24 layers:
  // 6e9 + 6·8192·16·128·24 = 6e9 + 2,415,919,104.
  EXPECT_DOUBLE_EQ(WanFlopsPerToken(1e9, 8192, 16, 128, 24),
                   6e9 + 2415919104.0);
  // Without context the measure is 6·N_a.
  EXPECT_DOUBLE_EQ(WanFlopsPerToken(3e8, 0, 16, 128, 24), 1.8e9);
}

TEST(HolisticTest, DensityCurveIsFittedExactlyAndItsMinimumIsClosedForm) {
  // a = 0.5, b = 0.02: the minimum at x* = 6 + sqrt(25) = 11, inside the
  // range the paper reports (about 11 at 1e18 down to 8.2 at 3e20).
  const double a = 0.5, b = 0.02, c = 2.1;
  std::vector<double> x, loss;
  for (double xi : {7.0, 8.0, 9.5, 11.0, 14.0, 18.0, 25.0}) {
    x.push_back(xi);
    loss.push_back(a / (xi - 6) + b * xi + c);
  }
  StatusOr<DensityCurve> curve = FitDensityCurve(x, loss);
  ASSERT_TRUE(curve.ok()) << curve.status().ToString();
  EXPECT_NEAR(curve->a, a, 1e-9);
  EXPECT_NEAR(curve->b, b, 1e-9);
  EXPECT_NEAR(curve->c, c, 1e-9);
  EXPECT_NEAR(curve->x_opt, 11, 1e-7);
  EXPECT_NEAR(curve->loss_opt, 0.1 + 0.22 + 2.1, 1e-9);
  // No point of the curve lies below its minimum.
  for (double xi = 6.5; xi < 40; xi += 0.5) {
    EXPECT_GE(curve->Loss(xi), curve->loss_opt - 1e-12) << xi;
  }
}

TEST(HolisticTest, DensityCurveRefusesWhatCannotDetermineIt) {
  const std::vector<double> three = {7, 9, 12}, losses = {2.5, 2.4, 2.45};
  EXPECT_TRUE(FitDensityCurve(three, losses).ok());
  EXPECT_EQ(
      FitDensityCurve(std::vector<double>{7, 9}, std::vector<double>{2.5, 2.4})
          .status()
          .code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(
      FitDensityCurve(three, std::vector<double>{2.5, 2.4}).status().code(),
      StatusCode::kInvalidArgument);
  // x <= 6 is not a density with attention (and a/(x-6) is undefined).
  EXPECT_EQ(
      FitDensityCurve(std::vector<double>{6, 9, 12}, losses).status().code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(FitDensityCurve(std::vector<double>{7, 9, std::nan("")}, losses)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  // Three points at two distinct x values cannot separate three terms.
  EXPECT_EQ(
      FitDensityCurve(std::vector<double>{7, 9, 9}, losses).status().code(),
      StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::fitter
