// Honest uncertainty, checked the way a user relies on it: for every family,
// runs simulated over the papers' ranges (1% log-normal noise, 5% gross
// outliers) are fitted; over 200 simulated data sets the compute-optimal loss
// at 10x the largest simulated budget is recovered within 1% (median error),
// and its 95% delta-method interval holds the truth 90-98% of the time.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <random>

#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

struct Case {
  const char* name;
  Law truth;
  std::vector<Observation> design;   // losses unset
  double budget;                     // 10x the largest simulated run's FLOPs
  double median_error_bound = 0.01;  // the goal
  // Data sets whose refit may leave the free parameters' JᵀJ singular.
  int max_unidentifiable = 0;
  // A cap on total parameters for the optimum (comprehensive needs one).
  double max_total_params = std::numeric_limits<double>::infinity();
};

// Log-uniform draws for random designs of each paper's size and ranges.
class Draw {
 public:
  explicit Draw(std::uint64_t seed) : rng_(seed) {}
  double LogUniform(double lo, double hi) {
    return std::exp(std::uniform_real_distribution<double>(std::log(lo),
                                                           std::log(hi))(rng_));
  }
  double Uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng_);
  }
  double Pick(std::initializer_list<double> values) {
    const std::size_t i =
        std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(rng_);
    return values.begin()[i];
  }

 private:
  std::mt19937_64 rng_;
};

// Hoffmann et al.: about 400 runs, 70M to 16B parameters, 5B to 500B tokens.
Case Chinchilla() {
  Case c{"chinchilla", *PublishedLaw("chinchilla", "epoch"), {}, 0};
  Draw draw(1);
  double largest = 0;
  for (int i = 0; i < 400; ++i) {
    const double n = draw.LogUniform(7e7, 1.6e10),
                 d = draw.LogUniform(5e9, 5e11);
    c.design.push_back({.params = n, .tokens = d});
    largest = std::max(largest, 6 * n * d);
  }
  c.budget = 10 * largest;
  return c;
}

// Krajewski et al.: over 100 runs, N from 129M to 3.7B, D from 16B to 130B,
// G in 1..16, with the paper's shapes (d = 64·n_blocks, expansion 64) so
// the cost of each run is known.
Case Finegrained() {
  Case c{"finegrained", *PublishedLaw("finegrained", "krajewski2024"), {}, 0};
  Draw draw(2);
  double largest = 0;
  for (int i = 0; i < 200; ++i) {
    const double blocks = draw.Pick({4, 5, 6, 7, 8, 9, 10, 11, 12}),
                 d = 64 * blocks;
    const double tokens = draw.LogUniform(16e9, 130e9),
                 g = draw.Pick({1, 2, 4, 8, 16});
    c.design.push_back({.tokens = tokens,
                        .n_total_ne = d * d * (8 * 64 + 4) * blocks,
                        .granularity = g});
    largest =
        std::max(largest, (12 * d * d * 6 + d * 64 * g * 14) * tokens * blocks);
  }
  c.budget = 10 * largest;
  return c;
}

// Ludziejewski et al.: over 280 runs, N_act from 79M to 2.7B, E in 1..32,
// D from 0.5B to 80B.
Case Joint() {
  Case c{"joint", *PublishedLaw("joint", "ludziejewski2025"), {}, 0};
  Draw draw(3);
  double largest = 0;
  for (int i = 0; i < 280; ++i) {
    const double n = draw.LogUniform(7.9e7, 2.7e9),
                 d = draw.LogUniform(5e8, 8e10);
    c.design.push_back({.tokens = d,
                        .active_params = n,
                        .num_experts = draw.Pick({1, 2, 4, 8, 16, 32})});
    largest = std::max(largest, 6 * n * d);
  }
  c.budget = 10 * largest;
  return c;
}

// Muennighoff et al.: about 400 runs up to 9B parameters, repeating unique
// data up to many epochs.
Case Datablations() {
  Case c{
      "datablations", *PublishedLaw("datablations", "muennighoff2023"), {}, 0};
  Draw draw(4);
  double largest = 0;
  for (int i = 0; i < 400; ++i) {
    const double n = draw.LogUniform(1e8, 9e9),
                 unique = draw.LogUniform(1e9, 1e11);
    const double tokens = unique * draw.LogUniform(1, 60);
    c.design.push_back(
        {.params = n, .tokens = tokens, .unique_tokens = unique});
    largest = std::max(largest, 6 * n * tokens);
  }
  c.budget = 10 * largest;
  return c;
}

// Zhao et al.'s 446 runs over their ranges (N 133M-3.4B, D 10B-50B, N_a
// 30M-2.2B, G 1-20, S 0-0.7; LAWS.md §5c), their Eq. 11 with the published
// coefficients as the truth.
Case Comprehensive() {
  Case c{"comprehensive", *PublishedLaw("comprehensive", "zhao2025"), {}, 0};
  Draw draw(5);
  double largest = 0;
  for (int i = 0; i < 446; ++i) {
    const double n = draw.LogUniform(1.33e8, 3.4e9),
                 d = draw.LogUniform(1e10, 5e10);
    const double active = std::max(3e7, n * draw.LogUniform(0.05, 0.9));
    c.design.push_back({.tokens = d,
                        .n_total_ne = n,
                        .n_active_ne = active,
                        .active_experts = std::round(draw.LogUniform(1, 20)),
                        .shared_ratio = draw.Uniform(0, 0.7)});
    largest = std::max(largest, 6 * active * d);
  }
  c.max_total_params = 9e9;  // their largest validation model
  c.budget = 10 * largest;
  // NOT the 1%: over these ranges (one decade of D) the data term's
  // a, b and β trade off; the median error at 10x the largest budget is
  // 1.2% with Zhao's coefficients (this bound keeps it), the intervals
  // honest (coverage 0.98).
  c.median_error_bound = 0.015;
  // Eq. 11's G and S factor moves the loss by about 1% over this design, as
  // much as the noise: 1 refit in 200 (seed 110) lands where m, the S²
  // coefficient, is near 0 and its column of J vanishes. Counted, and
  // bounded at 1%.
  c.max_unidentifiable = 2;
  return c;
}

StatusOr<double> OptimalLoss(const Law& law, double budget,
                             double max_total_params) {
  OptimalOptions options;
  options.flops = budget;
  options.max_total_params = max_total_params;
  options.profile_points = 25;
  MOESWEEP_ASSIGN_OR_RETURN(OptimalResult result, SolveOptimal(law, options));
  return result.best.loss;
}

class UncertaintyTest : public ::testing::TestWithParam<Case (*)()> {};

TEST_P(UncertaintyTest, RecoversTheOptimalLossAndItsIntervalsCover) {
  const Case c = GetParam()();
  StatusOr<double> truth = OptimalLoss(c.truth, c.budget, c.max_total_params);
  ASSERT_OK(truth);

  // The full multi-start fit of one data set reaches the global optimum.
  StatusOr<std::vector<Observation>> runs =
      SimulateLosses(c.truth, c.design, 0.01, 0.05, 1);
  ASSERT_OK(runs);
  StatusOr<FitResult> fit = Fit(c.truth.family, *runs, FitOptions{});
  ASSERT_OK(fit);
  EXPECT_LE(fit->objective, *Objective(c.truth, *runs, 1e-3)) << c.name;

  // 200 data sets, each warm-started from that fit (not from the truth).
  FitOptions warm;
  warm.use_grid = false;
  warm.extra_starts = {fit->law.theta};
  int covered = 0, total = 0, unidentifiable = 0;
  std::vector<double> errors;
  for (std::uint64_t seed = 100; seed < 300; ++seed) {
    StatusOr<std::vector<Observation>> sample =
        SimulateLosses(c.truth, c.design, 0.01, 0.05, seed);
    ASSERT_OK(sample);
    StatusOr<FitResult> refit = Fit(c.truth.family, *sample, warm);
    ASSERT_OK(refit);
    StatusOr<double> recovered =
        OptimalLoss(refit->law, c.budget, c.max_total_params);
    ASSERT_OK(recovered);
    errors.push_back(std::abs(*recovered - *truth) / *truth);
    StatusOr<LawUncertainty> u = EstimateCovariance(refit->law, *sample, 1e-3);
    ++total;  // a data set with no interval counts as not covered
    if (!u.ok()) {
      ++unidentifiable;
      std::printf("%s seed %d: %s\n", c.name, static_cast<int>(seed),
                  u.status().ToString().c_str());
      continue;
    }
    StatusOr<Interval> interval = DeltaMethodInterval(
        refit->law, *u,
        [&](const Law& law) {
          return OptimalLoss(law, c.budget, c.max_total_params);
        },
        0.95, IntervalScale::kLog);
    ASSERT_OK(interval);
    covered += interval->lower <= *truth && *truth <= interval->upper;
  }
  std::nth_element(errors.begin(), errors.begin() + errors.size() / 2,
                   errors.end());
  const double median_error = errors[errors.size() / 2];
  const double coverage = double(covered) / total;
  std::printf(
      "%s: optimal loss %.4f, median error %.3f%%, 95%% interval coverage "
      "%.3f\n",
      c.name, *truth, 100 * median_error, coverage);
  EXPECT_LE(median_error, c.median_error_bound) << c.name;
  EXPECT_LE(unidentifiable, c.max_unidentifiable) << c.name;
  EXPECT_GE(coverage, 0.90) << c.name;
  EXPECT_LE(coverage, 0.98) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Families, UncertaintyTest,
                         ::testing::Values(&Chinchilla, &Finegrained, &Joint,
                                           &Datablations, &Comprehensive),
                         [](const auto& info) {
                           return std::string(info.param().name);
                         });

// A law from a handful of runs can carry a covariance so large that Q ±
// z·sd(Q) crosses zero (an early campaign answered [-2.75, 4.17]); on log Q
// the interval stays positive, and is symmetric in log: value² = lower·upper.
// Residuals of lineages with a shared part of variance 0.8 and their own
// of 0.2: ρ is recovered, a little high (its bound errs that way), and runs
// of no lineage, or alone in theirs, tell nothing of it.
TEST(LineageCorrelationTest, RecoversTheSharedShareOfTheNoise) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> residuals;
  std::vector<std::uint64_t> lineages;
  for (std::uint64_t l = 1; l <= 300; ++l) {
    const double shared = std::sqrt(0.8) * normal(rng);
    for (int k = 0; k < 4; ++k) {
      residuals.push_back(shared + std::sqrt(0.2) * normal(rng));
      lineages.push_back(l);
    }
  }
  LineageCorrelation c = EstimateLineageCorrelation(residuals, lineages, 1.0);
  EXPECT_EQ(c.within_df, 900);
  EXPECT_NEAR(c.rho, 0.8, 0.04);
  EXPECT_GE(c.rho, 0.78);
  std::vector<std::uint64_t> alone(residuals.size());
  for (std::size_t i = 0; i < alone.size(); ++i) alone[i] = i + 1;
  EXPECT_EQ(EstimateLineageCorrelation(residuals, alone, 1.0).rho, 0);
  std::vector<std::uint64_t> none(residuals.size(), 0);
  EXPECT_EQ(EstimateLineageCorrelation(residuals, none, 1.0).within_df, 0);
}

// 16 lineages (model sizes 3e7 to 3e9) of 5 token counts each, with a
// lineage offset of sd 2% and 0.4% of each run's own (ρ about 0.96).
std::vector<Observation> BranchedRuns(const Law& truth, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  std::vector<Observation> runs;
  for (int l = 0; l < 16; ++l) {
    const double n = 3e7 * std::pow(100.0, l / 15.0);
    const double shared = 0.02 * normal(rng);
    for (int k = 0; k < 5; ++k) {
      Observation run{.params = n, .tokens = 5 * n * std::pow(2.0, k)};
      run.lineage = static_cast<std::uint64_t>(l + 1);
      run.loss =
          *PredictLoss(truth, run) * std::exp(shared + 0.004 * normal(rng));
      runs.push_back(run);
    }
  }
  return runs;
}

// Cooldown branches of one stable run share its offset from the law. Their
// interval must say so: over 100 data sets of BranchedRuns, the 95% interval
// of a prediction well beyond the runs holds the truth about 95% of the time
// when the covariance knows the lineages, and far less often when it takes
// the 80 runs as independent.
TEST(EstimateCovarianceTest, BranchesOfOneRunWidenTheInterval) {
  const Law truth = *PublishedLaw("chinchilla", "epoch");
  const Observation far{.params = 3e10, .tokens = 6e11};
  const double clean = *PredictLoss(truth, far);
  int covered = 0, covered_independent = 0, data_sets = 100;
  for (int seed = 0; seed < data_sets; ++seed) {
    std::vector<Observation> runs = BranchedRuns(truth, seed);
    FitOptions options;
    options.use_grid = false;
    options.extra_starts = {truth.theta};
    StatusOr<FitResult> fit = Fit("chinchilla", runs, options);
    ASSERT_OK(fit);
    StatusOr<LawUncertainty> u = EstimateCovariance(fit->law, runs, 1e-3);
    ASSERT_OK(u);
    EXPECT_GT(u->lineage_correlation, 0.5);
    for (Observation& run : runs) run.lineage = 0;
    StatusOr<LawUncertainty> independent =
        EstimateCovariance(fit->law, runs, 1e-3);
    ASSERT_OK(independent);
    EXPECT_EQ(independent->lineage_correlation, 0);
    auto holds = [&](const LawUncertainty& uncertainty) {
      StatusOr<Interval> i =
          PredictionInterval(fit->law, uncertainty, far, 0.95, false);
      return i.ok() && i->lower <= clean && clean <= i->upper;
    };
    covered += holds(*u);
    covered_independent += holds(*independent);
  }
  EXPECT_GE(covered, 88);
  EXPECT_LE(covered_independent, 75);
  std::cout << "covered " << covered << ", as if independent "
            << covered_independent << " of " << data_sets << "\n";
}

// The same data fitted whitened (generalised least squares, ρ estimated
// from a plain fit's residuals): the lineages' runs are read against each
// other, so the law is surer (its interval narrower than the plain fit's
// sandwich in most data sets), and its interval still holds the truth about
// 95% of the time.
TEST(EstimateCovarianceTest, WhitenedFitOfBranchesIsSurerAndHonest) {
  const Law truth = *PublishedLaw("chinchilla", "epoch");
  const Observation far{.params = 3e10, .tokens = 6e11};
  const double clean = *PredictLoss(truth, far);
  int covered = 0, narrower = 0, data_sets = 100;
  for (int seed = 0; seed < data_sets; ++seed) {
    const std::vector<Observation> runs = BranchedRuns(truth, seed);
    FitOptions options;
    options.use_grid = false;
    options.extra_starts = {truth.theta};
    StatusOr<FitResult> plain = Fit("chinchilla", runs, options);
    ASSERT_OK(plain);
    const double rho = EstimateLineageCorrelationAt(plain->law, runs).rho;
    EXPECT_GT(rho, 0.5);  // 0.96 in truth
    options.lineage_correlation = rho;
    options.extra_starts = {plain->law.theta};
    StatusOr<FitResult> whitened = Fit("chinchilla", runs, options);
    ASSERT_OK(whitened);
    StatusOr<LawUncertainty> u =
        EstimateCovariance(whitened->law, runs, 1e-3, rho);
    StatusOr<LawUncertainty> sandwich =
        EstimateCovariance(plain->law, runs, 1e-3);
    ASSERT_OK(u);
    ASSERT_OK(sandwich);
    EXPECT_EQ(u->lineage_correlation, rho);
    StatusOr<Interval> i =
        PredictionInterval(whitened->law, *u, far, 0.95, false);
    StatusOr<Interval> j =
        PredictionInterval(plain->law, *sandwich, far, 0.95, false);
    ASSERT_OK(i);
    ASSERT_OK(j);
    covered += i->lower <= clean && clean <= i->upper;
    narrower += RelativeWidth(*i) < RelativeWidth(*j);
  }
  EXPECT_GE(covered, 88);
  EXPECT_GE(narrower, 70);
  std::cout << "covered " << covered << ", narrower than the plain fit's in "
            << narrower << " of " << data_sets << "\n";
}

TEST(DeltaMethodIntervalTest, LogScaleStaysPositiveUnderHugeCovariance) {
  StatusOr<Law> law = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(law);
  LawUncertainty huge;
  huge.covariance.assign(25, 0.0);
  for (int i = 0; i < 5; ++i) huge.covariance[i * 5 + i] = 4;
  huge.residual_sigma = 0.5;
  const Observation at{.params = 1e8, .tokens = 2e9};
  const Quantity loss = [&](const Law& l) { return PredictLoss(l, at); };

  StatusOr<Interval> linear =
      DeltaMethodInterval(*law, huge, loss, 0.95, IntervalScale::kLinear);
  ASSERT_OK(linear);
  ASSERT_LT(linear->lower, 0);  // the failure this guards against

  StatusOr<Interval> log =
      DeltaMethodInterval(*law, huge, loss, 0.95, IntervalScale::kLog);
  ASSERT_OK(log);
  EXPECT_EQ(log->value, linear->value);
  EXPECT_GT(log->lower, 0);
  EXPECT_LT(log->lower, log->value);
  EXPECT_GT(log->upper, log->value);
  EXPECT_NEAR(std::log(log->upper / log->value),
              std::log(log->value / log->lower), 1e-9);
  // Same linearisation: sd(log Q) = sd(Q)/Q.
  EXPECT_NEAR(std::log(log->upper / log->value),
              (linear->upper - linear->value) / linear->value, 1e-9);

  for (bool noise : {false, true}) {
    StatusOr<Interval> p = PredictionInterval(*law, huge, at, 0.95, noise);
    ASSERT_OK(p);
    EXPECT_GT(p->lower, 0);
    EXPECT_LT(p->lower, p->value);
    EXPECT_GT(p->upper, p->value);
  }
}

TEST(DeltaMethodIntervalTest, LogScaleRefusesANonPositiveQuantity) {
  StatusOr<Law> law = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(law);
  LawUncertainty u;
  u.covariance.assign(25, 0.0);
  const Quantity negative = [](const Law&) -> StatusOr<double> { return -1; };
  EXPECT_EQ(DeltaMethodInterval(*law, u, negative, 0.95, IntervalScale::kLog)
                .status()
                .code(),
            StatusCode::kFailedPrecondition);
  EXPECT_OK(
      DeltaMethodInterval(*law, u, negative, 0.95, IntervalScale::kLinear));
}

TEST(RelativeWidthTest, WidthOverValueAndInfinityWithoutOne) {
  EXPECT_NEAR(RelativeWidth({2, 1.9, 2.1}), 0.1, 1e-12);
  EXPECT_NEAR(RelativeWidth({-2, -2.1, -1.9}), 0.1, 1e-12);
  EXPECT_EQ(RelativeWidth({0, -1, 1}), std::numeric_limits<double>::infinity());
  EXPECT_EQ(RelativeWidth({1, 0, std::numeric_limits<double>::infinity()}),
            std::numeric_limits<double>::infinity());
}

TEST(PercentileIntervalTest, InterpolatesQuantiles) {
  std::vector<double> samples;
  for (int i = 0; i <= 100; ++i) samples.push_back(i);
  const Interval i = PercentileInterval(samples, 50, 0.9);
  EXPECT_DOUBLE_EQ(i.lower, 5);
  EXPECT_DOUBLE_EQ(i.upper, 95);
}

TEST(TwoSidedZTest, KnownQuantiles) {
  EXPECT_NEAR(TwoSidedZ(0.95), 1.959964, 1e-6);
  EXPECT_NEAR(TwoSidedZ(0.6826895), 1.0, 1e-6);
}

}  // namespace
}  // namespace moesweep::fitter
