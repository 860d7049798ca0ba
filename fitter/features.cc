// Feature names and generic access to an Observation's features.

#include <cassert>
#include <string>

#include "fitter/fitter.h"

namespace moesweep::fitter {
namespace {

constexpr std::string_view kNames[kNumFeatures] = {
    "params", "active_params", "n_total_ne",     "n_active_ne",
    "tokens", "unique_tokens", "granularity",    "num_experts",
    "top_k",  "num_shared",    "active_experts", "shared_ratio"};

double* Field(Observation& o, Feature f) {
  switch (f) {
    case Feature::kParams:
      return &o.params;
    case Feature::kActiveParams:
      return &o.active_params;
    case Feature::kTotalNonEmbed:
      return &o.n_total_ne;
    case Feature::kActiveNonEmbed:
      return &o.n_active_ne;
    case Feature::kTokens:
      return &o.tokens;
    case Feature::kUniqueTokens:
      return &o.unique_tokens;
    case Feature::kGranularity:
      return &o.granularity;
    case Feature::kNumExperts:
      return &o.num_experts;
    case Feature::kTopK:
      return &o.top_k;
    case Feature::kNumShared:
      return &o.num_shared;
    case Feature::kActiveExperts:
      return &o.active_experts;
    case Feature::kSharedRatio:
      return &o.shared_ratio;
    case Feature::kCount:
      break;
  }
  assert(false && "not a feature");
  return nullptr;
}

}  // namespace

std::string_view FeatureName(Feature feature) {
  const int i = static_cast<int>(feature);
  return i >= 0 && i < kNumFeatures ? kNames[i] : "unknown";
}

StatusOr<Feature> FeatureFromName(std::string_view name) {
  std::string known;
  for (int i = 0; i < kNumFeatures; ++i) {
    if (kNames[i] == name) return static_cast<Feature>(i);
    known += (i ? ", " : "") + std::string(kNames[i]);
  }
  return NotFoundError("unknown feature '" + std::string(name) +
                       "' (known: " + known + ")");
}

double Observation::Get(Feature feature) const {
  return *Field(const_cast<Observation&>(*this), feature);
}

void Observation::Set(Feature feature, double value) {
  *Field(*this, feature) = value;
}

}  // namespace moesweep::fitter
