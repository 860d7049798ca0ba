#include "cli/feature_value.h"

#include <cstdlib>

namespace moesweep::cli {

StatusOr<FeatureValue> ParseFeatureValue(const std::string& item) {
  const size_t eq = item.find('=');
  if (eq == std::string::npos) {
    return InvalidArgumentError("--at expects feature=value, got '" + item +
                                "'");
  }
  FeatureValue fv{item.substr(0, eq), 0};
  const std::string text = item.substr(eq + 1);
  char* end = nullptr;
  fv.value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') {
    return InvalidArgumentError("--at " + fv.name + ": not a number: '" + text +
                                "'");
  }
  return fv;
}

}  // namespace moesweep::cli
