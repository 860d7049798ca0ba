#include <gtest/gtest.h>

#include <cmath>

#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

CampaignSimulation ChinchillaCampaign(Strategy strategy, std::uint64_t seed) {
  CampaignSimulation sim;
  sim.shape.family = "chinchilla";
  sim.truth = *PublishedLaw("chinchilla", "epoch");
  sim.space.axes = {{Feature::kParams, 1e7, 1e9, true, {}},
                    {Feature::kTokens, 1e8, 1e11, true, {}}};
  sim.space.max_run_flops = 1e19;
  sim.question.optimal.flops = 1e21;  // 100x the largest allowed run
  sim.question.optimal.profile_points = 25;
  sim.target_relative_width = 0.05;
  sim.budget_flops = 1e22;
  sim.max_parallel_runs = 8;
  sim.strategy = strategy;
  sim.seed = seed;
  return sim;
}

TEST(CampaignSimulationTest, ActiveCampaignStopsAtTheTargetWithAnHonestAnswer) {
  StatusOr<CampaignOutcome> outcome =
      SimulateCampaign(ChinchillaCampaign(Strategy::kActive, 1));
  ASSERT_OK(outcome);
  EXPECT_EQ(outcome->stop_reason, "target reached");
  EXPECT_TRUE(outcome->answered);
  EXPECT_LT(
      (outcome->answer.upper - outcome->answer.lower) / outcome->answer.value,
      0.05);
  EXPECT_NEAR(outcome->truth, 2.3055, 1e-3);  // LAWS.md §1d, Epoch at 1e21
  EXPECT_TRUE(outcome->covered);
  EXPECT_LT(outcome->flops_spent, 1e22);
  EXPECT_GT(outcome->gpu_seconds, 0);
}

TEST(CampaignSimulationTest, SameSeedSameCampaign) {
  StatusOr<CampaignOutcome> a =
      SimulateCampaign(ChinchillaCampaign(Strategy::kSobol, 2));
  StatusOr<CampaignOutcome> b =
      SimulateCampaign(ChinchillaCampaign(Strategy::kSobol, 2));
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(a->flops_spent, b->flops_spent);
  EXPECT_EQ(a->runs, b->runs);
  EXPECT_EQ(a->answer.value, b->answer.value);
}

TEST(CampaignSimulationTest, StopsWhenTheBudgetIsSpent) {
  CampaignSimulation sim = ChinchillaCampaign(Strategy::kRandom, 3);
  sim.target_relative_width = 1e-4;  // out of reach
  sim.budget_flops = 2e19;
  StatusOr<CampaignOutcome> outcome = SimulateCampaign(sim);
  ASSERT_OK(outcome);
  EXPECT_EQ(outcome->stop_reason, "budget spent");
  EXPECT_GE(outcome->flops_spent, 2e19);
  EXPECT_LT(outcome->flops_spent,
            2e19 + 8 * 1e19);  // at most one batch past it
}

// A baseline that checks the stopping rule only as its runs grow by 10%
// stops no earlier than one that checks every batch, and at most about 10%
// (plus a batch) later.
TEST(CampaignSimulationTest, GroupedChecksOvershootByAtMostTheirGrowth) {
  CampaignSimulation every = ChinchillaCampaign(Strategy::kSobol, 4);
  CampaignSimulation grouped = every;
  grouped.check_growth = 0.1;
  StatusOr<CampaignOutcome> a = SimulateCampaign(every);
  StatusOr<CampaignOutcome> b = SimulateCampaign(grouped);
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_EQ(a->stop_reason, "target reached");
  EXPECT_EQ(b->stop_reason, "target reached");
  EXPECT_GE(b->runs, a->runs);
  EXPECT_LE(b->runs, static_cast<int>(std::ceil(a->runs * 1.1)) + 8);
  EXPECT_TRUE(b->covered);
  // Active learning reads the law for every batch: grouping never applies.
  CampaignSimulation active = ChinchillaCampaign(Strategy::kActive, 4);
  StatusOr<CampaignOutcome> c = SimulateCampaign(active);
  active.check_growth = 0.5;
  StatusOr<CampaignOutcome> d = SimulateCampaign(active);
  ASSERT_OK(c);
  ASSERT_OK(d);
  EXPECT_EQ(c->runs, d->runs);
  EXPECT_EQ(c->flops_spent, d->flops_spent);
}

// Without a per-run overhead, active learning floods the campaign with the
// cheapest runs; charging one (the coordinator's rule) buys fewer, larger
// runs.
TEST(CampaignSimulationTest, PerRunOverheadBuysFewerLargerRuns) {
  CampaignSimulation free_runs = ChinchillaCampaign(Strategy::kActive, 5);
  free_runs.run_overhead_fraction = 0;
  CampaignSimulation charged = ChinchillaCampaign(Strategy::kActive, 5);
  ASSERT_EQ(charged.run_overhead_fraction, kRunOverheadFraction);
  StatusOr<CampaignOutcome> a = SimulateCampaign(free_runs);
  StatusOr<CampaignOutcome> b = SimulateCampaign(charged);
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(b->stop_reason, "target reached");
  EXPECT_LT(b->runs, a->runs);
  EXPECT_GT(b->flops_spent / b->runs, 1.5 * a->flops_spent / a->runs);
}

TEST(CampaignSimulationTest, RefusesBadSettings) {
  CampaignSimulation sim = ChinchillaCampaign(Strategy::kActive, 1);
  sim.check_growth = -0.1;
  EXPECT_EQ(SimulateCampaign(sim).status().code(),
            StatusCode::kInvalidArgument);
  sim = ChinchillaCampaign(Strategy::kActive, 1);
  sim.run_overhead_fraction = std::nan("");
  EXPECT_EQ(SimulateCampaign(sim).status().code(),
            StatusCode::kInvalidArgument);
  sim = ChinchillaCampaign(Strategy::kActive, 1);
  sim.cooldown_fraction = 0.6;  // a cooldown longer than the stable phase
  EXPECT_EQ(SimulateCampaign(sim).status().code(),
            StatusCode::kInvalidArgument);
  sim = ChinchillaCampaign(Strategy::kSobol, 1);
  sim.cooldown_fraction = 0.2;  // only the active strategy prices branches
  EXPECT_EQ(SimulateCampaign(sim).status().code(),
            StatusCode::kInvalidArgument);
}

// The one stopping rule the coordinator and the simulation share: a narrow
// interval and enough runs stop a campaign, unless a parameter sits on its
// bound (chinchilla's e >= -3).
TEST(StoppingRuleTest, RefusesToStopWithAParameterAtItsBound) {
  StatusOr<Law> law = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(law);
  const Interval narrow{2.0, 1.99, 2.01};  // relative width 0.01
  const std::size_t enough = kRunsPerParameter * 5;
  EXPECT_TRUE(MeetsStoppingRule(*law, enough, narrow, 0.02));
  EXPECT_FALSE(MeetsStoppingRule(*law, enough - 1, narrow, 0.02));
  EXPECT_FALSE(MeetsStoppingRule(*law, enough, narrow, 0.005));
  EXPECT_FALSE(
      MeetsStoppingRule(*law, enough, {0, -0.01, 0.01}, 0.02));  // no value

  Law on_bound = *law;
  on_bound.theta[2] = -3;
  EXPECT_FALSE(MeetsStoppingRule(on_bound, enough, narrow, 0.02));
  on_bound.theta[2] = -3 + 1e-3;  // inside: a fitted value again
  EXPECT_TRUE(MeetsStoppingRule(on_bound, enough, narrow, 0.02));
}

// An oracle whose E (0.01) lies below the family's box: the fit presses e
// against its bound, its covariance calls the answer certain, and the
// campaign must still not stop on it.
TEST(StoppingRuleTest, SimulatedCampaignDoesNotStopOnALawAtItsBound) {
  CampaignSimulation sim = ChinchillaCampaign(Strategy::kSobol, 5);
  const std::vector<NamedValue> natural = {{"A", 482.01},
                                           {"B", 2085.43},
                                           {"E", 0.01},
                                           {"alpha", 0.3478},
                                           {"beta", 0.3658}};
  StatusOr<Law> truth = LawFromNatural("chinchilla", natural);
  ASSERT_OK(truth);
  sim.truth = *truth;
  sim.target_relative_width = 0.2;  // reached after 40 runs if e is ignored
  sim.budget_flops = 2e20;
  StatusOr<CampaignOutcome> outcome = SimulateCampaign(sim);
  ASSERT_OK(outcome);
  ASSERT_TRUE(outcome->answered);
  EXPECT_EQ(outcome->stop_reason, "budget spent");
  // Narrow enough: only the bound kept the campaign going.
  EXPECT_LT(RelativeWidth(outcome->answer), sim.target_relative_width);
}

TEST(OracleTest, NoiseDivergenceAndCurvesBehaveAsConfigured) {
  OracleOptions options;
  options.divergence_probability = 0.1;
  const Law truth = *PublishedLaw("chinchilla", "epoch");
  const Oracle oracle(truth, options, 7);
  const Observation at{.params = 1e8, .tokens = 2e9};
  const double clean = *PredictLoss(truth, at);
  int diverged = 0, n = 2000;
  double sum_sq = 0;
  for (int i = 0; i < n; ++i) {
    StatusOr<SimulatedRun> run = oracle.Train(at, 1.2e18, i);
    ASSERT_OK(run);
    if (run->diverged) {
      ++diverged;
      EXPECT_LT(run->flops_spent, 1.2e18);
      continue;
    }
    EXPECT_EQ(run->curve.size(), 10u);
    EXPECT_GT(run->curve.front().loss,
              run->final_loss);  // loss falls with tokens
    const double r = std::log(run->final_loss / clean);
    sum_sq += r * r;
    EXPECT_DOUBLE_EQ(run->gpu_seconds, 1.2e18 / options.flops_per_second);
  }
  EXPECT_NEAR(double(diverged) / n, 0.1, 0.02);
  EXPECT_NEAR(std::sqrt(sum_sq / (n - diverged)), 0.01, 0.001);
  // Repeatable per run index.
  EXPECT_EQ(oracle.Train(at, 1.2e18, 5)->final_loss,
            oracle.Train(at, 1.2e18, 5)->final_loss);
}

// Runs of one lineage are cooldowns of one stable run: they share its offset
// from the law (its seed and data order), each is charged from its
// checkpoint, and its stable phase sits cooldown_drop above the law.
TEST(OracleTest, BranchesOfOneStableRunShareItsOffset) {
  OracleOptions options;
  options.divergence_probability = 0;
  options.lineage_correlation = 1;
  const Law truth = *PublishedLaw("chinchilla", "epoch");
  const Oracle oracle(truth, options, 7);
  const Observation small{.params = 1e8, .tokens = 2e9};
  const Observation large{.params = 1e8, .tokens = 8e9};
  const double cost_small = 1.2e18, cost_large = 4.8e18;
  auto offset = [&](const Observation& at, const SimulatedRun& run) {
    return std::log(run.final_loss / *PredictLoss(truth, at));
  };
  StatusOr<SimulatedRun> parent =
      oracle.TrainWsd(large, cost_large, {.lineage = 3}, 0);
  // From the parent's checkpoint at 0.8 of the small run's tokens.
  StatusOr<SimulatedRun> branch = oracle.TrainWsd(
      small, cost_small, {.lineage = 3, .resume_tokens = 0.8 * 2e9}, 1);
  StatusOr<SimulatedRun> other =
      oracle.TrainWsd(small, cost_small, {.lineage = 4}, 2);
  ASSERT_OK(parent);
  ASSERT_OK(branch);
  ASSERT_OK(other);
  EXPECT_NEAR(offset(large, *parent), offset(small, *branch), 1e-12);
  EXPECT_GT(std::abs(offset(small, *other) - offset(small, *branch)), 1e-6);
  EXPECT_DOUBLE_EQ(parent->flops_spent, cost_large);
  EXPECT_DOUBLE_EQ(branch->flops_spent, 0.2 * cost_small);
  EXPECT_DOUBLE_EQ(branch->curve.front().tokens, 0.8 * 2e9 + 0.02 * 2e9);
  // The parent's stable phase (to 6.4e9 tokens) is lifted by the drop, its
  // eval noise (0.2 σ, σ = 1%) aside.
  for (const LossPoint& point : parent->curve) {
    Observation at = large;
    at.tokens = point.tokens;
    const double lift =
        std::log(point.loss / *PredictLoss(truth, at)) - offset(large, *parent);
    if (point.tokens <= 6.4e9) {
      EXPECT_NEAR(lift, options.cooldown_drop, 0.01);
    }
  }
  // With noise of its own, a cooldown's loss differs from its sibling's.
  options.lineage_correlation = 0.9;
  const Oracle noisy(truth, options, 7);
  EXPECT_NE(
      offset(small, *noisy.TrainWsd(small, cost_small, {.lineage = 3}, 1)),
      offset(large, *noisy.TrainWsd(large, cost_large, {.lineage = 3}, 0)));
  EXPECT_EQ(
      oracle
          .TrainWsd(small, cost_small, {.lineage = 3, .resume_tokens = 2e9}, 1)
          .status()
          .code(),
      StatusCode::kInvalidArgument);
}

// With warmup-stable-decay runs the proposer branches new runs from earlier
// ones' checkpoints; the campaign still stops at its target with an honest
// answer, on fewer FLOPs than the same campaign without branches.
TEST(CampaignSimulationTest, BranchingCampaignReachesTheTargetOnFewerFlops) {
  CampaignSimulation sim = ChinchillaCampaign(Strategy::kActive, 1);
  StatusOr<CampaignOutcome> plain = SimulateCampaign(sim);
  sim.cooldown_fraction = 0.2;
  StatusOr<CampaignOutcome> branched = SimulateCampaign(sim);
  ASSERT_OK(plain);
  ASSERT_OK(branched);
  EXPECT_EQ(branched->stop_reason, "target reached");
  EXPECT_TRUE(branched->covered);
  EXPECT_GT(branched->branches, 0);
  EXPECT_EQ(plain->branches, 0);
  EXPECT_LT(branched->flops_spent, plain->flops_spent);
}

}  // namespace
}  // namespace moesweep::fitter
