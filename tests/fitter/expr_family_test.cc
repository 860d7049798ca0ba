#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "ceres/ceres.h"
#include "fitter/family.h"
#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

// The Chinchilla law in natural units. Bounds hold the Epoch optimum (E ~ 1.8,
// A ~ 480, B ~ 2,100, alpha, beta ~ 0.35) well inside; starts span the same
// basins as the chinchilla grid at a fraction of its size.
ExprSpec ChinchillaSpec() {
  return {.expression = "E + A/params^alpha + B/tokens^beta",
          .params = {{"E", 0.05, 20, {1, 2}},
                     {"A", 1e-2, 1e7, {1e2, 1e3, 1e4}},
                     {"B", 1e-2, 1e7, {1e2, 1e3, 1e4}},
                     {"alpha", 0, 2.5, {0.2, 0.4, 0.6}},
                     {"beta", 0, 2.5, {0.2, 0.4, 0.6}}}};
}

Status SpecError(const ExprSpec& spec) { return NewExprFamily(spec).status(); }

void ExpectRefused(const ExprSpec& spec, std::string_view says) {
  const Status s = SpecError(spec);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << says;
  EXPECT_NE(s.message().find(says), std::string_view::npos)
      << "got: " << s.message() << "; wanted: " << says;
}

TEST(ExprFamilyTest, RefusesBadParameters) {
  ExprSpec unused = ChinchillaSpec();
  unused.params.push_back({"gamma", 0, 1, {0.5}});
  ExpectRefused(unused, "parameter 'gamma' is declared but not used");

  ExprSpec twice = ChinchillaSpec();
  twice.params.push_back(twice.params[0]);
  ExpectRefused(twice, "parameter 'E' is declared twice");

  ExprSpec inverted = ChinchillaSpec();
  inverted.params[3].lower = 3;
  ExpectRefused(inverted, "parameter 'alpha': needs lower < upper");

  ExprSpec equal = ChinchillaSpec();
  equal.params[3].upper = equal.params[3].lower;
  ExpectRefused(equal, "parameter 'alpha': needs lower < upper");

  ExprSpec no_starts = ChinchillaSpec();
  no_starts.params[1].starts.clear();
  ExpectRefused(no_starts, "parameter 'A': needs at least one start");

  ExprSpec outside = ChinchillaSpec();
  outside.params[4].starts.push_back(3);
  ExpectRefused(outside, "parameter 'beta': start 3.000000 is outside");

  ExprSpec feature_name = ChinchillaSpec();
  feature_name.params[0].name = "tokens";
  ExpectRefused(feature_name, "the name is taken by a feature");

  ExprSpec function_name = ChinchillaSpec();
  function_name.params[0].name = "log";
  ExpectRefused(function_name, "the name is taken by a function");

  ExprSpec bad_name = ChinchillaSpec();
  bad_name.params[0].name = "2E";
  ExpectRefused(bad_name, "parameter name '2E' must be a letter");

  ExpectRefused({.expression = "params", .params = {}},
                "declare at least one parameter");

  ExprSpec parse_error = ChinchillaSpec();
  parse_error.expression = "E + A/params^alpha + B/(tokens^beta";
  ExpectRefused(parse_error, "expr: position 36: expected ')'");
}

TEST(ExprFamilyTest, RefusesMoreThanSixteenParameters) {
  ExprSpec spec;
  for (int i = 0; i < 17; ++i) {
    std::string name = "p";
    name.append(std::to_string(i));
    spec.expression.append(i ? " + " : "").append(name);
    spec.params.push_back({name, 0, 1, {0.5}});
  }
  ExpectRefused(spec, "at most 16 parameters, got 17");
  spec.params.pop_back();
  spec.expression.resize(spec.expression.rfind(" + "));
  EXPECT_OK(SpecError(spec));
}

TEST(ExprFamilyTest, DeclaresParamsGridAndFeatures) {
  StatusOr<std::unique_ptr<const Family>> family =
      NewExprFamily(ChinchillaSpec());
  ASSERT_OK(family);
  const Family& f = **family;
  EXPECT_EQ(f.name(), "expr");
  ASSERT_EQ(f.params().size(), 5u);
  EXPECT_EQ(f.params()[1].name, "A");
  EXPECT_EQ(f.params()[1].natural_name, "A");
  EXPECT_FALSE(f.params()[1].log_scale);
  EXPECT_EQ(f.params()[1].lower, 1e-2);
  EXPECT_EQ(f.params()[1].upper, 1e7);
  EXPECT_EQ(f.features().size(), 2u);
  EXPECT_EQ(f.features()[0], Feature::kParams);
  EXPECT_EQ(f.features()[1], Feature::kTokens);
  const auto grid = f.StartGrid();
  ASSERT_EQ(grid.size(), 2u * 3 * 3 * 3 * 3);
  EXPECT_EQ(grid.front(), (std::vector<double>{1, 1e2, 1e2, 0.2, 0.2}));
  EXPECT_EQ(grid[1], (std::vector<double>{1, 1e2, 1e2, 0.2, 0.4}));
  EXPECT_EQ(grid.back(), (std::vector<double>{2, 1e4, 1e4, 0.6, 0.6}));
}

std::vector<Observation> TwoRuns() {
  return {{.params = 2e8, .tokens = 4e9, .loss = 3.1, .weight = 1},
          {.params = 7e8, .tokens = 1.4e10, .loss = 2.6, .weight = 2}};
}

// The residual objective's Jacobian (Ceres autodiff through the expression)
// against central differences of its own values.
TEST(ExprFamilyTest, ResidualJacobianMatchesFiniteDifferences) {
  StatusOr<std::unique_ptr<const Family>> family = NewExprFamily(
      {.expression = "E + A/params^alpha * exp(-g * log(tokens)) + "
                     "max(B/tokens^beta, 1e-3)",
       .params = {{"E", 0, 10, {1}},
                  {"A", 0, 1e4, {1e2}},
                  {"B", 0, 1e4, {1e2}},
                  {"alpha", 0, 2, {0.3}},
                  {"beta", 0, 2, {0.3}},
                  {"g", -1, 1, {0}}}});
  ASSERT_OK(family);
  const std::vector<Observation> runs = TwoRuns();
  std::unique_ptr<ceres::CostFunction> cost(
      (*family)->NewSqrtHuberResiduals(runs, 1e-3));
  ASSERT_EQ(cost->num_residuals(), 2);
  const double theta[6] = {1.7, 450, 2000, 0.34, 0.36, 0.01};
  const double* blocks[] = {theta};
  double residuals[2], jacobian[12];
  double* jacobians[] = {jacobian};
  ASSERT_TRUE(cost->Evaluate(blocks, residuals, jacobians));
  for (int j = 0; j < 6; ++j) {
    const double h = 1e-6 * std::max(1.0, std::abs(theta[j]));
    double up[6], down[6];
    std::copy(theta, theta + 6, up);
    std::copy(theta, theta + 6, down);
    up[j] += h;
    down[j] -= h;
    double r_up[2], r_down[2];
    const double* up_blocks[] = {up};
    const double* down_blocks[] = {down};
    ASSERT_TRUE(cost->Evaluate(up_blocks, r_up, nullptr));
    ASSERT_TRUE(cost->Evaluate(down_blocks, r_down, nullptr));
    for (int i = 0; i < 2; ++i) {
      const double numeric = (r_up[i] - r_down[i]) / (2 * h);
      EXPECT_NEAR(jacobian[i * 6 + j], numeric, 1e-6 * (1 + std::abs(numeric)))
          << "run " << i << " param " << j;
    }
  }
}

// A law's value, objective and natural parameters through the public API.
TEST(ExprFamilyTest, ExprLawMatchesChinchillaLawAtTheSameParameters) {
  StatusOr<Law> chinchilla = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(chinchilla);
  StatusOr<std::vector<NamedValue>> natural = NaturalParams(*chinchilla);
  ASSERT_OK(natural);
  const Law expr = {
      .family = "expr",
      .theta = {(*natural)[2].value, (*natural)[0].value, (*natural)[1].value,
                (*natural)[3].value, (*natural)[4].value},
      .expr = ChinchillaSpec()};
  const Observation at = {.params = 1e9, .tokens = 2e10, .loss = 2.6};
  StatusOr<double> want = PredictLoss(*chinchilla, at);
  StatusOr<double> got = PredictLoss(expr, at);
  ASSERT_OK(want);
  ASSERT_OK(got);
  EXPECT_NEAR(*got, *want, 1e-12 * *want);
  const Observation runs[] = {at};
  StatusOr<double> want_objective = Objective(*chinchilla, runs, 1e-3);
  StatusOr<double> got_objective = Objective(expr, runs, 1e-3);
  ASSERT_OK(want_objective);
  ASSERT_OK(got_objective);
  EXPECT_NEAR(*got_objective, *want_objective, 1e-12);
  StatusOr<std::vector<NamedValue>> back = NaturalParams(expr);
  ASSERT_OK(back);
  ASSERT_EQ(back->size(), 5u);
  EXPECT_EQ((*back)[0].name, "E");
  EXPECT_EQ((*back)[0].value, expr.theta[0]);
  EXPECT_EQ((*back)[4].name, "beta");
  EXPECT_EQ((*back)[4].value, expr.theta[4]);

  Law broken = expr;
  broken.expr.expression = "E + A/params^alpha + B/tokens^";
  EXPECT_EQ(PredictLoss(broken, at).status().code(),
            StatusCode::kInvalidArgument);
}

// The check: the Chinchilla string fitted as `expr` gives the fit of
// the `chinchilla` family, over several simulated data sets.
TEST(ExprFamilyTest, ChinchillaStringFitsLikeChinchillaFamily) {
  StatusOr<Law> truth = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(truth);
  for (std::uint64_t seed : {1, 2, 3}) {
    SimulationOptions simulation;
    simulation.seed = seed;
    simulation.outlier_fraction = 0.05;
    StatusOr<std::vector<Observation>> runs = SimulateRuns(*truth, simulation);
    ASSERT_OK(runs);
    const FitOptions options;
    StatusOr<FitResult> want = Fit("chinchilla", *runs, options);
    StatusOr<FitResult> got = Fit(ChinchillaSpec(), *runs, options);
    ASSERT_OK(want);
    ASSERT_OK(got);
    EXPECT_EQ(got->law.family, "expr");
    EXPECT_EQ(got->law.expr.expression, ChinchillaSpec().expression);
    EXPECT_EQ(got->starts, 162);
    EXPECT_NEAR(got->objective, want->objective, 1e-6 * want->objective)
        << "seed " << seed;
    std::vector<Observation> at = *runs;
    double max_params = 0, max_tokens = 0;
    for (const Observation& run : *runs) {
      max_params = std::max(max_params, run.params);
      max_tokens = std::max(max_tokens, run.tokens);
    }
    at.push_back({.params = 10 * max_params, .tokens = 10 * max_tokens});
    for (const Observation& x : at) {
      StatusOr<double> a = PredictLoss(want->law, x);
      StatusOr<double> b = PredictLoss(got->law, x);
      ASSERT_OK(a);
      ASSERT_OK(b);
      EXPECT_NEAR(*b, *a, 1e-4 * *a)
          << "seed " << seed << " at N = " << x.params << ", D = " << x.tokens;
    }
  }
}

// θ where L̂ <= 0 is infeasible: the objectives refuse it instead of
// returning NaN.
TEST(ExprFamilyTest, NonPositivePredictionIsInfeasible) {
  StatusOr<std::unique_ptr<const Family>> family = NewExprFamily(
      {.expression = "E - A/params^alpha",
       .params = {
           {"E", -10, 10, {1}}, {"A", 0, 1e4, {1}}, {"alpha", 0, 2, {0.1}}}});
  ASSERT_OK(family);
  const std::vector<Observation> runs = TwoRuns();
  std::unique_ptr<ceres::FirstOrderFunction> sum(
      (*family)->NewHuberSum(runs, 1e-3));
  const double feasible[] = {3, 1, 0.1};
  const double negative[] = {-1, 1, 0.1};
  const double zero[] = {0, 0, 0.1};
  double cost = 0, gradient[3];
  EXPECT_TRUE(sum->Evaluate(feasible, &cost, gradient));
  EXPECT_FALSE(sum->Evaluate(negative, &cost, gradient));
  EXPECT_FALSE(sum->Evaluate(zero, &cost, gradient));
  EXPECT_TRUE(std::isnan((*family)->LogPredict(negative, runs[0])));
  // Through the public API: an error, not a NaN with an OK status.
  Law law;
  law.family = "expr";
  law.expr = {
      .expression = "E - A/params^alpha",
      .params = {
          {"E", -10, 10, {1}}, {"A", 0, 1e4, {1}}, {"alpha", 0, 2, {0.1}}}};
  law.theta = {-1, 1, 0.1};
  StatusOr<double> predicted = PredictLoss(law, runs[0]);
  EXPECT_EQ(predicted.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(predicted.status().message().find("no finite positive loss"),
            std::string_view::npos);
}

// Every parameter count of the compile-time dispatch builds an objective of
// the right size whose value and gradient are the hand-computed ones.
TEST(ExprFamilyTest, EveryParameterCountFromOneToSixteen) {
  const std::vector<Observation> runs = TwoRuns();
  for (int n = 1; n <= 16; ++n) {
    ExprSpec spec;
    std::vector<double> theta;
    for (int i = 0; i < n; ++i) {
      std::string name = "p";
      name.append(std::to_string(i));
      spec.expression.append(i ? " + " : "").append(name);
      spec.params.push_back({name, 0, 10, {1}});
      theta.push_back(3.0 / n);
    }
    StatusOr<std::unique_ptr<const Family>> family = NewExprFamily(spec);
    ASSERT_OK(family);
    std::unique_ptr<ceres::FirstOrderFunction> sum(
        (*family)->NewHuberSum(runs, 1e-3));
    ASSERT_EQ(sum->NumParameters(), n);
    double cost = 0;
    std::vector<double> gradient(n);
    ASSERT_TRUE(sum->Evaluate(theta.data(), &cost, gradient.data()));
    // L̂ = 3 at every run; r_i = log(3 / L_i), both outside δ.
    double hand = 0, slope = 0;
    for (const Observation& run : runs) {
      const double r = std::log(3 / run.loss);
      hand += run.weight * Huber(r, 1e-3);
      slope += run.weight * 1e-3 * (r > 0 ? 1 : -1) / 3;
    }
    EXPECT_NEAR(cost, hand, 1e-15) << n;
    for (int i = 0; i < n; ++i) EXPECT_NEAR(gradient[i], slope, 1e-15) << n;
    std::unique_ptr<ceres::CostFunction> residuals(
        (*family)->NewSqrtHuberResiduals(runs, 1e-3));
    ASSERT_EQ(residuals->parameter_block_sizes().size(), 1u);
    EXPECT_EQ(residuals->parameter_block_sizes()[0], n);
  }
}

// The objectives own the parsed law: they outlive the family that made them.
TEST(ExprFamilyTest, ObjectivesOutliveTheFamily) {
  std::unique_ptr<ceres::FirstOrderFunction> sum;
  {
    StatusOr<std::unique_ptr<const Family>> family =
        NewExprFamily(ChinchillaSpec());
    ASSERT_OK(family);
    sum.reset((*family)->NewHuberSum(TwoRuns(), 1e-3));
  }
  const double theta[] = {1.8, 480, 2000, 0.35, 0.36};
  double cost = -1;
  ASSERT_TRUE(sum->Evaluate(theta, &cost, nullptr));
  EXPECT_GT(cost, 0);
}

}  // namespace
}  // namespace moesweep::fitter
