// The manifest PrepareData writes beside its shards, which lets a second run
// with the same inputs and options skip the work. Internal to worker/.

#ifndef MOESWEEP_WORKER_DATA_PREPARE_MANIFEST_H_
#define MOESWEEP_WORKER_DATA_PREPARE_MANIFEST_H_

#include <optional>
#include <string>
#include <vector>

#include "worker/data/input_files.h"
#include "worker/worker.h"

namespace moesweep::worker {

// What decides the shards' contents: the format version, the tokenizer,
// val_fraction and every input file (format, size, mtime, path).
std::string ManifestKey(const std::vector<InputFile>& files,
                        const PrepareOptions& options);
// `key` followed by the report's counts.
std::string ManifestText(const std::string& key, const PrepareReport& report);
// The report stored in out_dir/manifest when that file begins with `key`
// and the shards beside it have the sizes it records; nullopt otherwise
// (missing, stale or damaged: the caller redoes the work).
std::optional<PrepareReport> CachedReport(const std::string& out_dir,
                                          const std::string& key);

}  // namespace moesweep::worker

#endif  // MOESWEEP_WORKER_DATA_PREPARE_MANIFEST_H_
