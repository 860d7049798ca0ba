// The question's value and its interval's scale (fitter/question.cc).

#include <gtest/gtest.h>

#include <cmath>

#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

// Losses and sizes get log-scale intervals, so they stay positive; a scale
// constant's is exp(θ ± z·se) exactly; an exponent, which may have either
// sign, keeps the symmetric one.
TEST(QuestionIntervalTest, PositiveQuestionsGetLogScaleIntervals) {
  StatusOr<Law> law = PublishedLaw("chinchilla", "epoch");
  ASSERT_OK(law);
  LawUncertainty u;
  u.covariance.assign(25, 0.0);
  for (int i = 0; i < 5; ++i) u.covariance[i * 5 + i] = 1;
  u.residual_sigma = 0.1;

  Question loss;
  loss.optimal.flops = 1e21;
  loss.optimal.profile_points = 25;
  EXPECT_EQ(*QuestionScale(*law, loss), IntervalScale::kLog);
  StatusOr<Interval> l = QuestionInterval(*law, u, loss, 0.95);
  ASSERT_OK(l);
  EXPECT_GT(l->lower, 0);
  EXPECT_NEAR(l->value * l->value, l->lower * l->upper,
              1e-9 * l->value * l->value);

  Question size = loss;
  size.kind = QuestionKind::kOptimalSize;
  EXPECT_EQ(*QuestionScale(*law, size), IntervalScale::kLog);
  Question prediction;
  prediction.kind = QuestionKind::kPrediction;
  prediction.at = {.params = 1e9, .tokens = 2e10};
  EXPECT_EQ(*QuestionScale(*law, prediction), IntervalScale::kLog);

  Question e;  // chinchilla θ_2 = ln E
  e.kind = QuestionKind::kLawParameter;
  e.param_index = 2;
  StatusOr<Interval> ei = QuestionInterval(*law, u, e, 0.95);
  ASSERT_OK(ei);
  const double z = TwoSidedZ(0.95);
  EXPECT_NEAR(ei->lower, std::exp(law->theta[2] - z), 1e-6 * ei->lower);
  EXPECT_NEAR(ei->upper, std::exp(law->theta[2] + z), 1e-6 * ei->upper);

  Question alpha = e;
  alpha.param_index = 3;
  EXPECT_EQ(*QuestionScale(*law, alpha), IntervalScale::kLinear);
  StatusOr<Interval> ai = QuestionInterval(*law, u, alpha, 0.95);
  ASSERT_OK(ai);
  EXPECT_NEAR(ai->lower, law->theta[3] - z, 1e-6);  // crosses 0: linear
  alpha.param_index = 7;
  EXPECT_EQ(QuestionScale(*law, alpha).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::fitter
