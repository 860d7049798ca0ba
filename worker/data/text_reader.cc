#include "worker/data/text_reader.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace moesweep::worker {

StatusOr<std::unique_ptr<TextReader>> TextReader::Open(
    const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return NotFoundError(path + ": cannot open");
  gzbuffer(file, 128 * 1024);
  return std::unique_ptr<TextReader>(new TextReader(path, file));
}

TextReader::TextReader(std::string path, void* file)
    : path_(std::move(path)), file_(file), buffer_(new char[kChunkBytes]) {}

TextReader::~TextReader() { gzclose(static_cast<gzFile>(file_)); }

StatusOr<std::string_view> TextReader::Next() {
  gzFile file = static_cast<gzFile>(file_);
  int n = gzread(file, buffer_.get(), unsigned(kChunkBytes));
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  if (n < 0 || (code != Z_OK && code != Z_STREAM_END)) {
    if (code == Z_ERRNO) {
      return UnavailableError(path_ + ": cannot read: " + std::strerror(errno));
    }
    return InvalidArgumentError(path_ +
                                ": corrupt or truncated gzip: " + message);
  }
  std::string_view chunk(buffer_.get(), size_t(n));
  size_t nul = chunk.find('\0');
  if (nul != std::string_view::npos) {
    return InvalidArgumentError(path_ + ": byte " +
                                std::to_string(bytes_ + int64_t(nul)) +
                                " is NUL: not a text file");
  }
  bytes_ += n;
  return chunk;
}

}  // namespace moesweep::worker
