// Fuzzes campaign::ParseCampaignSpec, the YAML a coordinator takes from any
// admin (issue 13): the parser and every validation rule. A spec that parses
// must survive the round trip through its normalized YAML unchanged.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "campaign/campaign.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moesweep::campaign;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = ParseCampaignSpec(text);
  if (!spec.ok()) return 0;
  auto again = ParseCampaignSpec(CampaignSpecToYaml(*spec));
  if (!again.ok() || !(*again == *spec)) std::abort();
  (void)PlanCampaign(*spec);
  return 0;
}
