#include "fitter/expr_parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ceres/jet.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

const std::vector<std::string> kNames = {"a", "b", "c"};

std::string Grouping(std::string_view text) {
  StatusOr<ExprTree> tree = ParseExpr(text, kNames);
  if (!tree.ok()) return tree.status().ToString();
  return ExprToString(*tree, kNames);
}

TEST(ExprParserTest, PrecedenceAndAssociativity) {
  EXPECT_EQ(Grouping("a + b * c"), "(a + (b * c))");
  EXPECT_EQ(Grouping("a * b + c"), "((a * b) + c)");
  EXPECT_EQ(Grouping("a - b - c"), "((a - b) - c)");
  EXPECT_EQ(Grouping("a / b / c"), "((a / b) / c)");
  EXPECT_EQ(Grouping("a / b * c"), "((a / b) * c)");
  EXPECT_EQ(Grouping("a ^ b ^ c"), "(a ^ (b ^ c))");
  EXPECT_EQ(Grouping("-a^2"), "(-(a ^ 2))");
  EXPECT_EQ(Grouping("-a * b"), "((-a) * b)");
  EXPECT_EQ(Grouping("2^-a"), "(2 ^ (-a))");
  EXPECT_EQ(Grouping("a^-b^c"), "(a ^ (-(b ^ c)))");
  EXPECT_EQ(Grouping("--a"), "(-(-a))");
  EXPECT_EQ(Grouping("+a"), "a");
  EXPECT_EQ(Grouping("(a + b) * c"), "((a + b) * c)");
  EXPECT_EQ(Grouping("a*params^b"), "(a * (params ^ b))");
  EXPECT_EQ(Grouping("log(a) + exp(b) * min(a, max(b, c))"),
            "(log(a) + (exp(b) * min(a, max(b, c))))");
  EXPECT_EQ(Grouping("1e-3*tokens + 2.5E+2 + .5"),
            "(((0.001 * tokens) + 250) + 0.5)");
}

TEST(ExprParserTest, RecordsFeaturesAndUsedParams) {
  StatusOr<ExprTree> tree =
      ParseExpr("a / tokens^c + tokens * granularity", kNames);
  ASSERT_OK(tree);
  EXPECT_EQ(tree->features,
            (std::vector<Feature>{Feature::kTokens, Feature::kGranularity}));
  EXPECT_EQ(tree->param_used, (std::vector<bool>{true, false, true}));
}

double Eval(std::string_view text, const Observation& run = {}) {
  StatusOr<ExprTree> tree = ParseExpr(text, kNames);
  EXPECT_OK(tree);
  if (!tree.ok()) return std::nan("");
  const double theta[] = {2, 3, 4};  // a, b, c
  const auto x = FeatureValues(run);
  return EvalExpr(*tree, theta, x.data());
}

TEST(ExprParserTest, EvaluatesHandValues) {
  EXPECT_DOUBLE_EQ(Eval("-a^2"), -4);
  EXPECT_DOUBLE_EQ(Eval("(-a)^3"), -8);
  EXPECT_DOUBLE_EQ(Eval("2^3^2"), 512);
  EXPECT_DOUBLE_EQ(Eval("a - b - c"), -5);
  EXPECT_DOUBLE_EQ(Eval("a / b / c"), 2.0 / 12);
  EXPECT_DOUBLE_EQ(Eval("a^-1"), 0.5);
  EXPECT_DOUBLE_EQ(Eval("a^0.5"), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(Eval("c^b"), 64);
  EXPECT_DOUBLE_EQ(Eval("log(exp(a))"), 2);
  EXPECT_DOUBLE_EQ(Eval("min(a, b) + 10*max(a, b)"), 32);
  EXPECT_DOUBLE_EQ(Eval("1.5e1 - .5"), 14.5);
  EXPECT_DOUBLE_EQ(Eval("a * params + tokens", {.params = 7, .tokens = 5}), 19);
}

// LAWS.md §1d: Epoch's law at N = 1e9, D = 2e10 is 2.5301.
TEST(ExprParserTest, ChinchillaStringGivesThePublishedValue) {
  const std::vector<std::string> names = {"E", "A", "B", "alpha", "beta"};
  StatusOr<ExprTree> tree =
      ParseExpr("E + A/params^alpha + B/tokens^beta", names);
  ASSERT_OK(tree);
  const double theta[] = {1.8172, 482.01, 2085.43, 0.3478, 0.3658};
  const auto x = FeatureValues({.params = 1e9, .tokens = 2e10});
  EXPECT_NEAR(EvalExpr(*tree, theta, x.data()), 2.5301, 5e-5);
}

// Every operation's derivative, by Jets, against central differences.
TEST(ExprParserTest, JetGradientsMatchFiniteDifferences) {
  const char* expressions[] = {
      "a * log(params)^2 / (1 + exp(-b * tokens / 1e10))",
      "max(a, c)^b - min(a * b, c) / params^0.1",
      "2^a + tokens^(-c / 10) + (a - b)^2 + a^-3",
      "-(a / (b + c))^b * exp(c / b)",
  };
  const Observation run = {.params = 3e8, .tokens = 6e9};
  const auto x = FeatureValues(run);
  const double theta[] = {1.3, 0.7, 2.1};
  using Jet = ceres::Jet<double, 3>;
  for (const char* text : expressions) {
    StatusOr<ExprTree> tree = ParseExpr(text, kNames);
    ASSERT_OK(tree);
    Jet jets[3];
    for (int i = 0; i < 3; ++i) jets[i] = Jet(theta[i], i);
    const Jet value = EvalExpr(*tree, jets, x.data());
    EXPECT_DOUBLE_EQ(value.a, EvalExpr(*tree, theta, x.data())) << text;
    for (int i = 0; i < 3; ++i) {
      const double h = 1e-6;
      double up[3] = {theta[0], theta[1], theta[2]};
      double down[3] = {theta[0], theta[1], theta[2]};
      up[i] += h;
      down[i] -= h;
      const double numeric =
          (EvalExpr(*tree, up, x.data()) - EvalExpr(*tree, down, x.data())) /
          (2 * h);
      EXPECT_NEAR(value.v[i], numeric, 1e-6 * (1 + std::abs(numeric)))
          << text << " d/d" << kNames[i];
    }
  }
}

struct BadCase {
  const char* text;
  int position;
  const char* says;  // a substring the message must contain
};

TEST(ExprParserTest, RefusesBadExpressionsNamingPositionAndExpectation) {
  const BadCase cases[] = {
      {"(a + b", 7, "expected ')' after \"(a + b\", got end of expression"},
      {"a +", 4, "expected a number, a name or '(' after \"a +\""},
      {"a * * b", 5, "expected a number, a name or '('"},
      {"", 1, "expected an expression"},
      {"   ", 4, "expected an expression"},
      {"a b", 3, "expected an operator or the end of the expression"},
      {"a)", 2, "expected an operator or the end of the expression"},
      {"a + $", 5, "unexpected character '$'"},
      {"log a", 5, "expected '(' after \"log\""},
      {"min(a)", 6, "expected ','"},
      {"max(a, b, params)", 9, "expected ')'"},
      {"exp(a, b)", 6, "expected ')'"},
      {"foo + a", 1, "unknown name 'foo'"},
      {"a(params)", 1, "'a' is not a function"},
      {"2e + a", 3, "expected digits in the exponent"},
      {"3params", 2, "write products with '*'"},
      {"a + )", 5, "got \")\""},
      {"1e999", 1, "out of range"},
      {"a + .", 6, "expected a digit after '.'"},
      {"a ^", 4, "expected a number, a name or '('"},
  };
  for (const BadCase& c : cases) {
    StatusOr<ExprTree> tree = ParseExpr(c.text, kNames);
    ASSERT_FALSE(tree.ok()) << c.text;
    EXPECT_EQ(tree.status().code(), StatusCode::kInvalidArgument) << c.text;
    const std::string message(tree.status().message());
    EXPECT_NE(
        message.find("expr: position " + std::to_string(c.position) + ": "),
        std::string::npos)
        << c.text << " -> " << message;
    EXPECT_NE(message.find(c.says), std::string::npos)
        << c.text << " -> " << message;
  }
}

TEST(ExprParserTest, UnknownNameListsFeaturesAndParameters) {
  StatusOr<ExprTree> tree = ParseExpr("a + N", kNames);
  ASSERT_FALSE(tree.ok());
  const std::string message(tree.status().message());
  EXPECT_NE(message.find("position 5"), std::string::npos) << message;
  EXPECT_NE(message.find("active_params"), std::string::npos) << message;
  EXPECT_NE(message.find("shared_ratio"), std::string::npos) << message;
  EXPECT_NE(message.find("parameters: a, b, c"), std::string::npos) << message;
}

TEST(ExprParserTest, RefusesNestingDeeperThanTheLimit) {
  const std::string deep = std::string(300, '(') + "a" + std::string(300, ')');
  StatusOr<ExprTree> tree = ParseExpr(deep, kNames);
  ASSERT_FALSE(tree.ok());
  EXPECT_NE(tree.status().message().find("nested"), std::string_view::npos);
  const std::string fine = std::string(50, '(') + "a" + std::string(50, ')');
  EXPECT_OK(ParseExpr(fine, kNames));
}

}  // namespace
}  // namespace moesweep::fitter
