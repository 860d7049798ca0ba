// One mapping from a Status to a command's exit code and message.

#ifndef MOESWEEP_CLI_EXIT_CODE_H_
#define MOESWEEP_CLI_EXIT_CODE_H_

#include <ostream>
#include <string_view>

#include "common/status.h"

namespace moesweep::cli {

// Prints "moesweep <command>: <message>" to `err`; returns 2 for bad input
// (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS,
// OUT_OF_RANGE), 1 otherwise. Commands that talk to a coordinator add 3 and
// 4 (ClientFail, cli/client.h).
inline int Fail(std::string_view command, const Status& status,
                std::ostream& err) {
  err << "moesweep " << command << ": " << status.message() << "\n";
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAlreadyExists:
    case StatusCode::kOutOfRange:
      return 2;
    default:
      return 1;
  }
}

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_EXIT_CODE_H_
