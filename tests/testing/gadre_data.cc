#include "tests/testing/gadre_data.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace moesweep::testing {

std::string GadreDir() {
  return std::string(MOESWEEP_SHARED_DATA_DIR) + "/gadre-overtraining";
}

StatusOr<std::vector<GadreRun>> LoadGadreRuns(const std::string& dataset,
                                              const std::string& val_set) {
  const std::filesystem::path dir =
      std::filesystem::path(GadreDir()) / "models";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return NotFoundError(
        dir.string() + " is absent (the shared data sits beside the project)");
  }
  std::vector<GadreRun> runs;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    nlohmann::json j;
    try {
      std::ifstream in(entry.path());
      j = nlohmann::json::parse(in);
      if (j.at("dataset_name").get<std::string>() != dataset) continue;
      const auto& h = j.at("hyperparameters");
      GadreRun run{
          j.at("name").get<std::string>(), h.at("model").get<std::string>(),
          h.at("params").get<double>(), h.at("tokens").get<double>(), 0};
      for (const auto& result : j.at("results")) {
        const std::filesystem::path val(
            result.at("val_data").at(0).get<std::string>());
        if (val.parent_path().filename() == val_set)
          run.loss = result.at("loss").get<double>();
      }
      if (run.loss <= 0) {
        return DataLossError(entry.path().string() + ": no loss on " + val_set);
      }
      runs.push_back(run);
    } catch (const nlohmann::json::exception& e) {
      return DataLossError(entry.path().string() + ": " + e.what());
    }
  }
  std::sort(runs.begin(), runs.end(), [](const GadreRun& a, const GadreRun& b) {
    return a.name < b.name;
  });
  return runs;
}

}  // namespace moesweep::testing
