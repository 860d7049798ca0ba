// One `--at name=value` of predict: split and parsed, shared by the law-file
// and the coordinator paths, which differ in the names they accept.

#ifndef MOESWEEP_CLI_FEATURE_VALUE_H_
#define MOESWEEP_CLI_FEATURE_VALUE_H_

#include <string>

#include "common/status.h"

namespace moesweep::cli {

struct FeatureValue {
  std::string name;
  double value = 0;
};

// INVALID_ARGUMENT, quoting the item, when it lacks '=' or its value is not
// a whole number in C's strtod syntax.
StatusOr<FeatureValue> ParseFeatureValue(const std::string& item);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_FEATURE_VALUE_H_
