// Internal: what the campaign folder's own files share.

#ifndef MOESWEEP_CAMPAIGN_CAMPAIGN_INTERNAL_H_
#define MOESWEEP_CAMPAIGN_CAMPAIGN_INTERNAL_H_

#include <string>
#include <string_view>
#include <vector>

#include "campaign/campaign.h"
#include "common/status.h"

namespace YAML {
class Emitter;
class Node;
}  // namespace YAML

namespace moesweep::campaign {

// The shortest text that reads back as exactly `value` ("1e19", "0.001",
// "3"): used both in error messages and in the normalized YAML.
std::string FormatNumber(double value);

// INVALID_ARGUMENT "<path>: <rule>, got <got>".
Status RuleError(std::string_view path, std::string_view rule,
                 std::string_view got);
Status RuleError(std::string_view path, std::string_view rule, double got);

// The rules of spec.space alone and against the law, which reads
// `law_features`.
Status ValidateSpace(const CampaignSpec& spec,
                     const std::vector<fitter::Feature>& law_features);

// The `validate:` section (validation.cc): read from its YAML node at
// `path`, checked, and written back as the normalized YAML does.
StatusOr<ValidationSpec> ParseValidation(const YAML::Node& node,
                                         const std::string& path);
Status ValidateValidation(const ValidationSpec& validate);
void EmitValidation(YAML::Emitter& out, const ValidationSpec& validate);

// The rules of spec.training (training.cc), against the space's tokens.
Status ValidateTraining(const CampaignSpec& spec);

// The smallest and largest value an axis allows. REQUIRES: the axis passed
// ValidateSpace.
double AxisMin(const Axis& axis);
double AxisMax(const Axis& axis);

}  // namespace moesweep::campaign

#endif  // MOESWEEP_CAMPAIGN_CAMPAIGN_INTERNAL_H_
