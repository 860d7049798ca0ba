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
// refuses any other version rather than guessing.

#include <cstring>
#include <fstream>

#include "worker/worker.h"

namespace moesweep::worker {

namespace {

constexpr char kMagic[8] = {'M', 'O', 'E', 'S', 'H', 'A', 'R', 'D'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 24;

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

}  // namespace

std::vector<uint16_t> ByteTokenize(std::string_view text) {
  std::vector<uint16_t> tokens(text.size());
  for (size_t i = 0; i < text.size(); ++i) tokens[i] = uint8_t(text[i]);
  return tokens;
}

Status WriteTokenShard(const std::string& path, const TokenShard& shard) {
  if (shard.vocab_size < 1 || shard.vocab_size > 65536) {
    return InvalidArgumentError("vocab_size must be in [1, 65536], got " +
                                std::to_string(shard.vocab_size));
  }
  std::string bytes(kHeaderBytes + 2 * shard.tokens.size(), '\0');
  std::memcpy(bytes.data(), kMagic, 8);
  PutLittleEndian<uint32_t>(&bytes[8], kVersion);
  PutLittleEndian<uint32_t>(&bytes[12], uint32_t(shard.vocab_size));
  PutLittleEndian<uint64_t>(&bytes[16], uint64_t(shard.tokens.size()));
  for (size_t i = 0; i < shard.tokens.size(); ++i) {
    if (shard.tokens[i] >= shard.vocab_size) {
      return InvalidArgumentError("token " + std::to_string(shard.tokens[i]) +
                                  " at " + std::to_string(i) +
                                  " is outside the vocabulary");
    }
    PutLittleEndian<uint16_t>(&bytes[kHeaderBytes + 2 * i], shard.tokens[i]);
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  out.close();
  if (!out) return UnavailableError(path + ": cannot write");
  return OkStatus();
}

StatusOr<TokenShard> ReadTokenShard(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": no such token shard");
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < kHeaderBytes || std::memcmp(data, kMagic, 8) != 0) {
    return DataLossError(path + ": not a token shard (bad magic)");
  }
  uint32_t version = GetLittleEndian<uint32_t>(data + 8);
  if (version != kVersion) {
    return DataLossError(path + ": token shard version " +
                         std::to_string(version) + ", this build reads 1");
  }
  TokenShard shard;
  uint32_t vocab = GetLittleEndian<uint32_t>(data + 12);
  uint64_t count = GetLittleEndian<uint64_t>(data + 16);
  if (vocab < 1 || vocab > 65536) {
    return DataLossError(path + ": vocab_size " + std::to_string(vocab));
  }
  if ((bytes.size() - kHeaderBytes) / 2 != count ||
      (bytes.size() - kHeaderBytes) % 2 != 0) {
    return DataLossError(path + ": header says " + std::to_string(count) +
                         " tokens, file holds " +
                         std::to_string(bytes.size() - kHeaderBytes) +
                         " bytes of tokens");
  }
  shard.vocab_size = int(vocab);
  shard.tokens.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    shard.tokens[i] = GetLittleEndian<uint16_t>(data + kHeaderBytes + 2 * i);
    if (shard.tokens[i] >= vocab) {
      return DataLossError(path + ": token " + std::to_string(shard.tokens[i]) +
                           " at " + std::to_string(i) +
                           " is outside the vocabulary");
    }
  }
  return shard;
}

}  // namespace moesweep::worker
