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
//    "at_bound": {"<coordinate>": "lower" | "upper", ...}, θ coordinates on
//                 a bound (fitter::ParametersAtBound); {} when none. Written
//                 for people and tools; a reader recomputes it from θ.
//    "expr": {"expression": "...", "params": [{"name": .., "lower": ..,
//             "upper": .., "starts": [..]}]}           (expr laws only)}

#ifndef MOESWEEP_CLI_LAW_JSON_H_
#define MOESWEEP_CLI_LAW_JSON_H_

#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "fitter/fitter.h"

namespace moesweep::cli {

// {"law":..,"params":{..},"objective":..,"runs":..,"seconds":..,
// "at_bound":{..}} on one line; at_bound as in the law file.
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

// Writes "moesweep <command>: warning: <fitter::AtBoundWarning>" to `err`
// for each coordinate of law.theta on a bound: commands that read a law file
// say when its intervals are not trustworthy.
void WarnAtBound(std::string_view command, const fitter::Law& law,
                 std::ostream& err);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_LAW_JSON_H_
