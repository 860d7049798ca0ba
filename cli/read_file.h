// Reading a whole small file given on the command line.

#ifndef MOESWEEP_CLI_READ_FILE_H_
#define MOESWEEP_CLI_READ_FILE_H_

#include <string>

#include "common/status.h"

namespace moesweep::cli {

// The file's bytes; NOT_FOUND naming `path` when it cannot be read.
StatusOr<std::string> ReadTextFile(const std::string& path);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_READ_FILE_H_
