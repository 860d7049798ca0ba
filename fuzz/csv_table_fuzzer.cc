// Fuzzes cli::ReadCsv, the tables of runs `fit` reads, and cli::ReadRuns on
// what it splits, asking for every feature so every column is converted.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cli/csv_table.h"
#include "fuzz/mem_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moesweep;
  auto table = cli::ReadCsv(fuzz::MemFile(data, size));
  if (!table.ok()) return 0;
  static const std::vector<fitter::Feature> kFeatures = [] {
    std::vector<fitter::Feature> all;
    for (int i = 0; i < fitter::kNumFeatures; ++i) {
      all.push_back(fitter::Feature(i));
    }
    return all;
  }();
  (void)cli::ReadRuns(*table, {}, {kFeatures.data(), 1});
  (void)cli::ReadRuns(*table, {}, kFeatures);
  return 0;
}
