// Wan et al. 2026 (fitter/holistic.h; LAWS.md §6).

#include "fitter/holistic.h"

#include <Eigen/Dense>
#include <cmath>
#include <string>

namespace moesweep::fitter {
namespace {

// Eq. 2 of the paper; 0.04368 · 22.8929 = 1.0000, so M·D = C.
constexpr double kFlopsPerTokenCoefficient = 0.04368;
constexpr double kFlopsPerTokenExponent = 0.5437;
constexpr double kTokensCoefficient = 22.8929;
constexpr double kTokensExponent = 0.4563;

// FLOPs per token over active parameters with no attention (6·N_a / N_a).
constexpr double kDensityFloor = 6;

}  // namespace

double WanFlopsPerToken(double active_non_embed, double context,
                        double query_heads, double head_dim, double layers) {
  return 6 * active_non_embed + 6 * context * query_heads * head_dim * layers;
}

StatusOr<WanAllocation> WanComputeOptimal(double flops) {
  if (!(flops > 0) || !std::isfinite(flops)) {
    return InvalidArgumentError("flops must be finite and > 0");
  }
  return WanAllocation{
      .flops_per_token =
          kFlopsPerTokenCoefficient * std::pow(flops, kFlopsPerTokenExponent),
      .tokens = kTokensCoefficient * std::pow(flops, kTokensExponent)};
}

StatusOr<DensityCurve> FitDensityCurve(std::span<const double> x,
                                       std::span<const double> loss) {
  if (x.size() != loss.size()) {
    return InvalidArgumentError("x and loss differ in size");
  }
  if (x.size() < 3) {
    return InvalidArgumentError("a density curve needs at least 3 points");
  }
  const Eigen::Index n = static_cast<Eigen::Index>(x.size());
  Eigen::MatrixXd design(n, 3);
  Eigen::VectorXd y(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double xi = x[static_cast<size_t>(i)];
    const double li = loss[static_cast<size_t>(i)];
    if (!std::isfinite(xi) || !(xi > kDensityFloor) || !std::isfinite(li)) {
      return InvalidArgumentError(
          "point " + std::to_string(i) +
          ": x must be finite and > 6 and the loss finite");
    }
    design(i, 0) = 1 / (xi - kDensityFloor);
    design(i, 1) = xi;
    design(i, 2) = 1;
  }
  y = Eigen::Map<const Eigen::VectorXd>(loss.data(), n);
  // Column-pivoted QR: a rank below 3 means the x values cannot separate
  // the three terms (e.g. fewer than three distinct values).
  const Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(design);
  if (qr.rank() < 3) {
    return InvalidArgumentError(
        "x values too few and alike to determine a, b and c");
  }
  const Eigen::Vector3d abc = qr.solve(y);
  DensityCurve curve{.a = abc(0), .b = abc(1), .c = abc(2)};
  if (curve.a > 0 && curve.b > 0) {
    curve.x_opt = kDensityFloor + std::sqrt(curve.a / curve.b);
    curve.loss_opt = curve.Loss(curve.x_opt);
  }
  return curve;
}

}  // namespace moesweep::fitter
