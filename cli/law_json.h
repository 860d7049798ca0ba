// JSON forms of a fitted law: the `fit --json` summary and the law file
// (`fit --out law.json`, read by `predict` and `optimal`).
//
// Law file, format_version 1:
//   {"format_version": 1, "law": "<family>",
//    "params": {"<natural name>": value, ...},        for people
//    "theta": {"<coordinate>": value, ...},           authoritative
//    "covariance": [[...], ...],  (optional) of θ, row-major by θ's order
//    "residual_sigma": σ,         (with covariance) robust log-loss scale
//    "intervals": {"<natural name>": [lower, upper]}, (with covariance) 95%
//    "huber_delta": δ, "objective": value, "runs": count, "starts": count,
//    "warnings": ["...", ...],
//    "expr": {"expression": "...", "params": [{"name": .., "lower": ..,
//             "upper": .., "starts": [..]}]}           (expr laws only)}

#ifndef MOESWEEP_CLI_LAW_JSON_H_
#define MOESWEEP_CLI_LAW_JSON_H_

#include <optional>
#include <span>
#include <string>

#include "common/status.h"
#include "fitter/fitter.h"

namespace moesweep::cli {

// {"law":..,"params":{..},"objective":..,"runs":..,"seconds":..} on one line.
std::string FitSummaryJson(const fitter::FitResult& fit,
                           std::span<const fitter::NamedValue> params);

struct LawFile {
  fitter::Law law;
  double huber_delta = 1e-3;
  double objective = 0;
  int runs = 0;
  int starts = 0;
  std::vector<std::string> warnings;
  std::optional<fitter::LawUncertainty> uncertainty;
};

// The law file's text (pretty-printed, ending in a newline).
StatusOr<std::string> LawFileJson(const LawFile& file);

// Parses a law file. INVALID_ARGUMENT naming `path` and the key for text that
// is not JSON, a missing or mistyped key, an unknown family, a θ of the wrong
// size or a covariance of the wrong shape; NOT_FOUND when it cannot be read.
StatusOr<LawFile> ReadLawFile(const std::string& path);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_LAW_JSON_H_
