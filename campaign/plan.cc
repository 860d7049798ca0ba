// The fitter's view of a campaign spec: the law shape, the design space and
// the question (campaign.h, PlanCampaign).

#include <algorithm>
#include <cmath>

#include "campaign/campaign.h"

namespace moesweep::campaign {
namespace {

// Every value an axis allows; a continuous range keeps min and max only when
// `integers` is false (the caller then uses it as a range).
std::vector<double> Values(const Axis& axis, bool integers) {
  if (axis.is_list()) return axis.values;
  std::vector<double> out;
  if (axis.step > 0) {
    for (double v = axis.min; v <= axis.max * (1 + 1e-12);
         v = axis.log ? v * axis.step : v + axis.step) {
      out.push_back(v);
    }
  } else if (integers) {
    for (double v = std::ceil(axis.min); v <= axis.max; ++v) out.push_back(v);
  }
  return out;
}

fitter::FeatureRange Range(fitter::Feature feature, const Axis& axis) {
  return fitter::FeatureRange{feature, axis.min, axis.max, axis.log,
                              Values(axis, false)};
}

fitter::DesignSpace PlanSpace(const CampaignSpec& spec) {
  fitter::DesignSpace out;
  const SpaceSpec& space = spec.space;
  if (space.kind == SpaceKind::kFeatures) {
    out.axes.push_back(Range(fitter::Feature::kParams, space.params));
    if (space.active_params) {
      out.axes.push_back(
          Range(fitter::Feature::kActiveParams, *space.active_params));
    }
  } else {
    fitter::ArchitectureAxes arch;
    arch.base.vocab_size = space.vocab_size;
    arch.base.seq_len = space.seq_len;
    arch.d_model = Values(space.d_model, true);
    arch.layers = Values(space.layers, true);
    arch.experts = Values(space.experts, true);
    arch.top_k = Values(space.top_k, true);
    arch.granularity = Values(space.granularity, true);
    arch.shared = Values(space.shared_experts, true);
    arch.head_dim =
        space.head_dim ? *space.head_dim : arch.d_model.front() / *space.heads;
    out.architecture = arch;
  }
  out.axes.push_back(Range(fitter::Feature::kTokens, space.tokens));
  out.max_run_flops = spec.limits.max_flops.value_or(0);
  out.max_run_tokens = spec.limits.max_tokens.value_or(0);
  return out;
}

StatusOr<fitter::Question> PlanQuestion(const CampaignSpec& spec) {
  fitter::Question out;
  const QuestionSpec& q = spec.question;
  out.optimal.flops = q.flops;
  out.optimal.profile_points = 25;
  switch (q.kind) {
    case QuestionKind::kComputeOptimalLoss:
      out.kind = fitter::QuestionKind::kComputeOptimalLoss;
      break;
    case QuestionKind::kOptimalArchitecture:
      out.kind = fitter::QuestionKind::kOptimalSize;
      out.optimal.max_total_params =
          q.max_total_params.value_or(out.optimal.max_total_params);
      out.optimal.max_active_params =
          q.max_active_params.value_or(out.optimal.max_active_params);
      out.optimal.max_memory_bytes =
          q.max_memory_bytes.value_or(out.optimal.max_memory_bytes);
      out.optimal.max_flops_per_token =
          q.max_flops_per_token.value_or(out.optimal.max_flops_per_token);
      break;
    case QuestionKind::kLawParameter: {
      out.kind = fitter::QuestionKind::kLawParameter;
      MOESWEEP_ASSIGN_OR_RETURN(std::vector<std::string> names,
                                LawParameterNames(spec));
      const auto it = std::find(names.begin(), names.end(), q.name);
      if (it == names.end()) {
        return InvalidArgumentError("question.name: unknown parameter, got " +
                                    q.name);
      }
      out.param_index = static_cast<int>(it - names.begin());
      break;
    }
    case QuestionKind::kPrediction:
      out.kind = fitter::QuestionKind::kPrediction;
      for (const FeatureValue& fv : q.at) out.at.Set(fv.feature, fv.value);
      break;
  }
  return out;
}

}  // namespace

StatusOr<CampaignPlan> PlanCampaign(const CampaignSpec& spec) {
  CampaignPlan plan;
  MOESWEEP_ASSIGN_OR_RETURN(plan.shape, LawShape(spec));
  plan.space = PlanSpace(spec);
  MOESWEEP_ASSIGN_OR_RETURN(plan.question, PlanQuestion(spec));
  return plan;
}

}  // namespace moesweep::campaign
