// bench_proposer: how much compute active learning saves. For each MoE
// family as the truth (finegrained and joint with their published
// coefficients, comprehensive with Zhao et al. 2025's published coefficients),
// the FLOPs a campaign spends until the 95% interval of the compute-optimal
// loss at 100x the largest allowed run is narrower than the target, for the
// active strategy against grid, random and Sobol designs, over several seeds
// (all in-process against the simulated oracle); the coverage of the final
// intervals; and the latency of proposing 64 runs from 500 observations.
// `branching` is the active strategy with warmup-stable-decay runs (a 20%
// cooldown) that may branch from earlier runs' checkpoints, against active
// without, on the same truths and seeds; `--lineage-correlation R` sets the
// correlation of one stable run's branches' noise (0.9 by default; assumed).
//
// Defaults keep a run to minutes: 3 seeds, a 5% target. The figure is
// `bench_proposer --seeds 20 --target 0.01` (about two hours on 2 cores);
// `--baseline-seeds N` runs fewer seeds of the baselines, `--first-seed K`
// starts the seeds at K (more seeds in another run), `--family` runs one
// family, `--strategy a,b` some strategies, `--verbose` prints every campaign.
//
// Every strategy gets the same budget: 1000x the largest allowed run for
// finegrained and joint, 10,000x for comprehensive. A baseline that spends it
// without reaching the target needed more: the ratio printed against it is
// then a lower bound, and an extrapolated need is printed beside it.
//
// Prints `bench proposer <metric> value=<v> ref=<r> ratio=<v/r> goal=<g>`,
// higher ratio is better.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fitter/fitter.h"

namespace {

using namespace moesweep::fitter;

struct Setup {
  std::string name;
  CampaignSimulation sim;
};

std::vector<Setup> Setups(double target) {
  std::vector<Setup> setups;
  CampaignSimulation base;
  base.target_relative_width = target;
  base.max_parallel_runs = 8;
  base.question.optimal.profile_points = 25;
  // Baselines may need tens of thousands of runs before their budget is
  // spent: they check the stopping rule each time their runs grow by 2%
  // (their FLOPs overshoot by at most that), and the run guard is far off.
  base.check_growth = 0.02;
  base.max_runs = 40000;
  {
    Setup s{"finegrained", base};
    s.sim.shape.family = "finegrained";
    s.sim.truth = *PublishedLaw("finegrained", "krajewski2024");
    s.sim.space.axes = {{Feature::kTotalNonEmbed, 1e8, 4e9, true, {}},
                        {Feature::kTokens, 1e9, 1.3e11, true, {}},
                        {Feature::kGranularity, 0, 0, false, {1, 2, 4, 8, 16}}};
    s.sim.space.max_run_flops = 1e20;
    s.sim.question.optimal.flops = 1e22;
    s.sim.budget_flops = 1e23;
    setups.push_back(s);
  }
  {
    Setup s{"joint", base};
    s.sim.shape.family = "joint";
    s.sim.truth = *PublishedLaw("joint", "ludziejewski2025");
    s.sim.space.axes = {
        {Feature::kActiveParams, 8e7, 2.7e9, true, {}},
        {Feature::kTokens, 5e8, 8e10, true, {}},
        {Feature::kNumExperts, 0, 0, false, {1, 2, 4, 8, 16, 32}}};
    s.sim.space.max_run_flops = 1e20;
    s.sim.question.optimal.flops = 1e22;
    s.sim.budget_flops = 1e23;
    setups.push_back(s);
  }
  {
    Setup s{"comprehensive", base};
    s.sim.shape.family = "comprehensive";
    // Zhao et al. 2025's Eq. 11 with its published coefficients.
    s.sim.truth = *PublishedLaw("comprehensive", "zhao2025");
    ArchitectureAxes arch;
    arch.base.vocab_size = 32000;
    arch.base.seq_len = 2048;
    arch.d_model = {512, 768, 1024, 1536, 2048};
    arch.layers = {8, 12, 16, 24};
    arch.experts = {8, 16, 32, 64};
    arch.top_k = {1, 2, 4, 6, 8};
    arch.granularity = {1};
    arch.shared = {0, 1, 2, 4};
    s.sim.space.architecture = arch;
    s.sim.space.axes = {{Feature::kTokens, 1e10, 1e11, true, {}}};
    s.sim.space.max_run_flops = 1e21;
    s.sim.question.optimal.flops = 1e23;
    // Eq. 11 charges nothing for total parameters at a budget: the question
    // caps them at about the largest model of the space.
    s.sim.question.optimal.max_total_params = 1e11;
    // The baselines' designs need about 7e24 to reach a 1% width here.
    s.sim.budget_flops = 1e25;
    setups.push_back(s);
  }
  return setups;
}

// The cooldown of the `branching` campaigns' warmup-stable-decay runs.
constexpr double kCooldownFraction = 0.2;

// Whether `name` is one of the comma-separated names in `list`.
bool Listed(const std::string& list, std::string_view name) {
  std::size_t begin = 0;
  while (begin <= list.size()) {
    std::size_t end = list.find(',', begin);
    if (end == std::string::npos) end = list.size();
    if (list.compare(begin, end - begin, name) == 0) return true;
    begin = end + 1;
  }
  return false;
}
bool Listed(const std::string& list, Strategy strategy) {
  return Listed(list, StrategyName(strategy));
}

double Median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2]
                      : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

void Print(const std::string& metric, double value, double ref, double goal) {
  std::cout << "bench proposer " << metric << std::setprecision(6)
            << " value=" << value << " ref=" << ref << " ratio=" << value / ref
            << " goal=" << goal << "\n";
}

// Proposing 64 runs from a joint law fitted to 500 observations: covariance,
// the question's gradient, 512 scored candidates, greedy picks.
double ProposalLatencySeconds() {
  const Law truth = *PublishedLaw("joint", "ludziejewski2025");
  DesignSpace space = Setups(0.05)[1].sim.space;
  Law shape;
  shape.family = "joint";
  Question question;
  question.optimal.flops = 1e22;
  question.optimal.profile_points = 25;
  ProposeRequest sobol;
  sobol.strategy = Strategy::kSobol;
  sobol.batch = 500;
  std::vector<Observation> design;
  const std::vector<Candidate> first =
      *ProposeRuns(shape, space, question, sobol);
  for (const Candidate& c : first) design.push_back(c.at);
  const std::vector<Observation> runs =
      *SimulateLosses(truth, design, 0.01, 0.05, 1);
  FitOptions warm;
  warm.use_grid = false;
  warm.extra_starts = {truth.theta};
  const Law law = Fit("joint", runs, warm)->law;
  std::vector<double> seconds;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    const LawUncertainty u = *EstimateCovariance(law, runs, 1e-3);
    ProposeRequest active;
    active.batch = 64;
    active.proposed_before = 500;
    active.law = &law;
    active.uncertainty = &u;
    active.noise_reference_flops = 1e18;
    if (!ProposeRuns(shape, space, question, active).ok()) std::exit(1);
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count());
  }
  return Median(seconds);
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 3;
  int baseline_seeds = -1;  // -1: as many as --seeds
  int first_seed = 0;
  double target = 0.05;
  std::string only_family, only_strategy;
  bool verbose = false;
  // The correlation of the noise of one stable run's branches
  // (OracleOptions::lineage_correlation).
  double lineage_correlation = OracleOptions{}.lineage_correlation;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--verbose") {
      verbose = true;
    } else if (i + 1 < argc && flag == "--seeds") {
      seeds = std::atoi(argv[++i]);
    } else if (i + 1 < argc && flag == "--first-seed") {
      first_seed = std::atoi(argv[++i]);
    } else if (i + 1 < argc && flag == "--baseline-seeds") {
      baseline_seeds = std::atoi(argv[++i]);
    } else if (i + 1 < argc && flag == "--lineage-correlation") {
      lineage_correlation = std::atof(argv[++i]);
    } else if (i + 1 < argc && flag == "--target") {
      target = std::atof(argv[++i]);
    } else if (i + 1 < argc && flag == "--family") {
      only_family = argv[++i];
    } else if (i + 1 < argc && flag == "--strategy") {
      only_strategy = argv[++i];
    } else {
      std::cerr << "usage: bench_proposer [--seeds N] [--first-seed K] "
                   "[--baseline-seeds N] "
                   "[--target W] "
                   "[--family NAME] [--strategy S] [--lineage-correlation R] "
                   "[--verbose]\n";
      return 2;
    }
  }
  const Strategy strategies[] = {Strategy::kActive, Strategy::kGrid,
                                 Strategy::kRandom, Strategy::kSobol};
  int listed = 0;
  for (Strategy strategy : strategies)
    listed += Listed(only_strategy, strategy);
  const bool with_branching =
      only_strategy.empty() || Listed(only_strategy, "branching");
  listed += !only_strategy.empty() && with_branching;
  if (!only_strategy.empty() &&
      listed != 1 + static_cast<int>(std::count(only_strategy.begin(),
                                                only_strategy.end(), ','))) {
    std::cerr << "bench_proposer: --strategy takes names from active, grid, "
                 "random, sobol, branching, separated by commas\n";
    return 2;
  }
  std::vector<Setup> setups = Setups(target);
  if (!only_family.empty()) {
    std::erase_if(setups,
                  [&](const Setup& s) { return s.name != only_family; });
    if (setups.empty()) {
      std::cerr << "bench_proposer: no family " << only_family << "\n";
      return 2;
    }
  }
  struct Task {
    std::size_t setup;
    Strategy strategy;
    int seed;
    bool branching = false;  // active with cooldown branches
  };
  std::vector<Task> tasks;
  for (std::size_t s = 0; s < setups.size(); ++s) {
    for (Strategy strategy : strategies)
      for (int seed = 0;
           seed < (strategy == Strategy::kActive || baseline_seeds < 0
                       ? seeds
                       : baseline_seeds);
           ++seed)
        if (only_strategy.empty() || Listed(only_strategy, strategy))
          tasks.push_back({s, strategy, first_seed + seed});
    for (int seed = 0; seed < seeds && with_branching; ++seed)
      tasks.push_back({s, Strategy::kActive, first_seed + seed, true});
  }
  std::map<std::pair<std::size_t, Strategy>, std::vector<CampaignOutcome>>
      outcomes;
  std::map<std::size_t, std::vector<CampaignOutcome>> branched;
  std::mutex mu;
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < tasks.size(); i = next++) {
      CampaignSimulation sim = setups[tasks[i].setup].sim;
      sim.strategy = tasks[i].strategy;
      sim.seed = tasks[i].seed;
      sim.oracle.lineage_correlation = lineage_correlation;
      if (tasks[i].branching) sim.cooldown_fraction = kCooldownFraction;
      const auto start = std::chrono::steady_clock::now();
      moesweep::StatusOr<CampaignOutcome> o = SimulateCampaign(sim);
      if (!o.ok()) {
        std::cerr << "bench proposer: " << o.status().ToString() << "\n";
        std::exit(1);
      }
      std::lock_guard<std::mutex> lock(mu);
      if (verbose) {
        std::cerr << setups[tasks[i].setup].name << " "
                  << (tasks[i].branching ? "branching"
                                         : StrategyName(sim.strategy))
                  << " seed " << sim.seed << ": " << o->stop_reason << ", "
                  << o->runs << " runs (" << o->branches << " branches), "
                  << o->flops_spent << " FLOPs, width "
                  << (o->answer.upper - o->answer.lower) /
                         std::abs(o->answer.value)
                  << ", error " << o->relative_error
                  << (o->covered ? ", covered" : ", missed") << ", "
                  << std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count()
                  << " s\n";
      }
      if (tasks[i].branching) {
        branched[tasks[i].setup].push_back(*o);
      } else {
        outcomes[{tasks[i].setup, tasks[i].strategy}].push_back(*o);
      }
    }
  };
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::max(1u, std::thread::hardware_concurrency());
       ++t) {
    pool.emplace_back(work);
  }
  work();
  for (std::thread& t : pool) t.join();
  std::cout << "bench proposer: " << tasks.size() << " campaigns, " << seeds
            << " seeds each, target " << target << ", "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                             t0)
                   .count()
            << " s\n";

  for (std::size_t s = 0; s < setups.size(); ++s) {
    double best_baseline = 0;
    std::string best_name;
    bool best_censored = false;  // its median campaign never reached the target
    bool active_censored = false;
    double active_flops = 0, active_coverage = 0;
    for (Strategy strategy : strategies) {
      std::vector<double> flops, extrapolated;
      int covered = 0, reached = 0;
      for (const CampaignOutcome& o : outcomes[{s, strategy}]) {
        flops.push_back(o.flops_spent);
        covered += o.covered;
        const bool done = o.stop_reason == "target reached";
        reached += done;
        // A fixed design's Var(Q) falls as 1/runs, so its width as
        // FLOPs^-1/2: what a stopped-short campaign would have needed.
        const double width =
            (o.answer.upper - o.answer.lower) / std::abs(o.answer.value);
        extrapolated.push_back(
            done || !o.answered ? o.flops_spent
                                : o.flops_spent * std::pow(width / target, 2));
      }
      if (flops.empty()) continue;  // filtered out by --strategy
      const double median = Median(flops);
      std::cout << "bench proposer: " << setups[s].name << " "
                << StrategyName(strategy) << ": median " << median
                << " FLOPs, target reached in " << reached << "/"
                << flops.size() << ", interval covered the truth in " << covered
                << "/" << flops.size() << "\n";
      if (strategy != Strategy::kActive &&
          reached < static_cast<int>(flops.size())) {
        std::cout << "bench proposer: " << setups[s].name << " "
                  << StrategyName(strategy)
                  << ": FLOPs needed, extrapolated as width ~ FLOPs^-1/2 "
                     "where the budget ran out: median "
                  << Median(extrapolated);
        if (active_flops > 0) {
          std::cout << " (" << Median(extrapolated) / active_flops
                    << "x active's)";
        }
        std::cout << "\n";
      }
      if (strategy == Strategy::kActive) {
        active_flops = median;
        active_coverage = double(covered) / flops.size();
        active_censored = 2 * reached <= static_cast<int>(flops.size());
      } else if (best_baseline == 0 || median < best_baseline) {
        best_baseline = median;
        best_name = std::string(StrategyName(strategy));
        best_censored = 2 * reached <= static_cast<int>(flops.size());
      }
    }
    // value and ref in campaigns per FLOP: the ratio is the baseline's FLOPs
    // over active's (goal: active needs <= 0.2x, a ratio >= 5).
    if (active_flops > 0 && best_baseline > 0) {
      if (active_censored) {
        std::cout << "bench proposer: " << setups[s].name
                  << ": active stopped short of the target in half its "
                     "campaigns or more: the ratio below is not a saving\n";
      } else if (best_censored) {
        std::cout << "bench proposer: " << setups[s].name << ": " << best_name
                  << " spent its budget before the target in half its "
                     "campaigns or more: the ratio below is a lower "
                     "bound\n";
      }
      Print(setups[s].name + "_flops_saving_vs_" + best_name, 1 / active_flops,
            1 / best_baseline, 5);
    }
    if (active_flops > 0) {
      Print(setups[s].name + "_active_interval_coverage", active_coverage, 0.9,
            1);
    }
    const std::vector<CampaignOutcome>& b = branched[s];
    if (b.empty()) continue;
    std::vector<double> flops;
    int covered = 0, reached = 0, branches = 0, runs = 0;
    for (const CampaignOutcome& o : b) {
      flops.push_back(o.flops_spent);
      covered += o.covered;
      reached += o.stop_reason == "target reached";
      branches += o.branches;
      runs += o.runs;
    }
    std::cout << "bench proposer: " << setups[s].name << " branching: median "
              << Median(flops) << " FLOPs, target reached in " << reached << "/"
              << b.size() << ", interval covered the truth in " << covered
              << "/" << b.size() << ", " << branches << " of " << runs
              << " runs were branches\n";
    if (active_flops > 0) {
      // The ratio is active's FLOPs over branching's (goal >= 3).
      Print(setups[s].name + "_branching_flops_saving_vs_active",
            1 / Median(flops), 1 / active_flops, 3);
    }
    Print(setups[s].name + "_branching_interval_coverage",
          double(covered) / b.size(), 0.9, 1);
  }
  const double latency = ProposalLatencySeconds();
  Print("proposals_per_second_64_from_500_vs_100ms", 1 / latency, 1 / 0.1, 1);
  return 0;
}
