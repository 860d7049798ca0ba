// Token shards on disk. Format, version 1 (all integers little-endian):
//
//   shard  := header token*
//   header := magic[8] = "MOESHARD"
//             version    uint32  = 1
//             vocab_size uint32  (every token < vocab_size <= 65536)
//             count      uint64  (number of tokens that follow)
//   token  := uint16
//
// The header is 24 bytes; a file is exactly 24 + 2 * count bytes. A reader
// refuses any other version rather than guessing. ShardWriter writes the
// header with count 0 first and patches it in Finish.

#include <cstring>
#include <fstream>

#include "worker/data/shard_writer.h"
#include "worker/worker.h"

namespace moesweep::worker {

namespace {

constexpr char kMagic[8] = {'M', 'O', 'E', 'S', 'H', 'A', 'R', 'D'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 24;
constexpr size_t kBufferBytes = 64 * 1024;

template <typename T>
void PutLittleEndian(char* out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i)
    out[i] = char((value >> (8 * i)) & 0xff);
}

template <typename T>
T GetLittleEndian(const unsigned char* in) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= T(in[i]) << (8 * i);
  return value;
}

std::string Header(int vocab_size, uint64_t count) {
  std::string header(kHeaderBytes, '\0');
  std::memcpy(header.data(), kMagic, 8);
  PutLittleEndian<uint32_t>(&header[8], kVersion);
  PutLittleEndian<uint32_t>(&header[12], uint32_t(vocab_size));
  PutLittleEndian<uint64_t>(&header[16], count);
  return header;
}

}  // namespace

std::vector<uint16_t> ByteTokenize(std::string_view text) {
  std::vector<uint16_t> tokens(text.size());
  for (size_t i = 0; i < text.size(); ++i) tokens[i] = uint8_t(text[i]);
  return tokens;
}

ShardWriter::ShardWriter(std::string path, int vocab_size)
    : path_(std::move(path)), vocab_size_(vocab_size) {
  buffer_.reserve(kBufferBytes);
}

StatusOr<std::unique_ptr<ShardWriter>> ShardWriter::Create(std::string path,
                                                           int vocab_size) {
  if (vocab_size < 1 || vocab_size > 65536) {
    return InvalidArgumentError("vocab_size must be in [1, 65536], got " +
                                std::to_string(vocab_size));
  }
  std::unique_ptr<ShardWriter> writer(
      new ShardWriter(std::move(path), vocab_size));
  writer->out_.open(writer->path_, std::ios::binary | std::ios::trunc);
  std::string header = Header(vocab_size, 0);
  writer->out_.write(header.data(), std::streamsize(header.size()));
  if (!writer->out_) return UnavailableError(writer->path_ + ": cannot write");
  return writer;
}

Status ShardWriter::Append(uint16_t token) {
  if (token >= vocab_size_) {
    return InvalidArgumentError("token " + std::to_string(token) + " at " +
                                std::to_string(tokens_) +
                                " is outside the vocabulary");
  }
  char bytes[2];
  PutLittleEndian<uint16_t>(bytes, token);
  buffer_.append(bytes, 2);
  ++tokens_;
  if (buffer_.size() >= kBufferBytes) return Flush();
  return OkStatus();
}

Status ShardWriter::AppendBytes(std::string_view text) {
  if (vocab_size_ < 256) {
    for (char c : text) MOESWEEP_RETURN_IF_ERROR(Append(uint8_t(c)));
    return OkStatus();
  }
  for (char c : text) {
    buffer_.push_back(c);  // little-endian: the byte, then a zero
    buffer_.push_back('\0');
  }
  tokens_ += int64_t(text.size());
  if (buffer_.size() >= kBufferBytes) return Flush();
  return OkStatus();
}

Status ShardWriter::Flush() {
  out_.write(buffer_.data(), std::streamsize(buffer_.size()));
  buffer_.clear();
  if (!out_) return UnavailableError(path_ + ": cannot write");
  return OkStatus();
}

Status ShardWriter::Finish() {
  MOESWEEP_RETURN_IF_ERROR(Flush());
  std::string header = Header(vocab_size_, uint64_t(tokens_));
  out_.seekp(0);
  out_.write(header.data(), std::streamsize(header.size()));
  out_.close();
  if (!out_) return UnavailableError(path_ + ": cannot write");
  return OkStatus();
}

Status WriteTokenShard(const std::string& path, const TokenShard& shard) {
  MOESWEEP_ASSIGN_OR_RETURN(std::unique_ptr<ShardWriter> writer,
                            ShardWriter::Create(path, shard.vocab_size));
  for (uint16_t token : shard.tokens) {
    MOESWEEP_RETURN_IF_ERROR(writer->Append(token));
  }
  return writer->Finish();
}

StatusOr<TokenShard> ReadTokenShard(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return NotFoundError(path + ": no such token shard");
  const uint64_t file_bytes = uint64_t(in.tellg());
  in.seekg(0);
  unsigned char header[kHeaderBytes];
  if (!in.read(reinterpret_cast<char*>(header), kHeaderBytes) ||
      std::memcmp(header, kMagic, 8) != 0) {
    return DataLossError(path + ": not a token shard (bad magic)");
  }
  uint32_t version = GetLittleEndian<uint32_t>(header + 8);
  if (version != kVersion) {
    return DataLossError(path + ": token shard version " +
                         std::to_string(version) + ", this build reads 1");
  }
  uint32_t vocab = GetLittleEndian<uint32_t>(header + 12);
  uint64_t count = GetLittleEndian<uint64_t>(header + 16);
  if (vocab < 1 || vocab > 65536) {
    return DataLossError(path + ": vocab_size " + std::to_string(vocab));
  }
  const uint64_t token_bytes = file_bytes - kHeaderBytes;
  if (token_bytes / 2 != count || token_bytes % 2 != 0) {
    return DataLossError(path + ": header says " + std::to_string(count) +
                         " tokens, file holds " + std::to_string(token_bytes) +
                         " bytes of tokens");
  }
  TokenShard shard;
  shard.vocab_size = int(vocab);
  shard.tokens.resize(count);
  // Read straight into the tokens, then decode in place: no second copy.
  if (!in.read(reinterpret_cast<char*>(shard.tokens.data()),
               std::streamsize(token_bytes))) {
    return UnavailableError(path + ": cannot read");
  }
  for (uint64_t i = 0; i < count; ++i) {
    const auto* bytes =
        reinterpret_cast<const unsigned char*>(&shard.tokens[i]);
    shard.tokens[i] = GetLittleEndian<uint16_t>(bytes);
    if (shard.tokens[i] >= vocab) {
      return DataLossError(path + ": token " + std::to_string(shard.tokens[i]) +
                           " at " + std::to_string(i) +
                           " is outside the vocabulary");
    }
  }
  return shard;
}

}  // namespace moesweep::worker
