// moesweep fit: fit a law to a CSV table of runs.

#include <cmath>
#include <iomanip>

#include "CLI/CLI.hpp"
#include "cli/atomic_file.h"
#include "cli/commands.h"
#include "cli/csv_table.h"
#include "cli/exit_code.h"
#include "cli/expr_yaml.h"
#include "cli/law_json.h"
#include "fitter/fitter.h"

namespace moesweep::cli {
namespace {

// The law's shape (family, or family "expr" with its expression), unfitted.
StatusOr<fitter::Law> Shape(const FitCommandOptions& options) {
  fitter::Law shape;
  shape.family = options.law;
  if (options.law == "expr") {
    if (options.expr_file.empty()) {
      return InvalidArgumentError(
          "--law expr needs --expr FILE (the law in YAML)");
    }
    MOESWEEP_ASSIGN_OR_RETURN(shape.expr, ReadExprSpec(options.expr_file));
  } else if (!options.expr_file.empty()) {
    return InvalidArgumentError("--expr is only for --law expr");
  }
  return shape;
}

}  // namespace

void AddFitCommand(CLI::App* app, FitCommandOptions* options) {
  CLI::App* fit =
      app->add_subcommand("fit", "Fit a scaling law to a CSV table of runs");
  fit->add_option("--law", options->law,
                  "Law family: chinchilla, finegrained, joint, datablations, "
                  "comprehensive, or expr")
      ->capture_default_str();
  fit->add_option("--expr", options->expr_file,
                  "YAML of an expr law (with --law expr)");
  fit->add_option("--data", options->data,
                  "CSV with a header: the law's features (N/params, D/tokens, "
                  "...) and loss")
      ->required();
  fit->add_option(
      "--column", options->columns,
      "Map a feature to a CSV header, e.g. --column N=\"Model Size\"");
  fit->add_flag("--json", options->json, "Print one JSON object");
  fit->add_option("--out", options->out,
                  "Write the fitted law, with its covariance, here");
  fit->add_option("--huber-delta", options->huber_delta,
                  "Huber threshold on log-loss residuals")
      ->capture_default_str();
  fit->add_option("--threads", options->threads,
                  "Threads over starts (0: all cores)")
      ->capture_default_str();
}

int RunFitCommand(const FitCommandOptions& options, std::ostream& out,
                  std::ostream& err) {
  auto fail = [&](const Status& status) { return Fail("fit", status, err); };
  StatusOr<fitter::Law> shape = Shape(options);
  if (!shape.ok()) return fail(shape.status());
  StatusOr<std::vector<fitter::Feature>> features = fitter::LawFeatures(*shape);
  if (!features.ok()) return fail(features.status());
  ColumnMap columns;
  for (const std::string& spec : options.columns) {
    if (Status s = AddColumnMapping(spec, &columns); !s.ok()) return fail(s);
  }
  StatusOr<CsvTable> table = ReadCsv(options.data);
  if (!table.ok()) return fail(table.status());
  StatusOr<std::vector<fitter::Observation>> runs =
      ReadRuns(*table, columns, *features);
  if (!runs.ok()) return fail(runs.status());

  fitter::FitOptions fit_options;
  fit_options.huber_delta = options.huber_delta;
  fit_options.num_threads = options.threads;
  StatusOr<fitter::FitResult> fit =
      options.law == "expr" ? fitter::Fit(shape->expr, *runs, fit_options)
                            : fitter::Fit(options.law, *runs, fit_options);
  if (!fit.ok()) {
    return fail(
        Status(fit.status().code(),
               options.data + ": " + std::string(fit.status().message())));
  }
  StatusOr<std::vector<fitter::NamedValue>> params =
      fitter::NaturalParams(fit->law);
  if (!params.ok()) return fail(params.status());
  for (const std::string& w : fit->warnings)
    err << "moesweep fit: warning: " << w << "\n";

  LawFile file{fit->law,    options.huber_delta, fit->objective, fit->runs,
               fit->starts, fit->warnings,       std::nullopt};
  StatusOr<fitter::LawUncertainty> uncertainty =
      fitter::EstimateCovariance(fit->law, *runs, options.huber_delta);
  if (uncertainty.ok()) {
    file.uncertainty = *uncertainty;
  } else {
    err << "moesweep fit: warning: no covariance: "
        << uncertainty.status().message() << "\n";
  }
  if (!options.out.empty()) {
    StatusOr<std::string> text = LawFileJson(file);
    if (!text.ok()) return fail(text.status());
    if (Status s = WriteFileAtomically(options.out, *text); !s.ok())
      return fail(s);
  }

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
      << std::defaultfloat << std::setprecision(6) << "parameters"
      << (file.uncertainty ? "  (standard error of the fitted coordinate)" : "")
      << "\n";
  StatusOr<std::vector<std::string>> names = fitter::ThetaNames(fit->law);
  const std::size_t p = params->size();
  for (std::size_t i = 0; i < p; ++i) {
    out << "  " << std::left << std::setw(8) << (*params)[i].name << std::right
        << std::setw(14) << (*params)[i].value;
    if (file.uncertainty && names.ok()) {
      out << "   " << (*names)[i] << " ± "
          << std::sqrt(file.uncertainty->covariance[i * p + i]);
    }
    out << "\n";
  }
  if (!options.out.empty()) out << "law written to " << options.out << "\n";
  return 0;
}

}  // namespace moesweep::cli
