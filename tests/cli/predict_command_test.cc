#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/law_json.h"
#include "tests/testing/temp_dir.h"

namespace moesweep::cli {
namespace {

// Fits the demo table and writes law.json, as a user would.
std::string FitExampleLaw(const testing::TempDir& dir) {
  SynthCommandOptions synth;
  synth.out = dir.File("runs.csv");
  std::ostringstream out, err;
  EXPECT_EQ(RunSynthCommand(synth, out, err), 0) << err.str();
  FitCommandOptions fit;
  fit.data = synth.out;
  fit.out = dir.File("law.json");
  EXPECT_EQ(RunFitCommand(fit, out, err), 0) << err.str();
  return fit.out;
}

TEST(PredictCommandTest, PredictsWithIntervalsThatHoldTheTruth) {
  testing::TempDir dir;
  PredictCommandOptions options;
  options.law_file = FitExampleLaw(dir);
  options.at = {"N=1e10", "D=2e11"};
  options.json = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunPredictCommand(options, out, err), 0) << err.str();
  const nlohmann::json j = nlohmann::json::parse(out.str());
  // Epoch's law at (1e10, 2e11), the law the example runs were drawn from.
  const double truth = 1.8172 + 482.01 / std::pow(1e10, 0.3478) +
                       2085.43 / std::pow(2e11, 0.3658);
  const auto interval = j.at("interval").get<std::vector<double>>();
  EXPECT_LT(interval[0], truth);
  EXPECT_GT(interval[1], truth);
  EXPECT_LT(interval[0], j.at("loss").get<double>());
  const auto run = j.at("run_interval").get<std::vector<double>>();
  EXPECT_LT(run[0], interval[0]);  // a new run adds its noise
}

TEST(PredictCommandTest, RefusesMissingAndUnknownFeatures) {
  testing::TempDir dir;
  PredictCommandOptions options;
  options.law_file = FitExampleLaw(dir);
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"N=1e10"}, "--at lacks tokens"},
      {{"N=1e10", "D=x"}, "--at D: not a number: 'x'"},
      {{"N=1e10", "depth=3"}, "unknown feature 'depth'"},
      {{"N1e10"}, "--at expects feature=value"},
      {{"N=0", "D=1e9"}, "params must be a finite number > 0"},
  };
  for (const auto& [at, expected] : cases) {
    options.at = at;
    std::ostringstream out, err;
    EXPECT_EQ(RunPredictCommand(options, out, err), 2);
    EXPECT_NE(err.str().find(expected), std::string::npos) << err.str();
  }
}

TEST(OptimalCommandTest, FindsTheComputeOptimalModelWithAnInterval) {
  testing::TempDir dir;
  OptimalCommandOptions options;
  options.law_file = FitExampleLaw(dir);
  options.flops = 1e21;
  options.json = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunOptimalCommand(options, out, err), 0) << err.str();
  const nlohmann::json j = nlohmann::json::parse(out.str());
  const auto interval = j.at("loss_interval").get<std::vector<double>>();
  // Epoch's compute-optimal loss at 1e21 is 2.3055 (LAWS.md §1d).
  EXPECT_LT(interval[0], 2.3055);
  EXPECT_GT(interval[1], 2.3055);
  const double params = j.at("best").at("params").get<double>();
  const double tokens = j.at("best").at("tokens").get<double>();
  EXPECT_NEAR(6 * params * tokens, 1e21, 1e15);
  EXPECT_GE(j.at("isoflop").size(), 20u);

  options.max_total_params = 1e9;
  std::ostringstream capped;
  ASSERT_EQ(RunOptimalCommand(options, capped, err), 0) << err.str();
  EXPECT_LE(
      nlohmann::json::parse(capped.str()).at("best").at("params").get<double>(),
      1e9);
}

TEST(OptimalCommandTest, BandListsTheSizesWithinItAsJsonAndATable) {
  testing::TempDir dir;
  OptimalCommandOptions options;
  options.law_file = FitExampleLaw(dir);
  options.flops = 1e21;
  options.band = 0.001;
  options.json = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunOptimalCommand(options, out, err), 0) << err.str();
  const nlohmann::json j = nlohmann::json::parse(out.str());
  ASSERT_EQ(j.at("band").size(), 1u);
  const nlohmann::json& band = j.at("band")[0];
  const double best = j.at("best").at("loss").get<double>();
  for (const char* edge : {"smallest", "largest"}) {
    EXPECT_NEAR(band.at(edge).at("loss").get<double>(), 1.001 * best,
                1e-9 * best)
        << edge;
  }
  const double lo = band.at("smallest").at("params").get<double>(),
               hi = band.at("largest").at("params").get<double>(),
               n = j.at("best").at("params").get<double>();
  EXPECT_LT(lo, n);
  EXPECT_GT(hi, n);
  options.json = false;
  std::ostringstream table;
  ASSERT_EQ(RunOptimalCommand(options, table, err), 0) << err.str();
  EXPECT_NE(table.str().find("within 0.1% of the optimum's loss:"),
            std::string::npos)
      << table.str();
  EXPECT_NE(table.str().find("\ndense   "), std::string::npos) << table.str();
  options.band = 2;
  std::ostringstream bad;
  EXPECT_EQ(RunOptimalCommand(options, bad, err), 2);
  EXPECT_NE(err.str().find("band must be in [0, 1]"), std::string::npos)
      << err.str();
}

// A law file from a handful of runs: e on its lower bound and a covariance so
// large that a linear interval would reach below zero. Both commands keep
// their loss intervals positive and warn about the bound.
std::string WideLawAtBound(const testing::TempDir& dir) {
  LawFile file;
  file.law = *fitter::PublishedLaw("chinchilla", "epoch");
  file.law.theta[2] = -3;
  fitter::LawUncertainty u;
  u.covariance.assign(25, 0.0);
  for (int i = 0; i < 5; ++i) u.covariance[i * 5 + i] = 4;
  u.residual_sigma = 0.5;
  file.uncertainty = u;
  StatusOr<std::string> text = LawFileJson(file);
  EXPECT_TRUE(text.ok());
  return dir.Write("wide.json", text.ok() ? *text : "");
}

TEST(PredictCommandTest, WideLawKeepsPositiveIntervalsAndWarnsAtBound) {
  testing::TempDir dir;
  PredictCommandOptions options;
  options.law_file = WideLawAtBound(dir);
  options.at = {"N=1e8", "D=2e9"};
  options.json = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunPredictCommand(options, out, err), 0) << err.str();
  const nlohmann::json j = nlohmann::json::parse(out.str());
  for (const char* key : {"interval", "run_interval"}) {
    const auto interval = j.at(key).get<std::vector<double>>();
    EXPECT_GT(interval[0], 0) << key;
    EXPECT_LT(interval[0], j.at("loss").get<double>()) << key;
    EXPECT_GT(interval[1], j.at("loss").get<double>()) << key;
  }
  EXPECT_NE(err.str().find("moesweep predict: warning: e sits on its lower "
                           "bound"),
            std::string::npos)
      << err.str();
}

TEST(OptimalCommandTest, WideLawKeepsAPositiveIntervalAndWarnsAtBound) {
  testing::TempDir dir;
  OptimalCommandOptions options;
  options.law_file = WideLawAtBound(dir);
  options.flops = 1e21;
  options.json = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunOptimalCommand(options, out, err), 0) << err.str();
  const nlohmann::json j = nlohmann::json::parse(out.str());
  const auto interval = j.at("loss_interval").get<std::vector<double>>();
  const double loss = j.at("best").at("loss").get<double>();
  EXPECT_GT(interval[0], 0);
  EXPECT_LT(interval[0], loss);
  EXPECT_GT(interval[1], loss);
  // Symmetric on log loss: loss² = lower·upper.
  EXPECT_NEAR(loss * loss, interval[0] * interval[1], 1e-6 * loss * loss);
  EXPECT_NE(err.str().find("moesweep optimal: warning: e sits on its lower "
                           "bound"),
            std::string::npos)
      << err.str();
}

TEST(OptimalCommandTest, RefusesBadBudgetsAndImpossibleCaps) {
  testing::TempDir dir;
  OptimalCommandOptions options;
  options.law_file = FitExampleLaw(dir);
  options.flops = -1;
  std::ostringstream out, err;
  EXPECT_EQ(RunOptimalCommand(options, out, err), 2);
  EXPECT_NE(err.str().find("flops must be"), std::string::npos) << err.str();
  options.flops = 1e21;
  options.max_total_params = 100;
  EXPECT_EQ(RunOptimalCommand(options, out, err), 2);
  EXPECT_NE(err.str().find("no model meets the caps"), std::string::npos)
      << err.str();
}

}  // namespace
}  // namespace moesweep::cli
