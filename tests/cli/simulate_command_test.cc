#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "tests/testing/temp_dir.h"

namespace moesweep::cli {
namespace {

constexpr char kCampaign[] = R"(law: {family: chinchilla}
space:
  params: {min: 1.0e7, max: 1.0e9, log: true}
  tokens: {min: 1.0e8, max: 1.0e11, log: true}
limits: {max_flops: 1.0e19}
budget: {flops: 1.0e22}
question: {kind: compute_optimal_loss, flops: 1.0e21}
target: {relative_width: 0.1}
max_parallel_runs: 8
)";

TEST(SimulateCommandTest, RunsTheCampaignAgainstThePublishedTruth) {
  testing::TempDir dir;
  SimulateCommandOptions options;
  options.campaign = dir.Write("campaign.yaml", kCampaign);
  options.seeds = 2;
  options.json = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunSimulateCommand(options, out, err), 0) << err.str();
  EXPECT_EQ(err.str(), "");  // no batch_tokens: nothing to warn about
  const nlohmann::json j = nlohmann::json::parse(out.str());
  ASSERT_EQ(j.at("runs").size(), 2u);
  for (const auto& run : j.at("runs")) {
    EXPECT_EQ(run.at("stop"), "target reached");
    EXPECT_NEAR(run.at("truth").get<double>(), 2.3055, 1e-3);  // Epoch at 1e21
    const auto interval = run.at("interval").get<std::vector<double>>();
    EXPECT_LT((interval[1] - interval[0]) / run.at("answer").get<double>(),
              0.1);
    EXPECT_LT(run.at("flops").get<double>(), 1e22);
  }
  EXPECT_EQ(j.at("strategy"), "active");
}

// Issue 12: a spec whose smallest run is under 200 steps is run, with a
// warning that names the field.
TEST(SimulateCommandTest, WarnsAboutRunsOfTooFewSteps) {
  testing::TempDir dir;
  SimulateCommandOptions options;
  options.campaign =
      dir.Write("campaign.yaml",
                std::string(kCampaign) + "training: {batch_tokens: 1.0e6}\n");
  options.json = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunSimulateCommand(options, out, err), 0) << err.str();
  EXPECT_EQ(err.str().find("moesweep simulate: warning: space.tokens: the "
                           "smallest run, 1e8 tokens, is 100 steps"),
            0u)
      << err.str();
}

// Issue 18: --cooldown trains warmup-stable-decay runs and branches new runs
// from earlier runs' checkpoints; each campaign says how many were branches.
TEST(SimulateCommandTest, CooldownBranchesRunsFromCheckpoints) {
  testing::TempDir dir;
  SimulateCommandOptions options;
  options.campaign = dir.Write("campaign.yaml", kCampaign);
  options.cooldown = 0.2;
  options.json = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunSimulateCommand(options, out, err), 0) << err.str();
  const nlohmann::json j = nlohmann::json::parse(out.str());
  const auto& run = j.at("runs").at(0);
  EXPECT_EQ(run.at("stop"), "target reached");
  EXPECT_GT(run.at("branches").get<int>(), 0);
  EXPECT_LT(run.at("branches").get<int>(), run.at("runs").get<int>());
  options.cooldown = 0.7;  // longer than the stable phase
  std::ostringstream err2;
  EXPECT_EQ(RunSimulateCommand(options, out, err2), 2);
  EXPECT_NE(err2.str().find("cooldown_fraction must be in [0, 0.5]"),
            std::string::npos)
      << err2.str();
  options.cooldown = 0.2;
  options.strategy = "sobol";
  std::ostringstream err3;
  EXPECT_EQ(RunSimulateCommand(options, out, err3), 2);
  EXPECT_NE(err3.str().find("needs the active strategy"), std::string::npos)
      << err3.str();
}

// A spec with training.branching simulates what the coordinator would run:
// a cooldown of the wsd schedule's fifth, unless --cooldown says otherwise.
TEST(SimulateCommandTest, ABranchingSpecBranchesWithoutTheFlag) {
  testing::TempDir dir;
  SimulateCommandOptions options;
  options.campaign = dir.Write(
      "campaign.yaml",
      std::string(kCampaign) + "training: {schedule: wsd, branching: true}\n");
  options.json = true;
  auto branches = [&options] {
    std::ostringstream out, err;
    EXPECT_EQ(RunSimulateCommand(options, out, err), 0) << err.str();
    return nlohmann::json::parse(out.str()).at("runs").at(0).at("branches");
  };
  EXPECT_GT(branches().get<int>(), 0);
  options.cooldown = 0;
  EXPECT_EQ(branches().get<int>(), 0);
}

TEST(SimulateCommandTest, RefusesBadSpecsStrategiesAndTruths) {
  testing::TempDir dir;
  SimulateCommandOptions options;
  options.campaign = dir.Write("campaign.yaml", kCampaign);
  options.strategy = "bayes";
  std::ostringstream out, err;
  EXPECT_EQ(RunSimulateCommand(options, out, err), 2);
  options.strategy = "";
  options.truth_file = dir.File("absent.json");
  EXPECT_EQ(RunSimulateCommand(options, out, err), 2);
  EXPECT_NE(err.str().find("absent.json"), std::string::npos) << err.str();
  options.truth_file = "";
  options.campaign = dir.Write("bad.yaml", "law: {family: chinchilla}\n");
  EXPECT_EQ(RunSimulateCommand(options, out, err), 2);
  std::string comprehensive = kCampaign;
  comprehensive.replace(comprehensive.find("chinchilla"), 10, "comprehensive");
  comprehensive.replace(
      comprehensive.find("  params:"), 0,
      "  active_params: {min: 1.0e6, max: 1.0e9, log: true}\n");
  options.campaign = dir.Write("comprehensive.yaml", comprehensive);
  std::ostringstream err2;
  EXPECT_EQ(RunSimulateCommand(options, out, err2), 2);
  // Zhao's law reads non-embedding sizes, which a space of params does not
  // give: the error names the first missing feature and the way out.
  EXPECT_NE(err2.str().find("n_total_ne is missing"), std::string::npos)
      << err2.str();
  EXPECT_NE(err2.str().find("describe architectures instead"),
            std::string::npos)
      << err2.str();
}

}  // namespace
}  // namespace moesweep::cli
