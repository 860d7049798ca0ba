#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

// Under a linear Gaussian model, observing y = J·θ + ε shrinks Var(g·θ) by
// Cov(g·θ, y)²/Var(y); estimate that from samples and compare.
TEST(ProposerTest, VarianceReductionMatchesMonteCarlo) {
  std::mt19937_64 rng(::testing::UnitTest::GetInstance()->random_seed());
  std::normal_distribution<double> z(0, 1);
  const int p = 4;
  // Σ = A·Aᵀ for a random A.
  std::vector<double> a(p * p), cov(p * p, 0.0), g(p), j(p);
  for (double& x : a) x = z(rng);
  for (int r = 0; r < p; ++r)
    for (int c = 0; c < p; ++c)
      for (int k = 0; k < p; ++k) cov[r * p + c] += a[r * p + k] * a[c * p + k];
  for (int i = 0; i < p; ++i) g[i] = z(rng), j[i] = z(rng);
  // Noise as large as J·Σ·Jᵀ: leaving the noise term out would double the
  // reduction, far outside the tolerance below.
  double noise_var = 0;
  for (int r = 0; r < p; ++r)
    for (int c = 0; c < p; ++c) noise_var += j[r] * cov[r * p + c] * j[c];
  // The estimate's own sampling error, from 20 independent batches, sets the
  // tolerance: a wrong formula (a missing noise term, a transposed Σ) misses
  // by far more than four standard errors.
  const int batches = 20, per_batch = 50000;
  std::vector<double> estimates;
  for (int b = 0; b < batches; ++b) {
    double sq = 0, sy = 0, sqy = 0, syy = 0;
    for (int s = 0; s < per_batch; ++s) {
      std::vector<double> e(p), theta(p, 0.0);
      for (double& x : e) x = z(rng);
      for (int r = 0; r < p; ++r)
        for (int k = 0; k < p; ++k) theta[r] += a[r * p + k] * e[k];
      double q = 0, y = std::sqrt(noise_var) * z(rng);
      for (int i = 0; i < p; ++i) q += g[i] * theta[i], y += j[i] * theta[i];
      sq += q, sy += y, sqy += q * y, syy += y * y;
    }
    const double cov_qy = sqy / per_batch - sq / per_batch * sy / per_batch;
    const double var_y = syy / per_batch - sy / per_batch * sy / per_batch;
    estimates.push_back(cov_qy * cov_qy / var_y);
  }
  double mean = 0, var = 0;
  for (double e : estimates) mean += e / batches;
  for (double e : estimates) var += (e - mean) * (e - mean) / (batches - 1);
  const double standard_error = std::sqrt(var / batches);
  EXPECT_NEAR(VarianceReduction(cov, g, j, noise_var), mean,
              4 * standard_error + 1e-3 * mean)
      << "seed " << ::testing::UnitTest::GetInstance()->random_seed();
}

DesignSpace ChinchillaSpace() {
  DesignSpace space;
  space.axes = {{Feature::kParams, 1e7, 1e9, true, {}},
                {Feature::kTokens, 1e8, 1e11, true, {}}};
  space.max_run_flops = 1e19;
  return space;
}

Question OptimalLossAt(double flops) {
  Question q;
  q.optimal.flops = flops;
  q.optimal.profile_points = 25;
  return q;
}

TEST(ProposerTest, DesignsAreDeterministicForASeedAndRespectTheCaps) {
  Law shape;
  shape.family = "chinchilla";
  const DesignSpace space = ChinchillaSpace();
  for (Strategy s : {Strategy::kGrid, Strategy::kRandom, Strategy::kSobol,
                     Strategy::kActive}) {
    ProposeRequest request;
    request.strategy = s;
    request.batch = 16;
    request.seed = 3;
    StatusOr<std::vector<Candidate>> a =
        ProposeRuns(shape, space, OptimalLossAt(1e21), request);
    StatusOr<std::vector<Candidate>> b =
        ProposeRuns(shape, space, OptimalLossAt(1e21), request);
    request.seed = 4;
    StatusOr<std::vector<Candidate>> c =
        ProposeRuns(shape, space, OptimalLossAt(1e21), request);
    ASSERT_OK(a);
    ASSERT_OK(b);
    ASSERT_OK(c);
    ASSERT_EQ(a->size(), 16u);
    bool differs = false;
    for (std::size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].at.params, (*b)[i].at.params) << StrategyName(s);
      EXPECT_EQ((*a)[i].at.tokens, (*b)[i].at.tokens) << StrategyName(s);
      differs |= (*a)[i].at.params != (*c)[i].at.params;
      EXPECT_LE((*a)[i].flops, 1e19);
      EXPECT_GE((*a)[i].at.params, 1e7);
      EXPECT_LE((*a)[i].at.params, 1e9);
      EXPECT_NEAR((*a)[i].flops, 6 * (*a)[i].at.params * (*a)[i].at.tokens,
                  1e-6 * (*a)[i].flops);
    }
    EXPECT_TRUE(differs) << StrategyName(s);
  }
}

// A chinchilla law fitted to 24 runs of a Sobol design simulated from
// Epoch's law (1% noise), with its covariance: a campaign's state after its
// first batches.
struct FittedDesign {
  FitResult fit;
  LawUncertainty uncertainty;
};
StatusOr<FittedDesign> FitSobolDesign(const Law& shape,
                                      const DesignSpace& space,
                                      const Question& question) {
  ProposeRequest initial;
  initial.strategy = Strategy::kSobol;
  initial.batch = 24;
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<Candidate> first,
                            ProposeRuns(shape, space, question, initial));
  std::vector<Observation> design;
  for (const Candidate& c : first) design.push_back(c.at);
  MOESWEEP_ASSIGN_OR_RETURN(
      std::vector<Observation> runs,
      SimulateLosses(*PublishedLaw("chinchilla", "epoch"), design, 0.01, 0, 1));
  MOESWEEP_ASSIGN_OR_RETURN(FitResult fit,
                            Fit("chinchilla", runs, FitOptions{}));
  MOESWEEP_ASSIGN_OR_RETURN(LawUncertainty u,
                            EstimateCovariance(fit.law, runs, 1e-3));
  return FittedDesign{std::move(fit), std::move(u)};
}

// With a fit in hand, the active strategy buys more Var(Q) per FLOP than a
// space-filling batch of the same size.
TEST(ProposerTest, ActiveBatchBuysMoreVarianceReductionPerFlopThanSobol) {
  Law shape;
  shape.family = "chinchilla";
  const DesignSpace space = ChinchillaSpace();
  const Question question = OptimalLossAt(1e21);
  StatusOr<FittedDesign> fitted = FitSobolDesign(shape, space, question);
  ASSERT_OK(fitted);
  const FitResult* fit = &fitted->fit;
  const LawUncertainty* u = &fitted->uncertainty;
  ProposeRequest active;
  active.strategy = Strategy::kActive;
  active.batch = 8;
  active.proposed_before = 24;
  active.law = &fit->law;
  active.uncertainty = &*u;
  ProposeRequest sobol = active;
  sobol.strategy = Strategy::kSobol;
  StatusOr<std::vector<Candidate>> a =
      ProposeRuns(shape, space, question, active);
  StatusOr<std::vector<Candidate>> s =
      ProposeRuns(shape, space, question, sobol);
  ASSERT_OK(a);
  ASSERT_OK(s);
  // Total reduction per total FLOP, each batch scored against the same Σ.
  auto per_flop = [&](const std::vector<Candidate>& batch) {
    std::vector<double> g(fit->law.theta.size());
    for (std::size_t i = 0; i < g.size(); ++i) {
      const double h = 1e-5;
      Law plus = fit->law, minus = fit->law;
      plus.theta[i] += h;
      minus.theta[i] -= h;
      g[i] = (*EvaluateQuestion(plus, question) -
              *EvaluateQuestion(minus, question)) /
             (2 * h);
    }
    double reduction = 0, flops = 0;
    for (const Candidate& c : batch) {
      std::vector<double> j(g.size());
      for (std::size_t i = 0; i < g.size(); ++i) {
        const double h = 1e-6;
        Law plus = fit->law, minus = fit->law;
        plus.theta[i] += h;
        minus.theta[i] -= h;
        j[i] = (std::log(*PredictLoss(plus, c.at)) -
                std::log(*PredictLoss(minus, c.at))) /
               (2 * h);
      }
      reduction += VarianceReduction(u->covariance, g, j,
                                     u->residual_sigma * u->residual_sigma);
      flops += c.flops;
    }
    return reduction / flops;
  };
  EXPECT_GT(per_flop(*a), 2 * per_flop(*s));
}

// Branches of a stable run are priced by the FLOPs they add: a cooldown from
// a checkpoint pays 20% of its tokens, an extension what lies past the
// stable phase's end; each checkpoint is branched from once, one extension a
// batch, and the cheap information draws the proposer to them.
TEST(ProposerTest, BranchesCostOnlyTheTokensTheyAdd) {
  Law shape;
  shape.family = "chinchilla";
  const DesignSpace space = ChinchillaSpace();
  const Question question = OptimalLossAt(1e21);
  StatusOr<FittedDesign> fitted = FitSobolDesign(shape, space, question);
  ASSERT_OK(fitted);
  const FitResult* fit = &fitted->fit;
  const LawUncertainty* u = &fitted->uncertainty;
  // One stable run: a 2e8-parameter model trained to 8e9 tokens (stable to
  // 6.4e9).
  StableRun stable;
  stable.at = {.params = 2e8, .tokens = 8e9};
  stable.at.unique_tokens = 8e9;
  stable.lineage = 7;
  stable.stable_tokens = 6.4e9;
  stable.checkpoints = StableCheckpoints(0, 6.4e9);
  stable.branch_tokens = {8e9};
  const std::vector<StableRun> stable_runs = {stable};
  ProposeRequest active;
  active.batch = 8;
  active.proposed_before = 24;
  active.law = &fit->law;
  active.uncertainty = &*u;
  active.cooldown_fraction = 0.2;
  active.stable_runs = stable_runs;
  // As campaigns run: small runs noisier, each run a fixed cost besides.
  active.noise_reference_flops = 1e18;
  active.run_overhead_flops = kRunOverheadFraction * 1e19;
  StatusOr<std::vector<Candidate>> batch =
      ProposeRuns(shape, space, question, active);
  ASSERT_OK(batch);
  int branches = 0, extensions = 0;
  std::vector<double> tokens = {8e9};
  for (const Candidate& c : *batch) {
    if (c.parent < 0) {
      EXPECT_EQ(c.added_flops, c.flops);
      continue;
    }
    ++branches;
    EXPECT_EQ(c.parent, 0);
    EXPECT_EQ(c.at.params, 2e8);
    EXPECT_EQ(c.at.lineage, 7u);
    EXPECT_DOUBLE_EQ(c.flops, 6 * 2e8 * c.at.tokens);
    EXPECT_DOUBLE_EQ(c.added_flops,
                     c.flops * (c.at.tokens - c.resume_tokens) / c.at.tokens);
    if (c.resume_tokens == stable.stable_tokens) {
      ++extensions;
      EXPECT_GT(c.at.tokens, 8e9);
    } else {
      EXPECT_NE(std::find(stable.checkpoints.begin(), stable.checkpoints.end(),
                          c.resume_tokens),
                stable.checkpoints.end());
      EXPECT_DOUBLE_EQ(c.resume_tokens, 0.8 * c.at.tokens);
    }
    EXPECT_EQ(std::count(tokens.begin(), tokens.end(), c.at.tokens), 0)
        << "a second run of " << c.at.tokens << " tokens";
    tokens.push_back(c.at.tokens);
  }
  EXPECT_GT(branches, 0);
  EXPECT_LE(extensions, 1);
  // Without a cooldown nothing branches.
  active.cooldown_fraction = 0;
  StatusOr<std::vector<Candidate>> plain =
      ProposeRuns(shape, space, question, active);
  ASSERT_OK(plain);
  for (const Candidate& c : *plain) EXPECT_EQ(c.parent, -1);
  active.cooldown_fraction = 0.6;
  EXPECT_EQ(ProposeRuns(shape, space, question, active).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ProposerTest, RefusesBadSpacesAndRequests) {
  Law shape;
  shape.family = "chinchilla";
  DesignSpace space;
  ProposeRequest request;
  EXPECT_EQ(
      ProposeRuns(shape, space, OptimalLossAt(1e21), request).status().code(),
      StatusCode::kInvalidArgument);
  space = ChinchillaSpace();
  space.axes[0].min = 0;  // log scale needs min > 0
  EXPECT_EQ(
      ProposeRuns(shape, space, OptimalLossAt(1e21), request).status().code(),
      StatusCode::kInvalidArgument);
  space = ChinchillaSpace();
  space.max_run_flops = 1;  // nothing fits
  EXPECT_EQ(
      ProposeRuns(shape, space, OptimalLossAt(1e21), request).status().code(),
      StatusCode::kFailedPrecondition);
  EXPECT_EQ(StrategyFromName("bayes").status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::fitter
