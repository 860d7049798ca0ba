// CampaignSpec -> normalized YAML: the layout spec.cc reads, with every field
// written (defaults included) and numbers in their shortest exact form, so
// that the stored text reads back as the same spec. Fields the spec's choices
// do not use are left out (validate.cc keeps them at their defaults).

#include <yaml-cpp/yaml.h>

#include "campaign/campaign.h"
#include "campaign/campaign_internal.h"

namespace moesweep::campaign {
namespace {

void Number(YAML::Emitter& out, std::string_view key, double value) {
  out << YAML::Key << std::string(key) << YAML::Value << FormatNumber(value);
}

void OptionalNumber(YAML::Emitter& out, std::string_view key,
                    const std::optional<double>& value) {
  if (value) Number(out, key, *value);
}

void NumberList(YAML::Emitter& out, const std::vector<double>& values) {
  out << YAML::Flow << YAML::BeginSeq;
  for (double v : values) out << FormatNumber(v);
  out << YAML::EndSeq;
}

void EmitAxis(YAML::Emitter& out, std::string_view key, const Axis& axis) {
  out << YAML::Key << std::string(key) << YAML::Value;
  if (axis.is_list()) return NumberList(out, axis.values);
  out << YAML::Flow << YAML::BeginMap;
  Number(out, "min", axis.min);
  Number(out, "max", axis.max);
  if (axis.log) out << YAML::Key << "log" << YAML::Value << true;
  if (axis.step != 0) Number(out, "step", axis.step);
  out << YAML::EndMap;
}

void EmitLaw(YAML::Emitter& out, const LawSpec& law) {
  out << YAML::Key << "law" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "family" << YAML::Value << law.family;
  Number(out, "huber_delta", law.huber_delta);
  if (law.family == "expr") {
    out << YAML::Key << "expression" << YAML::Value << YAML::DoubleQuoted
        << law.expr.expression;
    out << YAML::Key << "params" << YAML::Value << YAML::BeginMap;
    for (const fitter::ExprParam& p : law.expr.params) {
      out << YAML::Key << p.name << YAML::Value << YAML::Flow << YAML::BeginMap;
      Number(out, "lower", p.lower);
      Number(out, "upper", p.upper);
      out << YAML::Key << "starts" << YAML::Value;
      NumberList(out, p.starts);
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

void EmitSpace(YAML::Emitter& out, const SpaceSpec& space) {
  out << YAML::Key << "space" << YAML::Value << YAML::BeginMap;
  EmitAxis(out, "tokens", space.tokens);
  if (space.kind == SpaceKind::kFeatures) {
    EmitAxis(out, "params", space.params);
    if (space.active_params)
      EmitAxis(out, "active_params", *space.active_params);
    out << YAML::EndMap;
    return;
  }
  EmitAxis(out, "d_model", space.d_model);
  EmitAxis(out, "layers", space.layers);
  EmitAxis(out, "experts", space.experts);
  EmitAxis(out, "top_k", space.top_k);
  EmitAxis(out, "granularity", space.granularity);
  EmitAxis(out, "shared_experts", space.shared_experts);
  out << YAML::Key << "experts_power_of_two" << YAML::Value
      << space.experts_power_of_two;
  out << YAML::Key << "vocab_size" << YAML::Value << space.vocab_size;
  out << YAML::Key << "seq_len" << YAML::Value << space.seq_len;
  if (space.heads) out << YAML::Key << "heads" << YAML::Value << *space.heads;
  if (space.head_dim)
    out << YAML::Key << "head_dim" << YAML::Value << *space.head_dim;
  out << YAML::EndMap;
}

void EmitQuestion(YAML::Emitter& out, const QuestionSpec& q) {
  out << YAML::Key << "question" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value
      << std::string(QuestionKindName(q.kind));
  switch (q.kind) {
    case QuestionKind::kComputeOptimalLoss:
    case QuestionKind::kOptimalArchitecture:
      Number(out, "flops", q.flops);
      OptionalNumber(out, "max_total_params", q.max_total_params);
      OptionalNumber(out, "max_active_params", q.max_active_params);
      OptionalNumber(out, "max_memory_bytes", q.max_memory_bytes);
      OptionalNumber(out, "max_flops_per_token", q.max_flops_per_token);
      break;
    case QuestionKind::kLawParameter:
      out << YAML::Key << "name" << YAML::Value << q.name;
      break;
    case QuestionKind::kPrediction:
      out << YAML::Key << "at" << YAML::Value << YAML::Flow << YAML::BeginMap;
      for (const FeatureValue& fv : q.at)
        Number(out, fitter::FeatureName(fv.feature), fv.value);
      out << YAML::EndMap;
      break;
  }
  out << YAML::EndMap;
}

void EmitTraining(YAML::Emitter& out, const TrainingSpec& t) {
  out << YAML::Key << "training" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "schedule" << YAML::Value
      << std::string(ScheduleName(t.schedule));
  out << YAML::Key << "lr" << YAML::Value << YAML::Flow << YAML::BeginMap;
  switch (t.lr_rule) {
    case LrRule::kConstant:
      Number(out, "constant", t.lr_constant);
      break;
    case LrRule::kLudziejewski:
      out << YAML::Key << "rule" << YAML::Value << "ludziejewski";
      break;
    case LrRule::kPower:
      out << YAML::Key << "rule" << YAML::Value << "power";
      Number(out, "base", t.lr_power.base);
      Number(out, "exponent", t.lr_power.exponent);
      Number(out, "reference", t.lr_power.reference);
      Number(out, "experts_exponent", t.lr_power.experts_exponent);
      break;
  }
  out << YAML::EndMap;
  OptionalNumber(out, "warmup_tokens", t.warmup_tokens);
  OptionalNumber(out, "batch_tokens", t.batch_tokens);
  OptionalNumber(out, "eval_every_tokens", t.eval_every_tokens);
  if (t.branching) out << YAML::Key << "branching" << YAML::Value << true;
  out << YAML::EndMap;
}

}  // namespace

std::string CampaignSpecToYaml(const CampaignSpec& spec) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  if (!spec.name.empty())
    out << YAML::Key << "name" << YAML::Value << spec.name;
  EmitLaw(out, spec.law);
  EmitSpace(out, spec.space);

  const LimitsSpec& limits = spec.limits;
  out << YAML::Key << "limits" << YAML::Value;
  // "limits: {}" reads better than a block map with nothing in it.
  if (!limits.max_flops && !limits.max_tokens && !limits.max_seconds)
    out << YAML::Flow;
  out << YAML::BeginMap;
  OptionalNumber(out, "max_flops", spec.limits.max_flops);
  OptionalNumber(out, "max_tokens", spec.limits.max_tokens);
  OptionalNumber(out, "max_seconds", spec.limits.max_seconds);
  out << YAML::EndMap;

  out << YAML::Key << "budget" << YAML::Value << YAML::BeginMap;
  Number(out, "flops", spec.budget.flops);
  OptionalNumber(out, "gpu_hours", spec.budget.gpu_hours);
  out << YAML::EndMap;

  EmitQuestion(out, spec.question);
  out << YAML::Key << "target" << YAML::Value << YAML::BeginMap;
  Number(out, "relative_width", spec.target_relative_width);
  out << YAML::EndMap;
  out << YAML::Key << "max_parallel_runs" << YAML::Value
      << spec.max_parallel_runs;
  EmitTraining(out, spec.training);
  out << YAML::Key << "strategy" << YAML::Value
      << std::string(fitter::StrategyName(spec.strategy));
  out << YAML::Key << "seed" << YAML::Value << spec.seed;
  if (spec.validate) EmitValidation(out, *spec.validate);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace moesweep::campaign
