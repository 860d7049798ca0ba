// moesweep fit: fit a law to a CSV table of runs.

#include <iomanip>

#include "CLI/CLI.hpp"
#include "cli/atomic_file.h"
#include "cli/commands.h"
#include "cli/csv_table.h"
#include "cli/law_json.h"
#include "fitter/fitter.h"

namespace moesweep::cli {

void AddFitCommand(CLI::App* app, FitCommandOptions* options) {
  CLI::App* fit =
      app->add_subcommand("fit", "Fit a scaling law to a CSV table of runs");
  fit->add_option("--law", options->law, "Law family")->capture_default_str();
  fit->add_option("--data", options->data,
                  "CSV with a header; columns N, D, loss")
      ->required();
  fit->add_option(
      "--column", options->columns,
      "Map a law column to a CSV header, e.g. --column N=\"Model Size\"");
  fit->add_flag("--json", options->json, "Print one JSON object");
  fit->add_option("--out", options->out,
                  "Write the fitted law to this JSON file");
  fit->add_option("--huber-delta", options->huber_delta,
                  "Huber threshold on log-loss residuals")
      ->capture_default_str();
  fit->add_option("--threads", options->threads,
                  "Threads over starts (0: all cores)")
      ->capture_default_str();
}

int RunFitCommand(const FitCommandOptions& options, std::ostream& out,
                  std::ostream& err) {
  auto fail = [&](const Status& status) {
    err << "moesweep fit: " << status.message() << "\n";
    return status.code() == StatusCode::kInvalidArgument ||
                   status.code() == StatusCode::kNotFound
               ? 2
               : 1;
  };
  if (options.law != "chinchilla") {
    // Other families read other columns; they arrive with their CSV mapping.
    if (!fitter::ThetaNames(options.law).ok())
      return fail(fitter::ThetaNames(options.law).status());
    return fail(InvalidArgumentError("law '" + options.law +
                                     "' cannot be read from CSV yet"));
  }
  ColumnMap columns;
  for (const std::string& spec : options.columns) {
    if (Status s = AddColumnMapping(spec, &columns); !s.ok()) return fail(s);
  }
  StatusOr<CsvTable> table = ReadCsv(options.data);
  if (!table.ok()) return fail(table.status());
  StatusOr<std::vector<fitter::Observation>> runs =
      ReadChinchillaRuns(*table, columns);
  if (!runs.ok()) return fail(runs.status());

  fitter::FitOptions fit_options;
  fit_options.huber_delta = options.huber_delta;
  fit_options.num_threads = options.threads;
  StatusOr<fitter::FitResult> fit =
      fitter::Fit(options.law, *runs, fit_options);
  if (!fit.ok()) {
    return fail(
        Status(fit.status().code(),
               options.data + ": " + std::string(fit.status().message())));
  }
  StatusOr<std::vector<fitter::NamedValue>> params =
      fitter::NaturalParams(fit->law);
  if (!params.ok()) return fail(params.status());

  if (!options.out.empty()) {
    StatusOr<std::string> text = LawFileJson(*fit, options.huber_delta);
    if (!text.ok()) return fail(text.status());
    if (Status s = WriteFileAtomically(options.out, *text); !s.ok())
      return fail(s);
  }
  for (const std::string& w : fit->warnings)
    err << "moesweep fit: warning: " << w << "\n";

  if (options.json) {
    out << FitSummaryJson(*fit, *params) << "\n";
    return 0;
  }
  out << std::setprecision(6);
  out << "law        " << fit->law.family << "\n"
      << "runs       " << fit->runs << "\n"
      << "starts     " << fit->starts << "\n"
      << "objective  " << std::scientific << fit->objective << std::defaultfloat
      << "  (sum of Huber, delta " << options.huber_delta << ", on log loss)\n"
      << "seconds    " << std::fixed << std::setprecision(3) << fit->seconds
      << "\n"
      << std::defaultfloat << std::setprecision(6) << "parameters\n";
  for (const fitter::NamedValue& p : *params) {
    out << "  " << std::left << std::setw(8) << p.name << std::right << p.value
        << "\n";
  }
  if (!options.out.empty()) out << "law written to " << options.out << "\n";
  return 0;
}

}  // namespace moesweep::cli
