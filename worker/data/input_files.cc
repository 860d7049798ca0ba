#include "worker/data/input_files.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>

namespace moesweep::worker {

namespace {

namespace fs = std::filesystem;

StatusOr<InputFile> Stat(const fs::path& path, DocumentFormat format,
                         size_t source) {
  std::error_code ec;
  int64_t size = int64_t(fs::file_size(path, ec));
  if (ec) return UnavailableError(path.string() + ": " + ec.message());
  fs::file_time_type mtime = fs::last_write_time(path, ec);
  if (ec) return UnavailableError(path.string() + ": " + ec.message());
  int64_t mtime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         mtime.time_since_epoch())
                         .count();
  return InputFile{path.string(), format, source, size, mtime_ns};
}

// Appends the regular files below `folder`, sorted, stopping past `limit`.
Status ListFolder(const fs::path& folder, DocumentFormat format, size_t source,
                  size_t limit, std::vector<InputFile>* files) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_regular_file(ec)) found.push_back(it->path());
    if (files->size() + found.size() > limit) {
      return InvalidArgumentError(folder.string() +
                                  ": the inputs hold more than max_files=" +
                                  std::to_string(limit) + " files");
    }
  }
  if (ec) return UnavailableError(folder.string() + ": " + ec.message());
  if (found.empty()) {
    return InvalidArgumentError(folder.string() + ": folder holds no files");
  }
  std::sort(found.begin(), found.end());
  for (const fs::path& path : found) {
    MOESWEEP_ASSIGN_OR_RETURN(InputFile file, Stat(path, format, source));
    files->push_back(std::move(file));
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::vector<InputFile>> ListInputFiles(const PrepareOptions& options) {
  std::vector<InputFile> files;
  const size_t limit = size_t(std::max(options.max_files, 0));
  for (size_t i = 0; i < options.inputs.size(); ++i) {
    const TextSource& source = options.inputs[i];
    fs::path path = fs::absolute(source.path).lexically_normal();
    std::error_code ec;
    fs::file_status status = fs::status(path, ec);
    if (!fs::exists(status)) {
      return NotFoundError(source.path + ": no such file or folder");
    }
    if (fs::is_directory(status)) {
      MOESWEEP_RETURN_IF_ERROR(
          ListFolder(path, source.format, i, limit, &files));
    } else if (fs::is_regular_file(status)) {
      if (files.size() + 1 > limit) {
        return InvalidArgumentError(source.path +
                                    ": the inputs hold more than max_files=" +
                                    std::to_string(limit) + " files");
      }
      MOESWEEP_ASSIGN_OR_RETURN(InputFile file, Stat(path, source.format, i));
      files.push_back(std::move(file));
    } else {
      return InvalidArgumentError(source.path +
                                  ": neither a regular file nor a folder");
    }
  }
  int64_t total_bytes = 0;
  for (const InputFile& file : files) {
    total_bytes += file.size_bytes;
    if (total_bytes > options.max_bytes) {
      return InvalidArgumentError(
          file.path + ": the inputs up to here hold " +
          std::to_string(total_bytes) +
          " bytes, more than max_bytes=" + std::to_string(options.max_bytes));
    }
  }
  return files;
}

}  // namespace moesweep::worker
