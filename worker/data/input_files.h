// The files PrepareData reads: folders listed, every file checked and
// bounded before any work starts. Internal to worker/.

#ifndef MOESWEEP_WORKER_DATA_INPUT_FILES_H_
#define MOESWEEP_WORKER_DATA_INPUT_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "worker/worker.h"

namespace moesweep::worker {

struct InputFile {
  std::string path;  // absolute, normalized
  DocumentFormat format = DocumentFormat::kText;
  size_t source = 0;       // index of its TextSource in PrepareOptions.inputs
  int64_t size_bytes = 0;  // on disk (compressed, for gzip)
  int64_t mtime_ns = 0;    // last modification, nanoseconds of the file clock
};

// options.inputs in order, each folder replaced by the regular files below
// it in path order. NOT_FOUND for a missing input; INVALID_ARGUMENT for an
// input that is neither a file nor a folder, a folder with no files, more
// than options.max_files files, or more than options.max_bytes on disk, each
// naming the path.
StatusOr<std::vector<InputFile>> ListInputFiles(const PrepareOptions& options);

}  // namespace moesweep::worker

#endif  // MOESWEEP_WORKER_DATA_INPUT_FILES_H_
