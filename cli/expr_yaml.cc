#include "cli/expr_yaml.h"

#include <yaml-cpp/yaml.h>

#include <fstream>

#include "campaign/campaign.h"

namespace moesweep::cli {
namespace {

StatusOr<double> Number(const YAML::Node& node, const std::string& where) {
  if (!node || !node.IsScalar())
    return InvalidArgumentError(where + ": expected a number");
  try {
    return node.as<double>();
  } catch (const YAML::Exception&) {
    return InvalidArgumentError(where + ": expected a number, got '" +
                                node.Scalar() + "'");
  }
}

}  // namespace

StatusOr<fitter::ExprSpec> ReadExprSpec(const std::string& path) {
  if (!std::ifstream(path)) return NotFoundError(path + ": cannot open file");
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(path + ": not YAML: " + e.what());
  }
  fitter::ExprSpec spec;
  if (!root.IsMap() || !root["expression"] || !root["expression"].IsScalar()) {
    return InvalidArgumentError(path + ": expression: required, a string");
  }
  spec.expression = root["expression"].Scalar();
  const YAML::Node params = root["params"];
  if (!params || !params.IsMap() || params.size() == 0) {
    return InvalidArgumentError(
        path + ": params: required, a map of name -> {lower, upper, starts}");
  }
  for (const auto& entry : params) {
    fitter::ExprParam param;
    param.name = entry.first.Scalar();
    const std::string where = path + ": params." + param.name;
    const YAML::Node& p = entry.second;
    if (!p.IsMap())
      return InvalidArgumentError(where + ": expected {lower, upper, starts}");
    MOESWEEP_ASSIGN_OR_RETURN(param.lower,
                              Number(p["lower"], where + ".lower"));
    MOESWEEP_ASSIGN_OR_RETURN(param.upper,
                              Number(p["upper"], where + ".upper"));
    const YAML::Node starts = p["starts"];
    if (!starts || !starts.IsSequence() || starts.size() == 0) {
      return InvalidArgumentError(
          where + ".starts: required, a non-empty list of numbers");
    }
    for (std::size_t i = 0; i < starts.size(); ++i) {
      MOESWEEP_ASSIGN_OR_RETURN(
          double v,
          Number(starts[i], where + ".starts[" + std::to_string(i) + "]"));
      param.starts.push_back(v);
    }
    spec.params.push_back(param);
  }
  // The fit tries every combination of starts: bound it before any fit, as
  // a campaign spec is (campaign.h).
  double combinations = 1;
  for (const fitter::ExprParam& p : spec.params)
    combinations *= p.starts.size();
  if (combinations > campaign::kMaxExprStarts) {
    return InvalidArgumentError(
        path +
        ": params: the product of the starts lists' lengths (the fit's "
        "starting points) must be <= 10000, got " +
        std::to_string(static_cast<long long>(combinations)));
  }
  return spec;
}

}  // namespace moesweep::cli
