#include "cli/law_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace moesweep::cli {
namespace {

TEST(LawJsonTest, LawFileRoundTripsWithCovariance) {
  LawFile file;
  file.law = *fitter::PublishedLaw("joint", "ludziejewski2025");
  file.huber_delta = 0.01;
  file.objective = 0.5;
  file.runs = 40;
  fitter::LawUncertainty u;
  u.covariance.assign(81, 0.0);
  for (int i = 0; i < 9; ++i) u.covariance[i * 9 + i] = 1e-4 * (i + 1);
  u.residual_sigma = 0.01;
  file.uncertainty = u;
  StatusOr<std::string> text = LawFileJson(file);
  ASSERT_OK(text);
  testing::TempDir dir;
  StatusOr<LawFile> back = ReadLawFile(dir.Write("law.json", *text));
  ASSERT_OK(back);
  EXPECT_EQ(back->law.family, "joint");
  EXPECT_EQ(back->law.theta, file.law.theta);
  EXPECT_EQ(back->huber_delta, 0.01);
  EXPECT_EQ(back->runs, 40);
  ASSERT_TRUE(back->uncertainty.has_value());
  EXPECT_EQ(back->uncertainty->covariance, u.covariance);
  EXPECT_NE(text->find("\"intervals\""), std::string::npos);
}

TEST(LawJsonTest, ExprLawRoundTrips) {
  LawFile file;
  file.law.family = "expr";
  file.law.expr = {
      "E + A / params^alpha",
      {{"E", 0.1, 10, {1}}, {"A", 1, 1e6, {100}}, {"alpha", 0, 2, {0.3}}}};
  file.law.theta = {1.7, 400, 0.3};
  StatusOr<std::string> text = LawFileJson(file);
  ASSERT_OK(text);
  testing::TempDir dir;
  StatusOr<LawFile> back = ReadLawFile(dir.Write("law.json", *text));
  ASSERT_OK(back);
  EXPECT_EQ(back->law.expr.expression, "E + A / params^alpha");
  ASSERT_EQ(back->law.expr.params.size(), 3u);
  EXPECT_EQ(back->law.expr.params[1].upper, 1e6);
  EXPECT_EQ(back->law.theta, file.law.theta);
}

// Coordinates on a bound are listed with their side, in the law file and in
// `fit --json`'s summary; a law inside its box lists none.
TEST(LawJsonTest, LawFileAndFitSummaryShowParametersAtBound) {
  LawFile file;
  file.law = *fitter::PublishedLaw("chinchilla", "epoch");
  StatusOr<std::string> inside = LawFileJson(file);
  ASSERT_OK(inside);
  EXPECT_EQ(nlohmann::json::parse(*inside).at("at_bound"),
            nlohmann::json::object());

  file.law.theta[2] = -3;   // e on its lower bound
  file.law.theta[4] = 2.5;  // beta on its upper bound
  StatusOr<std::string> text = LawFileJson(file);
  ASSERT_OK(text);
  const nlohmann::json expected = {{"e", "lower"}, {"beta", "upper"}};
  EXPECT_EQ(nlohmann::json::parse(*text).at("at_bound"), expected);
  testing::TempDir dir;
  StatusOr<LawFile> back = ReadLawFile(dir.Write("law.json", *text));
  ASSERT_OK(back);
  EXPECT_EQ(back->law.theta, file.law.theta);

  fitter::FitResult fit;
  fit.law = file.law;
  StatusOr<std::vector<fitter::NamedValue>> params =
      fitter::NaturalParams(fit.law);
  ASSERT_OK(params);
  EXPECT_EQ(nlohmann::json::parse(FitSummaryJson(fit, *params)).at("at_bound"),
            expected);
}

// A bad law file is refused with the file and the key named.
TEST(LawJsonTest, BadLawFilesAreRefusedNamingTheKey) {
  testing::TempDir dir;
  const std::string good_theta =
      R"("theta": {"a": 6, "b": 7, "e": 0.5, "alpha": 0.3, "beta": 0.3})";
  struct Case {
    std::string text;
    std::string expected;
  } cases[] = {
      {"not json", "law.json: not a law file (not JSON"},
      {"[1, 2]", "law.json: not a law file (not an object)"},
      // Found by fuzz/law_json_fuzzer.cc: an uncaught exception and an
      // unchecked cast.
      {R"({"format_version": 1e999})", "law.json: not a law file (not JSON"},
      {R"({"format_version": 1e300})",
       "law.json: key 'format_version' must be an integer in range"},
      {R"({"format_version": 4294967297})",
       "law.json: key 'format_version' must be an integer in range"},
      {R"({"law": "chinchilla"})", "law.json: missing key 'format_version'"},
      {R"({"format_version": 2, "law": "chinchilla"})",
       "format_version 2 is not supported"},
      {R"({"format_version": 1, "law": "kaplan", "huber_delta": 0.001, )" +
           good_theta + "}",
       "unknown law family 'kaplan'"},
      {R"({"format_version": 1, "law": "chinchilla", "huber_delta": 0.001})",
       "law.json: missing key 'theta'"},
      {R"({"format_version": 1, "law": "chinchilla", "huber_delta": 0.001,
           "theta": {"a": 6, "b": 7, "e": 0.5, "alpha": 0.3}})",
       "law.json: theta: missing key 'beta'"},
      {R"({"format_version": 1, "law": "chinchilla", "huber_delta": 0.001,
           "theta": {"a": "six", "b": 7, "e": 0.5, "alpha": 0.3, "beta": 0.3}})",
       "law.json: theta: key 'a' has the wrong type"},
      {R"({"format_version": 1, "law": "chinchilla", "huber_delta": 0.001, )" +
           good_theta +
           R"(, "covariance": [[1, 0], [0, 1]], "residual_sigma": 0.01})",
       "law.json: covariance must be 5x5"},
  };
  for (const Case& c : cases) {
    StatusOr<LawFile> file = ReadLawFile(dir.Write("law.json", c.text));
    EXPECT_EQ(file.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(file.status().message().find(c.expected), std::string_view::npos)
        << file.status().message();
  }
  EXPECT_EQ(ReadLawFile(dir.File("absent.json")).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace moesweep::cli
