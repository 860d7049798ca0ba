// Branch candidates' checkpoints and what a run adds to a lineage whose
// runs share their noise (fitter/branches.h).

#include "fitter/branches.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "Eigen/Dense"
#include "fitter/fitter.h"

namespace moesweep::fitter {
namespace {

// A stable phase checkpoints its end and its halvings down to an eighth, past
// where it started.
TEST(ProposerTest, StableCheckpointsHalveDownToAnEighth) {
  EXPECT_EQ(StableCheckpoints(0, 8), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_EQ(StableCheckpoints(3, 8), (std::vector<double>{4, 8}));
  EXPECT_TRUE(StableCheckpoints(8, 8).empty());
}

// What a run adds to a lineage under compound-symmetric noise, against the
// generalised-least-squares information written out: Σ' = (Σ⁻¹ + Jᵀ·V⁻¹·J
// − J₀ᵀ·V₀⁻¹·J₀)⁻¹ with V the lineage's correlation matrix before (V₀, m
// runs) and after the run.
TEST(ProposerTest, LineageReductionIsTheGeneralisedLeastSquaresOne) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0, 1);
  const int p = 4, m = 3;
  const double rho = 0.7;
  Eigen::MatrixXd a(p, p);
  for (int i = 0; i < p; ++i)
    for (int j = 0; j < p; ++j) a(i, j) = normal(rng);
  const Eigen::MatrixXd sigma =
      a * a.transpose() + Eigen::MatrixXd::Identity(p, p);
  std::vector<double> cov(p * p), g(p), scaled(p);
  for (int i = 0; i < p; ++i)
    for (int j = 0; j < p; ++j) cov[i * p + j] = sigma(i, j);
  for (double& x : g) x = normal(rng);
  for (double& x : scaled) x = normal(rng);
  Eigen::MatrixXd rows(m + 1, p);
  LineageInformation lineage;
  lineage.sum.assign(p, 0);
  for (int r = 0; r < m; ++r) {
    for (int i = 0; i < p; ++i) {
      rows(r, i) = normal(rng);
      lineage.sum[i] += rows(r, i);
    }
    ++lineage.runs;
  }
  for (int i = 0; i < p; ++i) rows(m, i) = scaled[i];
  auto information = [&](int n) {
    Eigen::MatrixXd v = Eigen::MatrixXd::Constant(n, n, rho);
    v.diagonal().setOnes();
    const Eigen::MatrixXd j = rows.topRows(n);
    return Eigen::MatrixXd(j.transpose() * v.inverse() * j);
  };
  const Eigen::MatrixXd after =
      (sigma.inverse() + information(m + 1) - information(m)).inverse();
  const Eigen::Map<const Eigen::VectorXd> gv(g.data(), p);
  const double expected = gv.dot(sigma * gv) - gv.dot(after * gv);
  EXPECT_NEAR(LineageReduction(cov, g, scaled, lineage, rho), expected,
              1e-9 * std::abs(expected));
  // Σ after ObserveInLineage is that Σ', and the run joins the lineage.
  ObserveInLineage(cov, scaled, lineage, rho);
  for (int i = 0; i < p; ++i)
    for (int j = 0; j < p; ++j)
      EXPECT_NEAR(cov[i * p + j], after(i, j), 1e-9 * after.norm());
  EXPECT_EQ(lineage.runs, m + 1);
  // A lineage's first run, or uncorrelated noise: VarianceReduction's.
  LineageInformation empty;
  EXPECT_NEAR(LineageReduction(cov, g, scaled, empty, rho),
              VarianceReduction(cov, g, scaled, 1.0), 1e-12);
  EXPECT_NEAR(LineageReduction(cov, g, scaled, lineage, 0),
              VarianceReduction(cov, g, scaled, 1.0), 1e-12);
}

}  // namespace
}  // namespace moesweep::fitter
