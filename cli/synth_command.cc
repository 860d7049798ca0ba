// moesweep synth: a CSV table of runs drawn from a published law.

#include <iomanip>
#include <sstream>

#include "CLI/CLI.hpp"
#include "cli/atomic_file.h"
#include "cli/commands.h"
#include "cli/exit_code.h"
#include "fitter/fitter.h"

namespace moesweep::cli {

void AddSynthCommand(CLI::App* app, SynthCommandOptions* o) {
  CLI::App* synth = app->add_subcommand(
      "synth",
      "Write a CSV of runs drawn from a published law with log-normal noise");
  synth->add_option("--law", o->law, "Law family")->capture_default_str();
  synth->add_option("--preset", o->preset, "Published coefficients")
      ->capture_default_str();
  synth->add_option("--min-params", o->min_params, "Smallest N")
      ->capture_default_str();
  synth->add_option("--max-params", o->max_params, "Largest N")
      ->capture_default_str();
  synth->add_option("--points", o->points, "N values, log-spaced")
      ->capture_default_str();
  synth
      ->add_option("--tokens-per-param", o->tokens_per_param, "D/N multipliers")
      ->delimiter(',')
      ->capture_default_str();
  synth->add_option("--noise", o->noise, "Log-normal sigma on the loss")
      ->capture_default_str();
  synth->add_option("--outliers", o->outliers, "Fraction of gross outliers")
      ->capture_default_str();
  synth->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  synth->add_option("--out", o->out, "CSV to write (default: stdout)");
}

int RunSynthCommand(const SynthCommandOptions& o, std::ostream& out,
                    std::ostream& err) {
  auto fail = [&](const Status& status) { return Fail("synth", status, err); };
  StatusOr<fitter::Law> truth = fitter::PublishedLaw(o.law, o.preset);
  if (!truth.ok()) return fail(truth.status());
  fitter::SimulationOptions sim;
  sim.min_params = o.min_params;
  sim.max_params = o.max_params;
  sim.param_points = o.points;
  sim.tokens_per_param = o.tokens_per_param;
  sim.noise_sigma = o.noise;
  sim.outlier_fraction = o.outliers;
  sim.seed = o.seed;
  StatusOr<std::vector<fitter::Observation>> runs =
      fitter::SimulateRuns(*truth, sim);
  if (!runs.ok()) return fail(runs.status());

  std::ostringstream csv;
  csv << "N,D,loss\n" << std::setprecision(10);
  for (const fitter::Observation& r : *runs)
    csv << r.params << "," << r.tokens << "," << r.loss << "\n";
  if (o.out.empty()) {
    out << csv.str();
    return 0;
  }
  if (Status s = WriteFileAtomically(o.out, csv.str()); !s.ok()) return fail(s);
  out << "wrote " << runs->size() << " runs drawn from " << o.law << "/"
      << o.preset << " to " << o.out << "\n";
  return 0;
}

}  // namespace moesweep::cli
