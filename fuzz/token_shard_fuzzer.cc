// Fuzzes worker::ReadTokenShard, the header and tokens of a shard file
// (format: worker/data/token_shard.cc) that a worker reads from data_dir.

#include <cstddef>
#include <cstdint>

#include "fuzz/mem_file.h"
#include "worker/worker.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)moesweep::worker::ReadTokenShard(moesweep::fuzz::MemFile(data, size));
  return 0;
}
