// Fuzzes cli::ParseTrainConfig, the run.yaml of `moesweep train`: the YAML,
// every field's type and TrainOptions::Validate().

#include <cstddef>
#include <cstdint>
#include <string>

#include "cli/train_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  (void)moesweep::cli::ParseTrainConfig(yaml, "fuzz.yaml");
  return 0;
}
