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

}  // namespace
}  // namespace moesweep::fitter
