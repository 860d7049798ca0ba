// bench_fit: the full 4,500-start Chinchilla fit on Gadre et al.'s RedPajama
// runs (N <= 411.6M, C4-eval loss), against scipy's L-BFGS-B on the same
// objective and the same starts, measured in the same run
// (bench/fit/scipy_reference.py under Debian's /usr/bin/python3). Both sides
// use the same number of cores: our threads, scipy's processes. Where
// ../shared/data is absent, a table drawn from Epoch's law stands in, and the
// bench says so.
//
// Also: 200 bootstrap refits of the same fit against scipy's BFGS with an
// analytic gradient on the same resamples, and a warm incremental refit of
// 1,000 `comprehensive` runs against a cold multi-start fit of the same runs.
//
// Prints `bench fit <metric> value=<v> ref=<r> ratio=<v/r> goal=<g>`, higher
// ratio is better.

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fitter/fitter.h"
#include "tests/testing/gadre_data.h"

namespace {

using moesweep::fitter::Observation;

std::vector<Observation> LoadRuns(std::string* source) {
  auto gadre = moesweep::testing::LoadGadreRuns("rpj", "c4_val");
  std::vector<Observation> runs;
  if (gadre.ok()) {
    for (const auto& r : *gadre) {
      if (r.params <= 411.7e6)
        runs.push_back(
            {.params = r.params, .tokens = r.tokens, .loss = r.loss});
    }
    *source = "gadre rpj c4_val N<=411.6M";
    return runs;
  }
  std::cout << "bench fit: " << gadre.status().message()
            << "; using 48 runs drawn from Epoch's law\n";
  moesweep::fitter::SimulationOptions sim;
  sim.seed = 7;
  runs = *moesweep::fitter::SimulateRuns(
      *moesweep::fitter::PublishedLaw("chinchilla", "epoch"), sim);
  *source = "synthetic epoch";
  return runs;
}

// Runs the scipy reference with `args`; an empty JSON object when it cannot.
nlohmann::json RunScipy(const std::string& args) {
  const std::string cmd = "/usr/bin/python3 " MOESWEEP_SOURCE_DIR
                          "/bench/fit/scipy_reference.py " +
                          args;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return {};
  std::string out;
  std::array<char, 4096> buf;
  while (std::fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  if (pclose(pipe.release()) != 0) return {};
  try {
    return nlohmann::json::parse(out);
  } catch (const nlohmann::json::exception&) {
    return {};
  }
}

bool HaveScipy() {
  return std::system(
             "/usr/bin/python3 -c 'import scipy.optimize' >/dev/null 2>&1") ==
         0;
}

void PrintLine(const std::string& metric, double value, double ref,
               double goal) {
  std::cout << "bench fit " << metric << std::setprecision(10)
            << " value=" << value << " ref=" << ref << " ratio=" << value / ref
            << " goal=" << goal << "\n";
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The full 4,500-start grid fit, ours against scipy's L-BFGS-B.
void GridFit(const std::vector<Observation>& runs, const std::string& csv,
             int threads, bool reference, moesweep::fitter::FitResult* best) {
  std::vector<double> seconds;
  for (int rep = 0; rep < 3; ++rep) {
    auto fit = moesweep::fitter::Fit("chinchilla", runs,
                                     moesweep::fitter::FitOptions{});
    if (!fit.ok()) {
      std::cerr << "bench fit: " << fit.status().ToString() << "\n";
      std::exit(1);
    }
    seconds.push_back(fit->seconds);
    *best = *fit;
  }
  const double ours_s = Median(seconds);
  std::cout << "bench fit: " << runs.size() << " runs, " << best->starts
            << " starts, " << threads << " threads: " << ours_s
            << " s, objective " << std::setprecision(10) << best->objective
            << "\n";
  if (!reference) return;
  for (const std::string mode : {"fd", "analytic"}) {
    const nlohmann::json ref =
        RunScipy("--data " + csv + " --mode " + mode + " --processes " +
                 std::to_string(threads));
    if (ref.empty()) {
      std::cout << "bench fit: scipy reference (" << mode
                << ") failed to run\n";
      continue;
    }
    const double ref_s = ref.at("seconds").get<double>();
    const double ref_obj = ref.at("best_objective").get<double>();
    std::cout << "bench fit: scipy L-BFGS-B " << mode << ", " << threads
              << " processes: " << ref_s << " s, objective "
              << std::setprecision(10) << ref_obj << "\n";
    // value and ref in fits per second, so the ratio is the speed-up.
    PrintLine("speedup_vs_scipy_lbfgsb_" + mode, 1 / ours_s, 1 / ref_s, 50);
    // ratio >= 1 when our objective is equal or lower.
    PrintLine("inverse_objective_vs_scipy_lbfgsb_" + mode, 1 / best->objective,
              1 / ref_obj, 1);
  }
}

// 200 warm-started bootstrap refits, ours against scipy's BFGS (analytic
// gradient) on the same resamples from the same start.
void Bootstrap(const std::vector<Observation>& runs, const std::string& csv,
               int threads, bool reference,
               const moesweep::fitter::FitResult& fit) {
  moesweep::fitter::BootstrapOptions options;
  options.resamples = 200;
  std::vector<double> seconds;
  std::vector<std::vector<double>> thetas;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    auto result = moesweep::fitter::BootstrapThetas(fit.law, runs, options);
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count());
    if (!result.ok()) {
      std::cerr << "bench fit: " << result.status().ToString() << "\n";
      std::exit(1);
    }
    thetas = *result;
  }
  std::vector<double> alphas;
  for (const auto& t : thetas) alphas.push_back(t[3]);
  const auto alpha =
      moesweep::fitter::PercentileInterval(alphas, fit.law.theta[3], 0.95);
  const double ours_s = Median(seconds);
  std::cout << "bench fit: bootstrap, 200 refits, " << threads
            << " threads: " << ours_s << " s; alpha 95% [" << alpha.lower
            << ", " << alpha.upper << "]\n";
  if (!reference) return;
  const std::string draws_file = csv + ".draws";
  {
    std::ofstream out(draws_file);
    for (const auto& draw :
         moesweep::fitter::BootstrapDraws(runs.size(), 200, options.seed)) {
      for (std::size_t i = 0; i < draw.size(); ++i)
        out << (i ? "," : "") << draw[i];
      out << "\n";
    }
  }
  std::ostringstream start;
  start << std::setprecision(17);
  for (std::size_t i = 0; i < fit.law.theta.size(); ++i) {
    start << (i ? "," : "") << fit.law.theta[i];
  }
  const nlohmann::json ref = RunScipy(
      "--data " + csv + " --mode bootstrap --resamples " + draws_file +
      " --start " + start.str() + " --processes " + std::to_string(threads));
  std::remove(draws_file.c_str());
  if (ref.empty()) {
    std::cout << "bench fit: scipy bootstrap reference failed to run\n";
    return;
  }
  const double ref_s = ref.at("seconds").get<double>();
  std::cout << "bench fit: scipy BFGS bootstrap, " << threads
            << " processes: " << ref_s << " s; alpha 95% ["
            << ref.at("alpha_p2_5").get<double>() << ", "
            << ref.at("alpha_p97_5").get<double>() << "]\n";
  PrintLine("bootstrap_speedup_vs_scipy_bfgs", 1 / ours_s, 1 / ref_s, 10);
}

// A warm incremental refit of 1,000 `comprehensive` runs against a cold
// multi-start fit of the same runs.
void WarmVsCold(int threads) {
  const auto truth =
      *moesweep::fitter::PublishedLaw("comprehensive", "zhao2025");
  std::mt19937_64 rng(5);
  auto log_uniform = [&](double lo, double hi) {
    return std::exp(std::uniform_real_distribution<double>(std::log(lo),
                                                           std::log(hi))(rng));
  };
  std::vector<Observation> design;
  for (int i = 0; i < 1000; ++i) {
    const double n = log_uniform(1.33e8, 9e9);
    design.push_back(
        {.tokens = log_uniform(1e10, 1e11),
         .n_total_ne = n,
         .n_active_ne = n * log_uniform(0.05, 0.9),
         .active_experts = std::round(log_uniform(1, 20)),
         .shared_ratio = std::uniform_real_distribution<double>(0, 0.7)(rng)});
  }
  const auto runs =
      *moesweep::fitter::SimulateLosses(truth, design, 0.01, 0.05, 1);
  auto cold = moesweep::fitter::Fit("comprehensive", runs,
                                    moesweep::fitter::FitOptions{});
  if (!cold.ok()) {
    std::cerr << "bench fit: " << cold.status().ToString() << "\n";
    std::exit(1);
  }
  // The optimum of the first 999 runs, then the refit when the 1,000th arrives.
  moesweep::fitter::FitOptions warm;
  warm.use_grid = false;
  warm.num_threads = 1;
  warm.extra_starts = {cold->law.theta};
  const std::vector<Observation> first(runs.begin(), runs.end() - 1);
  warm.extra_starts = {
      moesweep::fitter::Fit("comprehensive", first, warm)->law.theta};
  std::vector<double> seconds;
  double objective = 0;
  for (int rep = 0; rep < 9; ++rep) {
    auto fit = moesweep::fitter::Fit("comprehensive", runs, warm);
    seconds.push_back(fit->seconds);
    objective = fit->objective;
  }
  const double warm_s = Median(seconds);
  std::cout << "bench fit: comprehensive, 1000 runs: cold " << cold->starts
            << " starts on " << threads << " threads " << cold->seconds
            << " s (objective " << cold->objective << "), warm refit "
            << 1e3 * warm_s << " ms (objective " << objective << ")\n";
  // value and ref in refits per second.
  PrintLine("warm_refit_per_second_vs_5ms", 1 / warm_s, 1 / 5e-3, 1);
  PrintLine("warm_refit_speedup_vs_cold_fit", 1 / warm_s, 1 / cold->seconds,
            100);
}

}  // namespace

int main(int argc, char** argv) {
  // --no-reference skips scipy, for quick iterations on our side alone.
  const bool no_reference =
      argc > 1 && std::string(argv[1]) == "--no-reference";
  const bool reference = !no_reference && HaveScipy();
  if (!no_reference && !reference) {
    std::cout << "bench fit: python3-scipy is not installed; no reference, no "
                 "ratio against it\n";
  }
  std::string source;
  const std::vector<Observation> runs = LoadRuns(&source);
  std::cout << "bench fit: data " << source << "\n";
  const int threads = std::max(1u, std::thread::hardware_concurrency());
  const std::string csv =
      "/tmp/bench_fit_runs_" + std::to_string(getpid()) + ".csv";
  {
    std::ofstream out(csv);
    out << "N,D,loss\n" << std::setprecision(17);
    for (const Observation& r : runs)
      out << r.params << "," << r.tokens << "," << r.loss << "\n";
  }
  moesweep::fitter::FitResult best;
  GridFit(runs, csv, threads, reference, &best);
  Bootstrap(runs, csv, threads, reference, best);
  std::remove(csv.c_str());
  WarmVsCold(threads);
  return 0;
}
