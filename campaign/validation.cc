// The `validate:` section of a campaign spec (campaign.h, ValidationSpec):
//
//   validate: {runs: 2, flops_multiple: 4, shape: observed}
//
// All optional: 1, 4 and `observed` (tokens per active parameter within the
// fitted runs' range; `any`: any architecture at any token count).
//
// Bounded so that a spec cannot ask for an unbounded number of runs, or for
// runs past any compute it was sized for.

#include <yaml-cpp/yaml.h>

#include <cmath>

#include "campaign/campaign.h"
#include "campaign/campaign_internal.h"
#include "campaign/yaml_fields.h"

namespace moesweep::campaign {
namespace {

Status CheckRuns(std::int64_t runs) {
  if (runs < 1 || runs > kMaxValidationRuns) {
    return RuleError(
        "validate.runs",
        "must be in [1, " + std::to_string(kMaxValidationRuns) + "]",
        std::to_string(runs));
  }
  return OkStatus();
}

}  // namespace

StatusOr<ValidationSpec> ParseValidation(const YAML::Node& node,
                                         const std::string& path) {
  MOESWEEP_ASSIGN_OR_RETURN(
      MapFields f,
      MapFields::Open(node, path, {"runs", "flops_multiple", "shape"}));
  ValidationSpec v;
  std::int64_t runs = v.runs;
  MOESWEEP_RETURN_IF_ERROR(ReadIfPresent(f, "runs", ReadInteger, &runs));
  // Checked before narrowing to int, so a huge count is refused, not wrapped.
  MOESWEEP_RETURN_IF_ERROR(CheckRuns(runs));
  v.runs = static_cast<int>(runs);
  MOESWEEP_RETURN_IF_ERROR(
      ReadIfPresent(f, "flops_multiple", ReadNumber, &v.flops_multiple));
  std::string shape = "observed";
  MOESWEEP_RETURN_IF_ERROR(ReadIfPresent(f, "shape", ReadString, &shape));
  if (shape == "observed") {
    v.shape = ValidationShape::kObserved;
  } else if (shape == "any") {
    v.shape = ValidationShape::kAny;
  } else {
    return RuleError(f.PathOf("shape"), "must be observed or any", shape);
  }
  return v;
}

Status ValidateValidation(const ValidationSpec& v) {
  MOESWEEP_RETURN_IF_ERROR(CheckRuns(v.runs));
  if (!(v.flops_multiple >= 1 &&
        v.flops_multiple <= kMaxValidationFlopsMultiple)) {
    return RuleError(
        "validate.flops_multiple",
        "must be in [1, " + FormatNumber(kMaxValidationFlopsMultiple) + "]",
        v.flops_multiple);
  }
  return OkStatus();
}

void EmitValidation(YAML::Emitter& out, const ValidationSpec& v) {
  out << YAML::Key << "validate" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "runs" << YAML::Value << v.runs;
  out << YAML::Key << "flops_multiple" << YAML::Value
      << FormatNumber(v.flops_multiple);
  if (v.shape != ValidationShape::kObserved) {
    out << YAML::Key << "shape" << YAML::Value << "any";
  }
  out << YAML::EndMap;
}

}  // namespace moesweep::campaign
