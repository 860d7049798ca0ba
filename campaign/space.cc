// The rules of the design space (spec.space), alone and against the law.

#include <algorithm>
#include <cmath>

#include "campaign/campaign.h"
#include "campaign/campaign_internal.h"

namespace moesweep::campaign {
namespace {

struct AxisRule {
  std::string_view name;  // "experts"
  double lowest = 1;      // smallest allowed value
  bool integer = true;
  // Largest allowed value: far above any model this system trains, yet small
  // enough that every count fits its wire type and a run's work is bounded.
  double highest = 1e15;
};

std::string DescribeAxis(const Axis& axis) {
  std::string text;
  if (axis.is_list()) {
    for (double v : axis.values)
      text += (text.empty() ? "[" : ", ") + FormatNumber(v);
    return text + "]";
  }
  return "{min: " + FormatNumber(axis.min) +
         ", max: " + FormatNumber(axis.max) + (axis.log ? ", log: true" : "") +
         (axis.step != 0 ? ", step: " + FormatNumber(axis.step) : "") + "}";
}

Status CheckValue(const std::string& path, double v, const AxisRule& rule) {
  if (!std::isfinite(v)) return RuleError(path, "must be finite", v);
  if (!(v >= rule.lowest))
    return RuleError(path, "must be >= " + FormatNumber(rule.lowest), v);
  if (!(v <= rule.highest))
    return RuleError(path, "must be <= " + FormatNumber(rule.highest), v);
  if (rule.integer && v != std::floor(v))
    return RuleError(path, "must be an integer", v);
  return OkStatus();
}

Status ValidateAxis(const Axis& axis, const AxisRule& rule) {
  const std::string path = "space." + std::string(rule.name);
  if (axis.is_list()) {
    if (axis.min != 0 || axis.max != 0 || axis.log || axis.step != 0) {
      return RuleError(path, "a list takes no min, max, log or step",
                       DescribeAxis(axis));
    }
    for (std::size_t i = 0; i < axis.values.size(); ++i) {
      const std::string item = path + "[" + std::to_string(i) + "]";
      MOESWEEP_RETURN_IF_ERROR(CheckValue(item, axis.values[i], rule));
      for (std::size_t j = 0; j < i; ++j) {
        if (axis.values[j] == axis.values[i]) {
          return RuleError(
              item, "duplicate of " + path + "[" + std::to_string(j) + "]",
              axis.values[i]);
        }
      }
    }
    return OkStatus();
  }
  MOESWEEP_RETURN_IF_ERROR(CheckValue(path + ".min", axis.min, rule));
  if (!(axis.max >= axis.min) || !std::isfinite(axis.max)) {
    return RuleError(path + ".max",
                     "must be >= min (" + FormatNumber(axis.min) + ")",
                     axis.max);
  }
  MOESWEEP_RETURN_IF_ERROR(CheckValue(path + ".max", axis.max, rule));
  if (axis.log && !(axis.min > 0))
    return RuleError(path + ".min", "must be > 0 on a log range", axis.min);
  if (!(axis.step >= 0) || !std::isfinite(axis.step))
    return RuleError(path + ".step", "must be >= 0", axis.step);
  if (axis.log && axis.step != 0 && !(axis.step > 1)) {
    return RuleError(path + ".step", "must be > 1 on a log range (a factor)",
                     axis.step);
  }
  if (rule.integer && axis.step != std::floor(axis.step))
    return RuleError(path + ".step", "must be an integer", axis.step);
  // A range is enumerated when it has a step, or holds integers (PlanSpace):
  // count its values before anything enumerates them.
  double count = 0;
  if (axis.step > 0) {
    count = axis.log ? std::log(axis.max / axis.min) / std::log(axis.step)
                     : (axis.max - axis.min) / axis.step;
  } else if (rule.integer) {
    count = axis.max - std::ceil(axis.min);
  }
  if (count + 1 > static_cast<double>(kMaxListEntries)) {
    return RuleError(path,
                     "must allow at most " + std::to_string(kMaxListEntries) +
                         " values (add or widen a step)",
                     DescribeAxis(axis));
  }
  return OkStatus();
}

bool PowerOfTwo(double v) {
  int exponent = 0;
  return v >= 1 && std::frexp(v, &exponent) == 0.5;
}

Status ValidateExpertsPowerOfTwo(const Axis& experts) {
  const std::string rule = "must be a power of two (experts_power_of_two)";
  if (experts.is_list()) {
    for (std::size_t i = 0; i < experts.values.size(); ++i) {
      if (!PowerOfTwo(experts.values[i])) {
        return RuleError("space.experts[" + std::to_string(i) + "]", rule,
                         experts.values[i]);
      }
    }
    return OkStatus();
  }
  if (!PowerOfTwo(experts.min))
    return RuleError("space.experts.min", rule, experts.min);
  if (!experts.log || !PowerOfTwo(experts.step) || experts.step < 2) {
    return RuleError("space.experts",
                     "a range of powers of two needs log: true and a step "
                     "of 2, 4, 8, ...",
                     DescribeAxis(experts));
  }
  return OkStatus();
}

// Every d_model must split into whole heads.
Status ValidateHeads(const SpaceSpec& space) {
  if (space.heads && space.head_dim) {
    return RuleError("space.head_dim", "give heads or head_dim, not both",
                     std::to_string(*space.head_dim));
  }
  if (!space.heads && !space.head_dim)
    return InvalidArgumentError("space.heads: required (or space.head_dim)");
  const bool by_heads = space.heads.has_value();
  const std::int64_t divisor = by_heads ? *space.heads : *space.head_dim;
  const std::string field = by_heads ? "heads" : "head_dim";
  if (divisor < 1) {
    return RuleError("space." + field, "must be >= 1", std::to_string(divisor));
  }
  const std::string rule =
      "must be a multiple of " + field + " (" + std::to_string(divisor) + ")";
  const auto multiple = [&](double v) {
    return std::fmod(v, static_cast<double>(divisor)) == 0;
  };
  const Axis& d = space.d_model;
  if (d.is_list()) {
    for (std::size_t i = 0; i < d.values.size(); ++i) {
      if (!multiple(d.values[i]))
        return RuleError("space.d_model[" + std::to_string(i) + "]", rule,
                         d.values[i]);
    }
    return OkStatus();
  }
  if (!multiple(d.min)) return RuleError("space.d_model.min", rule, d.min);
  // A log step is an integer factor, so min·step^i stays a multiple.
  if (d.step == 0 || (!d.log && !multiple(d.step))) {
    return RuleError("space.d_model.step",
                     d.step == 0
                         ? "required, so that every d_model is a "
                           "multiple of " +
                               field + " (" + std::to_string(divisor) + ")"
                         : rule,
                     d.step);
  }
  return OkStatus();
}

Status ValidateArchitectures(const SpaceSpec& space) {
  MOESWEEP_RETURN_IF_ERROR(
      ValidateAxis(space.d_model, {"d_model", 1, true, 65536}));
  MOESWEEP_RETURN_IF_ERROR(
      ValidateAxis(space.layers, {"layers", 1, true, 1024}));
  MOESWEEP_RETURN_IF_ERROR(
      ValidateAxis(space.experts, {"experts", 1, true, 16384}));
  if (space.experts_power_of_two)
    MOESWEEP_RETURN_IF_ERROR(ValidateExpertsPowerOfTwo(space.experts));
  MOESWEEP_RETURN_IF_ERROR(ValidateAxis(space.top_k, {"top_k", 1, true, 1024}));
  // A top_k above every expert count could never be proposed.
  const double max_experts = AxisMax(space.experts);
  const std::string top_k_rule =
      "must be <= the largest experts (" + FormatNumber(max_experts) + ")";
  if (space.top_k.is_list()) {
    for (std::size_t i = 0; i < space.top_k.values.size(); ++i) {
      if (space.top_k.values[i] > max_experts) {
        return RuleError("space.top_k[" + std::to_string(i) + "]", top_k_rule,
                         space.top_k.values[i]);
      }
    }
  } else if (space.top_k.min > max_experts) {
    return RuleError("space.top_k.min", top_k_rule, space.top_k.min);
  }
  MOESWEEP_RETURN_IF_ERROR(
      ValidateAxis(space.granularity, {"granularity", 1, true, 1024}));
  MOESWEEP_RETURN_IF_ERROR(
      ValidateAxis(space.shared_experts, {"shared_experts", 0, true, 1024}));
  if (space.vocab_size < 1 || space.vocab_size > (1 << 24)) {
    return RuleError("space.vocab_size", "must be in [1, 16777216]",
                     std::to_string(space.vocab_size));
  }
  if (space.seq_len < 1 || space.seq_len > (1 << 20)) {
    return RuleError("space.seq_len", "must be in [1, 1048576]",
                     std::to_string(space.seq_len));
  }
  MOESWEEP_RETURN_IF_ERROR(ValidateHeads(space));
  if (space.params != Axis{} || space.active_params) {
    return RuleError("space.params", "only in a space of law features",
                     DescribeAxis(space.params));
  }
  return OkStatus();
}

Status ValidateFeatures(const SpaceSpec& space, const std::string& family,
                        const std::vector<fitter::Feature>& law_features) {
  const SpaceSpec unset;
  for (auto [key, axis, default_axis] :
       {std::tuple{"d_model", &space.d_model, &unset.d_model},
        std::tuple{"layers", &space.layers, &unset.layers},
        std::tuple{"experts", &space.experts, &unset.experts},
        std::tuple{"top_k", &space.top_k, &unset.top_k},
        std::tuple{"granularity", &space.granularity, &unset.granularity},
        std::tuple{"shared_experts", &space.shared_experts,
                   &unset.shared_experts}}) {
    if (*axis != *default_axis) {
      return RuleError("space." + std::string(key),
                       "only in a space of architectures", DescribeAxis(*axis));
    }
  }
  const auto only_architectures = [](std::string_view key, std::int64_t v) {
    return RuleError("space." + std::string(key),
                     "only in a space of architectures", std::to_string(v));
  };
  if (space.vocab_size != 0)
    return only_architectures("vocab_size", space.vocab_size);
  if (space.seq_len != 0) return only_architectures("seq_len", space.seq_len);
  if (space.heads) return only_architectures("heads", *space.heads);
  if (space.head_dim) return only_architectures("head_dim", *space.head_dim);
  if (space.experts_power_of_two) {
    return RuleError("space.experts_power_of_two",
                     "only in a space of architectures", "true");
  }
  MOESWEEP_RETURN_IF_ERROR(
      ValidateAxis(space.params, {"params", 1, false, 1e18}));
  if (space.active_params) {
    MOESWEEP_RETURN_IF_ERROR(
        ValidateAxis(*space.active_params, {"active_params", 1, false, 1e18}));
    const double max_params = AxisMax(space.params);
    if (AxisMin(*space.active_params) > max_params) {
      return RuleError(space.active_params->is_list()
                           ? "space.active_params"
                           : "space.active_params.min",
                       "must not exceed the largest params (" +
                           FormatNumber(max_params) + ")",
                       AxisMin(*space.active_params));
    }
  }
  std::string given = "params, tokens, unique_tokens";
  if (space.active_params) given += ", active_params";
  for (fitter::Feature f : law_features) {
    const bool ok = f == fitter::Feature::kParams ||
                    f == fitter::Feature::kTokens ||
                    f == fitter::Feature::kUniqueTokens ||
                    (f == fitter::Feature::kActiveParams &&
                     space.active_params.has_value());
    if (!ok) {
      return RuleError("space",
                       "must give every feature law " + family + " reads (" +
                           std::string(fitter::FeatureName(f)) +
                           " is missing); describe architectures instead",
                       "a space of " + given);
    }
  }
  return OkStatus();
}

}  // namespace

double AxisMin(const Axis& axis) {
  return axis.is_list()
             ? *std::min_element(axis.values.begin(), axis.values.end())
             : axis.min;
}

double AxisMax(const Axis& axis) {
  return axis.is_list()
             ? *std::max_element(axis.values.begin(), axis.values.end())
             : axis.max;
}

Status ValidateSpace(const CampaignSpec& spec,
                     const std::vector<fitter::Feature>& law_features) {
  const SpaceSpec& space = spec.space;
  MOESWEEP_RETURN_IF_ERROR(ValidateAxis(space.tokens, {"tokens", 1, false}));
  if (space.kind == SpaceKind::kArchitecture)
    return ValidateArchitectures(space);
  return ValidateFeatures(space, spec.law.family, law_features);
}

}  // namespace moesweep::campaign
