#include <gtest/gtest.h>

#include <cmath>

#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

TEST(HuberTest, QuadraticInsideLinearOutside) {
  EXPECT_DOUBLE_EQ(Huber(5e-4, 1e-3), 1.25e-7);
  EXPECT_DOUBLE_EQ(Huber(-1e-3, 1e-3), 5e-7);  // the seam: both forms agree
  EXPECT_DOUBLE_EQ(Huber(-2e-3, 1e-3), 1e-3 * (2e-3 - 5e-4));  // δ(|r| − δ/2)
  EXPECT_DOUBLE_EQ(Huber(0.1, 1e-3), 1e-3 * (0.1 - 5e-4));
}

// LAWS.md §1d point values.
TEST(ChinchillaLawTest, PublishedCheckValues) {
  struct Case {
    const char* preset;
    double at_70b;
    double at_1b;
  } cases[] = {{"hoffmann_rounded", 1.9366, 2.5800},
               {"hoffmann_tex", 1.9208, 2.5307},
               {"epoch", 1.9739, 2.5301}};
  for (const Case& c : cases) {
    StatusOr<Law> law = PublishedLaw("chinchilla", c.preset);
    ASSERT_OK(law);
    StatusOr<double> big =
        PredictLoss(*law, {.params = 70e9, .tokens = 1.4e12});
    StatusOr<double> small = PredictLoss(*law, {.params = 1e9, .tokens = 2e10});
    ASSERT_OK(big);
    ASSERT_OK(small);
    EXPECT_NEAR(*big, c.at_70b, 5e-5) << c.preset;
    EXPECT_NEAR(*small, c.at_1b, 5e-5) << c.preset;
  }
}

TEST(ChinchillaLawTest, ObjectiveMatchesHandComputedSum) {
  StatusOr<Law> law = PublishedLaw("chinchilla", "hoffmann_rounded");
  ASSERT_OK(law);
  // Runs whose log residuals are exactly r: one inside δ, two outside, one
  // weighted.
  const double residuals[] = {5e-4, -2e-3, 0.1, 3e-4};
  const double weights[] = {1, 1, 1, 2};
  const Observation at[] = {{.params = 1e8, .tokens = 2e9},
                            {.params = 4e8, .tokens = 8e9},
                            {.params = 1e9, .tokens = 2e10},
                            {.params = 3e9, .tokens = 6e10}};
  std::vector<Observation> runs;
  for (int i = 0; i < 4; ++i) {
    StatusOr<double> predicted = PredictLoss(*law, at[i]);
    ASSERT_OK(predicted);
    runs.push_back({.params = at[i].params,
                    .tokens = at[i].tokens,
                    .loss = *predicted * std::exp(-residuals[i]),
                    .weight = weights[i]});
  }
  // 1.25e-7 + 1.5e-6 + 9.95e-5 + 2 * 4.5e-8
  const double hand = 1.25e-7 + 1.5e-6 + 9.95e-5 + 9e-8;
  StatusOr<double> objective = Objective(*law, runs, 1e-3);
  ASSERT_OK(objective);
  EXPECT_NEAR(*objective, hand, 1e-15);
}

TEST(ChinchillaLawTest, NaturalParamsRoundTrip) {
  const NamedValue given[] = {
      {"alpha", 0.3}, {"A", 400}, {"B", 1000}, {"E", 1.8}, {"beta", 0.25}};
  StatusOr<Law> law = LawFromNatural("chinchilla", given);
  ASSERT_OK(law);
  EXPECT_NEAR(law->theta[0], std::log(400),
              1e-12);  // θ order: a, b, e, alpha, beta
  EXPECT_NEAR(law->theta[3], 0.3, 1e-15);
  StatusOr<std::vector<NamedValue>> back = NaturalParams(*law);
  ASSERT_OK(back);
  ASSERT_EQ(back->size(), 5u);
  EXPECT_EQ((*back)[0].name, "A");
  EXPECT_NEAR((*back)[0].value, 400, 1e-9);
  EXPECT_EQ((*back)[4].name, "beta");
}

TEST(ChinchillaLawTest, RefusesBadNaturalParams) {
  const NamedValue missing[] = {
      {"A", 400}, {"B", 1000}, {"E", 1.8}, {"alpha", 0.3}};
  EXPECT_EQ(LawFromNatural("chinchilla", missing).status().code(),
            StatusCode::kInvalidArgument);
  const NamedValue negative[] = {
      {"A", -4}, {"B", 1000}, {"E", 1.8}, {"alpha", 0.3}, {"beta", 0.2}};
  StatusOr<Law> bad = LawFromNatural("chinchilla", negative);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("A"), std::string_view::npos);
  const NamedValue extra[] = {{"A", 4},       {"B", 1000},   {"E", 1.8},
                              {"alpha", 0.3}, {"beta", 0.2}, {"gamma", 1}};
  EXPECT_EQ(LawFromNatural("chinchilla", extra).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(LawFromNatural("nope", extra).status().code(),
            StatusCode::kNotFound);
}

TEST(ChinchillaLawTest, UnknownPresetNamesTheKnownOnes) {
  StatusOr<Law> law = PublishedLaw("chinchilla", "kaplan");
  EXPECT_EQ(law.status().code(), StatusCode::kNotFound);
  EXPECT_NE(law.status().message().find("epoch"), std::string_view::npos);
}

TEST(ChinchillaLawTest, PredictRefusesNonPositiveFeatures) {
  StatusOr<Law> law = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(law);
  EXPECT_EQ(PredictLoss(*law, {.params = 0, .tokens = 1e9}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(PredictLoss(*law, {.params = 1e9, .tokens = -1}).status().code(),
            StatusCode::kInvalidArgument);
}

Law Chinchilla(double e, double alpha) {
  StatusOr<Law> law = PublishedLaw("chinchilla", "epoch");
  EXPECT_OK(law);
  law->theta[2] = e;
  law->theta[3] = alpha;
  return *law;
}

// chinchilla's bounds: e in [-3, 3], alpha in [0, 2.5] (LAWS.md §9).
TEST(ParametersAtBoundTest, FlagsCoordinatesOnTheirBoundsAndNoOthers) {
  StatusOr<std::vector<ParameterAtBound>> inside =
      ParametersAtBound(Chinchilla(0.5, 0.35));
  ASSERT_OK(inside);
  EXPECT_TRUE(inside->empty());

  StatusOr<std::vector<ParameterAtBound>> both =
      ParametersAtBound(Chinchilla(-3, 2.5 - 1e-7));
  ASSERT_OK(both);
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[0].index, 2);
  EXPECT_EQ((*both)[0].name, "e");
  EXPECT_EQ((*both)[0].side, BoundSide::kLower);
  EXPECT_EQ((*both)[0].bound, -3);
  EXPECT_EQ((*both)[1].name, "alpha");
  EXPECT_EQ((*both)[1].side, BoundSide::kUpper);
  EXPECT_EQ(AtBoundWarning((*both)[0]),
            "e sits on its lower bound (-3): its interval is not trustworthy, "
            "and a campaign does not stop on this law");

  // A thousandth inside is a fitted value, not a bound.
  StatusOr<std::vector<ParameterAtBound>> near =
      ParametersAtBound(Chinchilla(-3 + 1e-3, 0.35));
  ASSERT_OK(near);
  EXPECT_TRUE(near->empty());
}

// The tolerance scales with the bound, not with a box that is open on one
// side: E = 0.05 in [0, 1e300] is a value, E = 0 is on the bound.
TEST(ParametersAtBoundTest, OneSidedBoxesUseTheBoundsOwnScale) {
  Law law;
  law.family = "expr";
  law.expr = {.expression = "E + A/params^alpha",
              .params = {{"E", 0, 1e300, {1}},
                         {"A", 1e-2, 1e7, {1e2}},
                         {"alpha", 0, 2.5, {0.3}}}};
  law.theta = {0.05, 100, 0.3};
  StatusOr<std::vector<ParameterAtBound>> value = ParametersAtBound(law);
  ASSERT_OK(value);
  EXPECT_TRUE(value->empty());
  law.theta[0] = 0;
  StatusOr<std::vector<ParameterAtBound>> bound = ParametersAtBound(law);
  ASSERT_OK(bound);
  ASSERT_EQ(bound->size(), 1u);
  EXPECT_EQ((*bound)[0].name, "E");
}

// Runs from a law whose E (0.01) lies below the family's box (e >= -3, E >=
// 0.0498): the fit ends on the bound, says so, and is flagged.
TEST(ParametersAtBoundTest, AFitPressedAgainstItsBoundIsFlagged) {
  const std::vector<NamedValue> natural = {{"A", 482.01},
                                           {"B", 2085.43},
                                           {"E", 0.01},
                                           {"alpha", 0.3478},
                                           {"beta", 0.3658}};
  StatusOr<Law> truth = LawFromNatural("chinchilla", natural);
  ASSERT_OK(truth);
  SimulationOptions design;
  design.noise_sigma = 0.002;
  StatusOr<std::vector<Observation>> runs = SimulateRuns(*truth, design);
  ASSERT_OK(runs);
  StatusOr<FitResult> fit = Fit("chinchilla", *runs, FitOptions{});
  ASSERT_OK(fit);
  StatusOr<std::vector<ParameterAtBound>> at_bound =
      ParametersAtBound(fit->law);
  ASSERT_OK(at_bound);
  ASSERT_EQ(at_bound->size(), 1u);
  EXPECT_EQ((*at_bound)[0].name, "e");
  EXPECT_EQ((*at_bound)[0].side, BoundSide::kLower);
  ASSERT_FALSE(fit->warnings.empty());
  EXPECT_EQ(fit->warnings[0], AtBoundWarning((*at_bound)[0]));
}

TEST(ParametersAtBoundTest, RefusesABadTheta) {
  Law law = Chinchilla(0, 0.3);
  law.theta.pop_back();
  EXPECT_EQ(ParametersAtBound(law).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::fitter
