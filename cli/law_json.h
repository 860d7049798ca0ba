// JSON forms of a fitted law: the `fit --json` summary and the law file (`--out
// law.json`).
//
// Law file, format_version 1:
//   {"format_version": 1, "law": "<family>", "params": {"<natural name>":
//   value, ...},
//    "theta": {"<coordinate>": value, ...}, "huber_delta": δ, "objective":
//    value, "runs": count, "starts": count, "warnings": ["...", ...]}
// "theta" is authoritative; "params" is the same law in natural units, for
// people.

#ifndef MOESWEEP_CLI_LAW_JSON_H_
#define MOESWEEP_CLI_LAW_JSON_H_

#include <span>
#include <string>

#include "common/status.h"
#include "fitter/fitter.h"

namespace moesweep::cli {

// {"law":..,"params":{..},"objective":..,"runs":..,"seconds":..} on one line.
std::string FitSummaryJson(const fitter::FitResult& fit,
                           std::span<const fitter::NamedValue> params);

// The law file's text (pretty-printed, ending in a newline).
StatusOr<std::string> LawFileJson(const fitter::FitResult& fit,
                                  double huber_delta);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_LAW_JSON_H_
