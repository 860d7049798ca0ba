#include "worker/data/batch_loader.h"

#include <sstream>
#include <utility>

namespace moesweep::worker {

BatchLoader::BatchLoader(TokenShard shard, int B, int T, uint64_t seed)
    : shard_(std::move(shard)), B_(B), T_(T), rng_(seed) {}

void BatchLoader::Next(int32_t* tokens, int32_t* targets) {
  // Offsets from raw 64-bit draws modulo the range: the same on every
  // platform, unlike std::uniform_int_distribution.
  uint64_t range = shard_.tokens.size() - T_;
  for (int b = 0; b < B_; ++b) {
    uint64_t offset = rng_() % range;
    for (int t = 0; t < T_; ++t) {
      tokens[b * T_ + t] = shard_.tokens[offset + t];
      targets[b * T_ + t] = shard_.tokens[offset + t + 1];
    }
  }
}

std::string BatchLoader::State() const {
  std::ostringstream out;
  out << rng_;
  return out.str();
}

Status BatchLoader::CheckState(const std::string& state) {
  std::istringstream in(state);
  std::mt19937_64 rng;
  in >> rng;
  if (in.fail()) {
    return DataLossError("checkpoint: the data order's state does not parse");
  }
  return OkStatus();
}

Status BatchLoader::SetState(const std::string& state) {
  MOESWEEP_RETURN_IF_ERROR(CheckState(state));
  std::istringstream in(state);
  in >> rng_;
  return OkStatus();
}

bool HeldOutWindow(const TokenShard& shard, int64_t index, int T,
                   int32_t* tokens, int32_t* targets) {
  size_t offset = size_t(index) * T;
  if (offset + T + 1 > shard.tokens.size()) return false;
  for (int t = 0; t < T; ++t) {
    tokens[t] = shard.tokens[offset + t];
    targets[t] = shard.tokens[offset + t + 1];
  }
  return true;
}

}  // namespace moesweep::worker
