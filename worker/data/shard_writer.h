// Writes a token shard (format: worker/data/token_shard.cc) as tokens
// arrive: the header's count is patched when the shard is finished, so the
// tokens never sit in memory. Internal to worker/.

#ifndef MOESWEEP_WORKER_DATA_SHARD_WRITER_H_
#define MOESWEEP_WORKER_DATA_SHARD_WRITER_H_

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace moesweep::worker {

// Not thread-safe.
class ShardWriter {
 public:
  // Creates (replaces) `path`. INVALID_ARGUMENT for a vocabulary outside
  // [1, 65536]; UNAVAILABLE when the file cannot be created.
  static StatusOr<std::unique_ptr<ShardWriter>> Create(std::string path,
                                                       int vocab_size);
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // INVALID_ARGUMENT for a token outside the vocabulary; UNAVAILABLE when
  // the file cannot be written.
  Status Append(uint16_t token);
  // One token per byte (the byte-level tokenizer).
  Status AppendBytes(std::string_view text);
  // Writes what is buffered, patches the count and closes the file.
  // UNAVAILABLE when that fails. REQUIRES: called once, last.
  Status Finish();
  int64_t tokens() const { return tokens_; }

 private:
  ShardWriter(std::string path, int vocab_size);
  Status Flush();

  const std::string path_;
  const int vocab_size_;
  std::ofstream out_;
  std::string buffer_;  // encoded tokens not yet written
  int64_t tokens_ = 0;
};

}  // namespace moesweep::worker

#endif  // MOESWEEP_WORKER_DATA_SHARD_WRITER_H_
