// Writing a file so that readers see the old contents or the new, never half of
// the new.

#ifndef MOESWEEP_CLI_ATOMIC_FILE_H_
#define MOESWEEP_CLI_ATOMIC_FILE_H_

#include <string>

#include "common/status.h"

namespace moesweep::cli {

// Writes `contents` to a temporary file beside `path`, syncs it, and renames it
// over `path`. On error `path` is untouched and the temporary file is removed;
// the message names the path.
Status WriteFileAtomically(const std::string& path,
                           const std::string& contents);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_ATOMIC_FILE_H_
