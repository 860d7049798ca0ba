// Training batches: B windows of T + 1 tokens at seeded random offsets of the
// training shard. Internal to worker/.

#ifndef MOESWEEP_WORKER_DATA_BATCH_LOADER_H_
#define MOESWEEP_WORKER_DATA_BATCH_LOADER_H_

#include <cstdint>
#include <random>
#include <string>

#include "worker/worker.h"

namespace moesweep::worker {

// Not thread-safe.
class BatchLoader {
 public:
  // REQUIRES: shard.tokens.size() > T.
  BatchLoader(TokenShard shard, int B, int T, uint64_t seed);
  // tokens[B*T] and targets[B*T] (the next token of each).
  void Next(int32_t* tokens, int32_t* targets);
  // The position in the data order (the generator's state as text), and
  // setting it back. CheckState: DATA_LOSS unless `state` is such a text;
  // SetState changes nothing then.
  std::string State() const;
  static Status CheckState(const std::string& state);
  Status SetState(const std::string& state);

 private:
  TokenShard shard_;
  int B_, T_;
  std::mt19937_64 rng_;
};

// Fills tokens/targets with window `index` of length T from `shard` taken
// back to back from its start; returns false past the end.
bool HeldOutWindow(const TokenShard& shard, int64_t index, int T,
                   int32_t* tokens, int32_t* targets);

}  // namespace moesweep::worker

#endif  // MOESWEEP_WORKER_DATA_BATCH_LOADER_H_
