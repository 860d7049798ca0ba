// bench_fit: the full 4,500-start Chinchilla fit on Gadre et al.'s RedPajama
// runs (N <= 411.6M, C4-eval loss), against scipy's L-BFGS-B on the same
// objective and the same starts, measured in the same run
// (bench/fit/scipy_reference.py under Debian's /usr/bin/python3). Both sides
// use the same number of cores: our threads, scipy's processes. Where
// ../shared/data is absent, a table drawn from Epoch's law stands in, and the
// bench says so.
//
// Prints `bench fit <metric> value=<v> ref=<r> ratio=<v/r> goal=<g>`, higher
// ratio is better.

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
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

// Runs the scipy reference; an empty JSON object when it cannot run.
nlohmann::json RunScipy(const std::string& csv, const std::string& mode,
                        int processes) {
  const std::string cmd = "/usr/bin/python3 " MOESWEEP_SOURCE_DIR
                          "/bench/fit/scipy_reference.py --data " +
                          csv + " --mode " + mode + " --processes " +
                          std::to_string(processes);
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

}  // namespace

int main(int argc, char** argv) {
  // --no-reference skips scipy, for quick iterations on our side alone.
  const bool reference =
      !(argc > 1 && std::string(argv[1]) == "--no-reference");
  std::string source;
  const std::vector<Observation> runs = LoadRuns(&source);
  const int threads = std::max(1u, std::thread::hardware_concurrency());

  // Ours: median of 3 full multi-start fits.
  std::vector<double> seconds;
  moesweep::fitter::FitResult best;
  for (int rep = 0; rep < 3; ++rep) {
    auto fit = moesweep::fitter::Fit("chinchilla", runs,
                                     moesweep::fitter::FitOptions{});
    if (!fit.ok()) {
      std::cerr << "bench fit: " << fit.status().ToString() << "\n";
      return 1;
    }
    seconds.push_back(fit->seconds);
    best = *fit;
  }
  std::sort(seconds.begin(), seconds.end());
  const double ours_s = seconds[1];
  std::cout << "bench fit: data " << source << " (" << runs.size() << " runs), "
            << best.starts << " starts, " << threads << " threads: " << ours_s
            << " s, objective " << std::setprecision(10) << best.objective
            << "\n";

  if (!reference) return 0;
  if (!HaveScipy()) {
    std::cout << "bench fit: python3-scipy is not installed; no reference, no "
                 "ratio\n";
    return 0;
  }
  const std::string csv =
      "/tmp/bench_fit_runs_" + std::to_string(getpid()) + ".csv";
  {
    std::ofstream out(csv);
    out << "N,D,loss\n" << std::setprecision(17);
    for (const Observation& r : runs)
      out << r.params << "," << r.tokens << "," << r.loss << "\n";
  }
  for (const std::string mode : {"fd", "analytic"}) {
    const nlohmann::json ref = RunScipy(csv, mode, threads);
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
    PrintLine("inverse_objective_vs_scipy_lbfgsb_" + mode, 1 / best.objective,
              1 / ref_obj, 1);
  }
  std::remove(csv.c_str());
  return 0;
}
