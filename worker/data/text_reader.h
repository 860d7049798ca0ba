// Reads one input file in chunks, plain or gzip alike (zlib passes plain
// files through), so a file of any size costs one buffer. Internal to
// worker/.

#ifndef MOESWEEP_WORKER_DATA_TEXT_READER_H_
#define MOESWEEP_WORKER_DATA_TEXT_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace moesweep::worker {

// Not thread-safe.
class TextReader {
 public:
  // NOT_FOUND when `path` cannot be opened.
  static StatusOr<std::unique_ptr<TextReader>> Open(const std::string& path);
  ~TextReader();
  TextReader(const TextReader&) = delete;
  TextReader& operator=(const TextReader&) = delete;

  // The next chunk of text (at most kChunkBytes), empty at the end of the
  // file; it stays valid until the next call. INVALID_ARGUMENT naming the
  // file for corrupt or truncated gzip or a NUL byte (not text); UNAVAILABLE
  // for a read error.
  StatusOr<std::string_view> Next();
  // Text bytes returned so far.
  int64_t bytes() const { return bytes_; }

  static constexpr size_t kChunkBytes = 64 * 1024;

 private:
  TextReader(std::string path, void* file);

  const std::string path_;
  void* const file_;  // a zlib gzFile, kept out of this header
  std::unique_ptr<char[]> buffer_;
  int64_t bytes_ = 0;
};

}  // namespace moesweep::worker

#endif  // MOESWEEP_WORKER_DATA_TEXT_READER_H_
