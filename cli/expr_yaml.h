// Reading a user law (family "expr") from YAML:
//
//   expression: "E + A / params^alpha + B / tokens^beta"
//   params:
//     E:     {lower: 0.1, upper: 10, starts: [1, 2]}
//     A:     {lower: 1, upper: 1e6, starts: [100, 1000]}
//     ...

#ifndef MOESWEEP_CLI_EXPR_YAML_H_
#define MOESWEEP_CLI_EXPR_YAML_H_

#include <string>

#include "common/status.h"
#include "fitter/fitter.h"

namespace moesweep::cli {

// NOT_FOUND when `path` cannot be read; INVALID_ARGUMENT naming the file and
// the field path (params.A.starts[1]) for anything malformed.
StatusOr<fitter::ExprSpec> ReadExprSpec(const std::string& path);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_EXPR_YAML_H_
