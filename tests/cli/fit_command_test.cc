#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "fitter/fitter.h"
#include "tests/testing/temp_dir.h"

namespace moesweep::cli {
namespace {

// A table drawn from Epoch's law with `moesweep synth`, as the demo does.
std::string WriteExampleRuns(const testing::TempDir& dir) {
  SynthCommandOptions synth;
  synth.out = dir.File("runs.csv");
  synth.noise = 0.005;
  std::ostringstream out, err;
  EXPECT_EQ(RunSynthCommand(synth, out, err), 0) << err.str();
  return synth.out;
}

TEST(FitCommandTest, JsonOutputHasTheDocumentedShapeAndWritesTheLawFile) {
  testing::TempDir dir;
  FitCommandOptions options;
  options.data = WriteExampleRuns(dir);
  options.json = true;
  options.out = dir.File("law.json");
  std::ostringstream out, err;
  ASSERT_EQ(RunFitCommand(options, out, err), 0) << err.str();
  const nlohmann::json j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j.at("law"), "chinchilla");
  EXPECT_EQ(j.at("runs"), 48);
  EXPECT_GT(j.at("seconds").get<double>(), 0);
  EXPECT_LT(j.at("objective").get<double>(), 48 * 1e-3 * 0.01);
  // Epoch's law: E = 1.8172, alpha = 0.3478.
  EXPECT_NEAR(j.at("params").at("E").get<double>(), 1.8172, 0.05);
  EXPECT_NEAR(j.at("params").at("alpha").get<double>(), 0.3478, 0.02);
  for (const char* name : {"A", "B", "E", "alpha", "beta"})
    EXPECT_TRUE(j.at("params").contains(name));

  const nlohmann::json law =
      nlohmann::json::parse(testing::ReadFile(options.out));
  EXPECT_EQ(law.at("format_version"), 1);
  EXPECT_EQ(law.at("law"), "chinchilla");
  EXPECT_EQ(law.at("theta").size(), 5u);
  EXPECT_DOUBLE_EQ(law.at("params").at("E").get<double>(),
                   j.at("params").at("E").get<double>());
}

TEST(FitCommandTest, TextOutputNamesEveryParameter) {
  testing::TempDir dir;
  FitCommandOptions options;
  options.data = WriteExampleRuns(dir);
  std::ostringstream out, err;
  ASSERT_EQ(RunFitCommand(options, out, err), 0) << err.str();
  for (const char* word : {"runs       48", "starts     4500", "objective",
                           "seconds", "alpha", "beta"}) {
    EXPECT_NE(out.str().find(word), std::string::npos) << word << " in\n"
                                                       << out.str();
  }
}

// Bad input: exit 2, a message naming the file (and line and column where there
// is one), and an existing --out file left as it was.
TEST(FitCommandTest, BadInputFailsCleanlyAndLeavesTheOutputUntouched) {
  testing::TempDir dir;
  const std::string law = dir.Write("law.json", "previous law\n");
  struct Case {
    std::string csv;
    std::vector<std::string> columns;
    std::string expected;
  } cases[] = {
      {"", {}, "absent.csv: cannot open file"},
      {"N,D,loss\n1e8,2e9,3\n1e8,x,3\n",
       {},
       "bad.csv:3: column 'D': not a finite number: 'x'"},
      {"size,D,loss\n1e8,2e9,3\n", {}, "bad.csv:1: missing column 'N'"},
      {"size,D,loss\n1e8,2e9,3\n",
       {"N=Size"},
       "bad.csv:1: missing column 'Size'"},
      {"N,D,loss\n1e8,2e9,3\n2e8,2e9,3\n", {}, "only 2 runs"},
      {"N,D,loss\n1e8,2e9,0\n", {}, "bad.csv:2: column 'loss': must be > 0"},
  };
  for (const Case& c : cases) {
    FitCommandOptions options;
    options.data =
        c.csv.empty() ? dir.File("absent.csv") : dir.Write("bad.csv", c.csv);
    options.columns = c.columns;
    options.out = law;
    std::ostringstream out, err;
    EXPECT_EQ(RunFitCommand(options, out, err), 2) << c.expected;
    EXPECT_NE(err.str().find(c.expected), std::string::npos) << err.str();
    EXPECT_EQ(testing::ReadFile(law), "previous law\n");
  }
}

// Every family reads its own features from named columns; `expr` reads its law
// from YAML and fits the same law as `chinchilla` when written as Chinchilla.
TEST(FitCommandTest, FitsMoEFamiliesAndUserLawsFromCsv) {
  testing::TempDir dir;
  std::string csv = "n_total_ne,tokens,granularity,loss\n";
  const fitter::Law truth =
      *fitter::PublishedLaw("finegrained", "krajewski2024");
  for (double n : {1e8, 3e8, 1e9, 3e9})
    for (double d : {1e10, 3e10, 1e11})
      for (double g : {1, 4, 16}) {
        const fitter::Observation at{
            .tokens = d, .n_total_ne = n, .granularity = g};
        csv += std::to_string(n) + "," + std::to_string(d) + "," +
               std::to_string(g) + "," +
               std::to_string(*fitter::PredictLoss(truth, at)) + "\n";
      }
  FitCommandOptions options;
  options.law = "finegrained";
  options.data = dir.Write("moe.csv", csv);
  options.json = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunFitCommand(options, out, err), 0) << err.str();
  const nlohmann::json j = nlohmann::json::parse(out.str());
  EXPECT_NEAR(j.at("params").at("gamma").get<double>(), 0.58, 0.01);
  EXPECT_NEAR(j.at("params").at("c").get<double>(), 0.47, 0.01);

  FitCommandOptions expr;
  expr.law = "expr";
  expr.expr_file =
      std::string(MOESWEEP_SOURCE_DIR) + "/examples/expr_chinchilla.yaml";
  expr.data = WriteExampleRuns(dir);
  expr.json = true;
  FitCommandOptions chinchilla;
  chinchilla.data = expr.data;
  chinchilla.json = true;
  std::ostringstream expr_out, chinchilla_out;
  ASSERT_EQ(RunFitCommand(expr, expr_out, err), 0) << err.str();
  ASSERT_EQ(RunFitCommand(chinchilla, chinchilla_out, err), 0) << err.str();
  const nlohmann::json a = nlohmann::json::parse(expr_out.str());
  const nlohmann::json b = nlohmann::json::parse(chinchilla_out.str());
  for (const char* name : {"A", "B", "E", "alpha", "beta"}) {
    const double x = a.at("params").at(name), y = b.at("params").at(name);
    EXPECT_NEAR(x, y, 1e-4 * std::abs(y)) << name;
  }
  EXPECT_NEAR(a.at("objective").get<double>(), b.at("objective").get<double>(),
              1e-9);
}

TEST(FitCommandTest, ExprNeedsItsYamlAndRefusesBadOnes) {
  testing::TempDir dir;
  FitCommandOptions options;
  options.law = "expr";
  options.data = WriteExampleRuns(dir);
  std::ostringstream out, err;
  EXPECT_EQ(RunFitCommand(options, out, err), 2);
  EXPECT_NE(err.str().find("--law expr needs --expr FILE"), std::string::npos)
      << err.str();
  const std::pair<std::string, std::string> cases[] = {
      {"params: {}\n", "expression: required"},
      {"expression: \"E + A/params^alpha\"\n", "params: required"},
      {"expression: \"E\"\nparams:\n  E: {lower: 0, upper: x, starts: [1]}\n",
       "params.E.upper: expected a number, got 'x'"},
      {"expression: \"E\"\nparams:\n  E: {lower: 0, upper: 2, starts: []}\n",
       "params.E.starts: required"},
      {"expression: \"E +\"\nparams:\n  E: {lower: 0, upper: 2, starts: [1]}\n",
       "position"},
  };
  for (const auto& [yaml, expected] : cases) {
    options.expr_file = dir.Write("law.yaml", yaml);
    std::ostringstream err_case;
    EXPECT_EQ(RunFitCommand(options, out, err_case), 2) << yaml;
    EXPECT_NE(err_case.str().find(expected), std::string::npos)
        << err_case.str();
  }
}

TEST(FitCommandTest, UnknownLawIsRefused) {
  testing::TempDir dir;
  FitCommandOptions options;
  options.data = WriteExampleRuns(dir);
  options.law = "kaplan";
  std::ostringstream out, err;
  EXPECT_EQ(RunFitCommand(options, out, err), 2);
  EXPECT_NE(err.str().find("unknown law family 'kaplan'"), std::string::npos)
      << err.str();
}

}  // namespace
}  // namespace moesweep::cli
