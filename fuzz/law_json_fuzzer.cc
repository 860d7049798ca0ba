// Fuzzes cli::ReadLawFile, the law file (`fit --out`) that `predict` and
// `optimal` read back: JSON, then every key's type, shape and family.

#include <cstddef>
#include <cstdint>

#include "cli/law_json.h"
#include "fuzz/mem_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)moesweep::cli::ReadLawFile(moesweep::fuzz::MemFile(data, size));
  return 0;
}
