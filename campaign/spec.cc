// YAML -> CampaignSpec. This file checks shape (known keys, types, required
// fields); validate.cc and space.cc check values. The layout:
//
//   name: moe-small                  # optional
//   law: {family: joint, huber_delta: 1e-3}   # or `law: joint`; expr adds
//                                    # expression and params as cli/expr_yaml
//   space:                           # architectures ...
//     d_model: {min: 256, max: 1024, log: true, step: 2}  # or a list [..]
//     layers: [4, 8]  experts: [1, 8]  top_k: [1]  granularity: [1]
//     shared_experts: [0]  experts_power_of_two: true
//     tokens: {min: 1e9, max: 2e10, log: true}
//     vocab_size: 50257  seq_len: 1024  heads: 8   # or head_dim: 64
//   space: {params: {...}, active_params: {...}, tokens: {...}}  # or features
//   limits: {max_flops: 1e18, max_tokens: 2e10, max_seconds: 3600}
//   budget: {flops: 1e20, gpu_hours: 500}
//   question: {kind: optimal_architecture, flops: 1e22, max_total_params: 1e10}
//   target: {relative_width: 0.02}
//   max_parallel_runs: 8
//   training: {schedule: wsd, lr: {rule: ludziejewski}, warmup_tokens: 1e8,
//              batch_tokens: 524288, eval_every_tokens: 1e8}
//             # or lr: {constant: 3e-3}, or lr: {rule: power, base: 1e-2,
//             #   exponent: 0.3, reference: 1e5} (examples/LR_SWEEP.md)
//   strategy: active
//   seed: 0
//   validate: {runs: 2, flops_multiple: 4}   # optional (validation.cc)

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include "campaign/campaign.h"
#include "campaign/campaign_internal.h"
#include "campaign/yaml_fields.h"

namespace moesweep::campaign {
namespace {

StatusOr<fitter::ExprParam> ParseExprParam(const YAML::Node& node,
                                           std::string name,
                                           const std::string& path) {
  MOESWEEP_ASSIGN_OR_RETURN(
      MapFields f, MapFields::Open(node, path, {"lower", "upper", "starts"}));
  fitter::ExprParam param;
  param.name = std::move(name);
  MOESWEEP_ASSIGN_OR_RETURN(param.lower,
                            ReadNumber(f.Get("lower"), f.PathOf("lower")));
  MOESWEEP_ASSIGN_OR_RETURN(param.upper,
                            ReadNumber(f.Get("upper"), f.PathOf("upper")));
  MOESWEEP_ASSIGN_OR_RETURN(
      param.starts, ReadNumberList(f.Get("starts"), f.PathOf("starts")));
  return param;
}

StatusOr<LawSpec> ParseLaw(const YAML::Node& node) {
  LawSpec law;
  if (node.IsDefined() && node.IsScalar()) {  // `law: joint`
    law.family = node.Scalar();
    return law;
  }
  MOESWEEP_ASSIGN_OR_RETURN(
      MapFields f,
      MapFields::Open(node, "law",
                      {"family", "huber_delta", "expression", "params"}));
  MOESWEEP_ASSIGN_OR_RETURN(law.family,
                            ReadString(f.Get("family"), f.PathOf("family")));
  MOESWEEP_RETURN_IF_ERROR(
      ReadIfPresent(f, "huber_delta", ReadNumber, &law.huber_delta));
  const bool expr = law.family == "expr";
  for (std::string_view key : {"expression", "params"}) {
    if (f.Has(key) && !expr) {
      return RuleError(f.PathOf(key), "only for family expr",
                       "family '" + law.family + "'");
    }
    if (!f.Has(key) && expr) {
      return InvalidArgumentError(f.PathOf(key) + ": required by family expr");
    }
  }
  if (!expr) return law;
  MOESWEEP_ASSIGN_OR_RETURN(
      law.expr.expression,
      ReadString(f.Get("expression"), f.PathOf("expression")));
  MOESWEEP_ASSIGN_OR_RETURN(
      MapFields params,
      MapFields::Open(f.Get("params"), f.PathOf("params"), {}));
  if (params.keys().empty())
    return RuleError(params.path(), "must name at least one parameter", "{}");
  for (const std::string& name : params.keys()) {
    MOESWEEP_ASSIGN_OR_RETURN(
        fitter::ExprParam param,
        ParseExprParam(params.Get(name), name, params.PathOf(name)));
    law.expr.params.push_back(std::move(param));
  }
  return law;
}

// A list [a, b], one number (a list of one), or a range {min, max, log, step}.
StatusOr<Axis> ParseAxis(const YAML::Node& node, const std::string& path) {
  Axis axis;
  if (!node.IsDefined()) return InvalidArgumentError(path + ": required");
  if (node.IsScalar()) {
    MOESWEEP_ASSIGN_OR_RETURN(double v, ReadNumber(node, path));
    axis.values = {v};
    return axis;
  }
  if (node.IsSequence()) {
    MOESWEEP_ASSIGN_OR_RETURN(axis.values, ReadNumberList(node, path));
    return axis;
  }
  if (!node.IsMap()) {
    return InvalidArgumentError(
        path + ": expected a list [a, b, ...] or a range {min, max}, got " +
        Describe(node));
  }
  MOESWEEP_ASSIGN_OR_RETURN(
      MapFields f, MapFields::Open(node, path, {"min", "max", "log", "step"}));
  MOESWEEP_ASSIGN_OR_RETURN(axis.min,
                            ReadNumber(f.Get("min"), f.PathOf("min")));
  MOESWEEP_ASSIGN_OR_RETURN(axis.max,
                            ReadNumber(f.Get("max"), f.PathOf("max")));
  MOESWEEP_RETURN_IF_ERROR(ReadIfPresent(f, "log", ReadBool, &axis.log));
  MOESWEEP_RETURN_IF_ERROR(ReadIfPresent(f, "step", ReadNumber, &axis.step));
  return axis;
}

constexpr std::string_view kArchKeys[] = {"d_model",
                                          "layers",
                                          "experts",
                                          "top_k",
                                          "granularity",
                                          "shared_experts",
                                          "experts_power_of_two",
                                          "vocab_size",
                                          "seq_len",
                                          "heads",
                                          "head_dim"};

StatusOr<SpaceSpec> ParseSpace(const YAML::Node& node) {
  MOESWEEP_ASSIGN_OR_RETURN(
      MapFields f,
      MapFields::Open(
          node, "space",
          {"tokens", "d_model", "layers", "experts", "top_k", "granularity",
           "shared_experts", "experts_power_of_two", "vocab_size", "seq_len",
           "heads", "head_dim", "params", "active_params"}));
  SpaceSpec space;
  MOESWEEP_ASSIGN_OR_RETURN(space.tokens,
                            ParseAxis(f.Get("tokens"), f.PathOf("tokens")));
  if (f.Has("params") || f.Has("active_params")) {
    space.kind = SpaceKind::kFeatures;
    for (std::string_view key : kArchKeys) {
      if (f.Has(key)) {
        return RuleError(f.PathOf(key),
                         "not allowed beside space.params (a space is either "
                         "architectures or law features)",
                         Describe(f.Get(key)));
      }
    }
    MOESWEEP_ASSIGN_OR_RETURN(space.params,
                              ParseAxis(f.Get("params"), f.PathOf("params")));
    MOESWEEP_RETURN_IF_ERROR(
        ReadIfPresent(f, "active_params", ParseAxis, &space.active_params));
    return space;
  }
  space.kind = SpaceKind::kArchitecture;
  MOESWEEP_ASSIGN_OR_RETURN(space.d_model,
                            ParseAxis(f.Get("d_model"), f.PathOf("d_model")));
  MOESWEEP_ASSIGN_OR_RETURN(space.layers,
                            ParseAxis(f.Get("layers"), f.PathOf("layers")));
  MOESWEEP_RETURN_IF_ERROR(
      ReadIfPresent(f, "experts", ParseAxis, &space.experts));
  MOESWEEP_RETURN_IF_ERROR(ReadIfPresent(f, "top_k", ParseAxis, &space.top_k));
  MOESWEEP_RETURN_IF_ERROR(
      ReadIfPresent(f, "granularity", ParseAxis, &space.granularity));
  MOESWEEP_RETURN_IF_ERROR(
      ReadIfPresent(f, "shared_experts", ParseAxis, &space.shared_experts));
  MOESWEEP_RETURN_IF_ERROR(ReadIfPresent(f, "experts_power_of_two", ReadBool,
                                         &space.experts_power_of_two));
  MOESWEEP_ASSIGN_OR_RETURN(
      space.vocab_size,
      ReadInteger(f.Get("vocab_size"), f.PathOf("vocab_size")));
  MOESWEEP_ASSIGN_OR_RETURN(space.seq_len,
                            ReadInteger(f.Get("seq_len"), f.PathOf("seq_len")));
  MOESWEEP_RETURN_IF_ERROR(
      ReadIfPresent(f, "heads", ReadInteger, &space.heads));
  MOESWEEP_RETURN_IF_ERROR(
      ReadIfPresent(f, "head_dim", ReadInteger, &space.head_dim));
  return space;
}

StatusOr<QuestionSpec> ParseQuestion(const YAML::Node& node) {
  MOESWEEP_ASSIGN_OR_RETURN(
      MapFields f, MapFields::Open(node, "question",
                                   {"kind", "flops", "max_total_params",
                                    "max_active_params", "max_memory_bytes",
                                    "max_flops_per_token", "name", "at"}));
  QuestionSpec q;
  MOESWEEP_ASSIGN_OR_RETURN(const std::string kind,
                            ReadString(f.Get("kind"), f.PathOf("kind")));
  StatusOr<QuestionKind> parsed = QuestionKindFromName(kind);
  if (!parsed.ok()) {
    return InvalidArgumentError(f.PathOf("kind") + ": " +
                                std::string(parsed.status().message()));
  }
  q.kind = *parsed;
  // What each kind needs; fields a kind does not use are refused by
  // ValidateCampaignSpec, which sees them set.
  const char* needed = q.kind == QuestionKind::kLawParameter ? "name"
                       : q.kind == QuestionKind::kPrediction ? "at"
                                                             : "flops";
  if (!f.Has(needed)) {
    return InvalidArgumentError(f.PathOf(needed) + ": required by kind " +
                                kind);
  }
  MOESWEEP_RETURN_IF_ERROR(ReadIfPresent(f, "flops", ReadNumber, &q.flops));
  for (auto [key, cap] :
       {std::pair{"max_total_params", &q.max_total_params},
        std::pair{"max_active_params", &q.max_active_params},
        std::pair{"max_memory_bytes", &q.max_memory_bytes},
        std::pair{"max_flops_per_token", &q.max_flops_per_token}}) {
    MOESWEEP_RETURN_IF_ERROR(ReadIfPresent(f, key, ReadNumber, cap));
  }
  MOESWEEP_RETURN_IF_ERROR(ReadIfPresent(f, "name", ReadString, &q.name));
  if (f.Has("at")) {
    MOESWEEP_ASSIGN_OR_RETURN(MapFields at,
                              MapFields::Open(f.Get("at"), f.PathOf("at"), {}));
    for (const std::string& key : at.keys()) {
      StatusOr<fitter::Feature> feature = fitter::FeatureFromName(key);
      if (!feature.ok()) {
        return RuleError(at.PathOf(key), "not a law feature", "'" + key + "'");
      }
      MOESWEEP_ASSIGN_OR_RETURN(double value,
                                ReadNumber(at.Get(key), at.PathOf(key)));
      q.at.push_back({*feature, value});
    }
  }
  return q;
}

// training.lr: `{constant: x}`, `{rule: ludziejewski}` or `{rule: power,
// base: b, exponent: a, reference: n, experts_exponent: e}` (e optional).
StatusOr<TrainingSpec> ParseLr(const MapFields& training, TrainingSpec t) {
  MOESWEEP_ASSIGN_OR_RETURN(
      MapFields lr, MapFields::Open(training.Get("lr"), training.PathOf("lr"),
                                    {"constant", "rule", "base", "exponent",
                                     "reference", "experts_exponent"}));
  if (lr.Has("constant") == lr.Has("rule")) {
    return RuleError(lr.path(), "give exactly one of constant and rule",
                     Describe(training.Get("lr")));
  }
  if (lr.Has("constant")) {
    t.lr_rule = LrRule::kConstant;
    MOESWEEP_ASSIGN_OR_RETURN(
        t.lr_constant, ReadNumber(lr.Get("constant"), lr.PathOf("constant")));
  } else {
    MOESWEEP_ASSIGN_OR_RETURN(const std::string rule,
                              ReadString(lr.Get("rule"), lr.PathOf("rule")));
    if (rule == "ludziejewski") {
      t.lr_rule = LrRule::kLudziejewski;
    } else if (rule == "power") {
      t.lr_rule = LrRule::kPower;
    } else {
      return RuleError(lr.PathOf("rule"), "must be ludziejewski or power",
                       "'" + rule + "'");
    }
  }
  const bool power = t.lr_rule == LrRule::kPower;
  for (auto [key, field] : {std::pair{"base", &t.lr_power.base},
                            std::pair{"exponent", &t.lr_power.exponent},
                            std::pair{"reference", &t.lr_power.reference}}) {
    if (lr.Has(key) != power) {
      return power ? InvalidArgumentError(lr.PathOf(key) +
                                          ": required by rule power")
                   : RuleError(lr.PathOf(key), "goes only with rule power",
                               Describe(lr.Get(key)));
    }
    if (power) {
      MOESWEEP_ASSIGN_OR_RETURN(*field,
                                ReadNumber(lr.Get(key), lr.PathOf(key)));
    }
  }
  if (lr.Has("experts_exponent")) {
    if (!power) {
      return RuleError(lr.PathOf("experts_exponent"),
                       "goes only with rule power",
                       Describe(lr.Get("experts_exponent")));
    }
    MOESWEEP_ASSIGN_OR_RETURN(
        t.lr_power.experts_exponent,
        ReadNumber(lr.Get("experts_exponent"), lr.PathOf("experts_exponent")));
  }
  return t;
}

StatusOr<TrainingSpec> ParseTraining(const YAML::Node& node) {
  MOESWEEP_ASSIGN_OR_RETURN(
      MapFields f,
      MapFields::Open(node, "training",
                      {"schedule", "lr", "warmup_tokens", "batch_tokens",
                       "eval_every_tokens", "branching"}));
  TrainingSpec t;
  if (f.Has("schedule")) {
    MOESWEEP_ASSIGN_OR_RETURN(
        const std::string name,
        ReadString(f.Get("schedule"), f.PathOf("schedule")));
    StatusOr<Schedule> schedule = ScheduleFromName(name);
    if (!schedule.ok()) {
      return InvalidArgumentError(f.PathOf("schedule") + ": " +
                                  std::string(schedule.status().message()));
    }
    t.schedule = *schedule;
  }
  if (f.Has("lr")) {
    MOESWEEP_ASSIGN_OR_RETURN(t, ParseLr(f, std::move(t)));
  }
  for (auto [key, field] :
       {std::pair{"warmup_tokens", &t.warmup_tokens},
        std::pair{"batch_tokens", &t.batch_tokens},
        std::pair{"eval_every_tokens", &t.eval_every_tokens}}) {
    MOESWEEP_RETURN_IF_ERROR(ReadIfPresent(f, key, ReadNumber, field));
  }
  MOESWEEP_RETURN_IF_ERROR(
      ReadIfPresent(f, "branching", ReadBool, &t.branching));
  return t;
}

StatusOr<CampaignSpec> ParseRoot(const YAML::Node& root) {
  MOESWEEP_ASSIGN_OR_RETURN(
      MapFields f,
      MapFields::Open(
          root, "",
          {"name", "law", "space", "limits", "budget", "question", "target",
           "max_parallel_runs", "training", "strategy", "seed", "validate"}));
  CampaignSpec spec;
  MOESWEEP_RETURN_IF_ERROR(ReadIfPresent(f, "name", ReadString, &spec.name));
  if (!f.Has("law")) return InvalidArgumentError("law: required");
  MOESWEEP_ASSIGN_OR_RETURN(spec.law, ParseLaw(f.Get("law")));
  if (!f.Has("space")) return InvalidArgumentError("space: required");
  MOESWEEP_ASSIGN_OR_RETURN(spec.space, ParseSpace(f.Get("space")));

  MOESWEEP_ASSIGN_OR_RETURN(
      MapFields limits,
      MapFields::Open(f.Get("limits"), "limits",
                      {"max_flops", "max_tokens", "max_seconds"}));
  MOESWEEP_RETURN_IF_ERROR(
      ReadIfPresent(limits, "max_flops", ReadNumber, &spec.limits.max_flops));
  MOESWEEP_RETURN_IF_ERROR(
      ReadIfPresent(limits, "max_tokens", ReadNumber, &spec.limits.max_tokens));
  MOESWEEP_RETURN_IF_ERROR(ReadIfPresent(limits, "max_seconds", ReadNumber,
                                         &spec.limits.max_seconds));

  if (!f.Has("budget")) return InvalidArgumentError("budget: required");
  MOESWEEP_ASSIGN_OR_RETURN(
      MapFields budget,
      MapFields::Open(f.Get("budget"), "budget", {"flops", "gpu_hours"}));
  MOESWEEP_ASSIGN_OR_RETURN(
      spec.budget.flops,
      ReadNumber(budget.Get("flops"), budget.PathOf("flops")));
  MOESWEEP_RETURN_IF_ERROR(
      ReadIfPresent(budget, "gpu_hours", ReadNumber, &spec.budget.gpu_hours));

  if (!f.Has("question")) return InvalidArgumentError("question: required");
  MOESWEEP_ASSIGN_OR_RETURN(spec.question, ParseQuestion(f.Get("question")));

  if (!f.Has("target")) return InvalidArgumentError("target: required");
  MOESWEEP_ASSIGN_OR_RETURN(
      MapFields target,
      MapFields::Open(f.Get("target"), "target", {"relative_width"}));
  MOESWEEP_ASSIGN_OR_RETURN(spec.target_relative_width,
                            ReadNumber(target.Get("relative_width"),
                                       target.PathOf("relative_width")));

  std::int64_t parallel = spec.max_parallel_runs;
  MOESWEEP_RETURN_IF_ERROR(
      ReadIfPresent(f, "max_parallel_runs", ReadInteger, &parallel));
  if (parallel < 1 || parallel > std::numeric_limits<int>::max()) {
    return RuleError("max_parallel_runs",
                     parallel < 1 ? "must be >= 1" : "must fit in an int",
                     std::to_string(parallel));
  }
  spec.max_parallel_runs = static_cast<int>(parallel);
  MOESWEEP_ASSIGN_OR_RETURN(spec.training, ParseTraining(f.Get("training")));
  if (f.Has("strategy")) {
    MOESWEEP_ASSIGN_OR_RETURN(
        const std::string name,
        ReadString(f.Get("strategy"), f.PathOf("strategy")));
    StatusOr<Strategy> strategy = StrategyFromName(name);
    if (!strategy.ok()) {
      return InvalidArgumentError("strategy: " +
                                  std::string(strategy.status().message()));
    }
    spec.strategy = *strategy;
  }
  MOESWEEP_RETURN_IF_ERROR(ReadIfPresent(f, "seed", ReadUnsigned, &spec.seed));
  MOESWEEP_RETURN_IF_ERROR(
      ReadIfPresent(f, "validate", ParseValidation, &spec.validate));
  return spec;
}

}  // namespace

// fitter::ExprSpec has no operator==, so LawSpec's cannot be defaulted.
bool operator==(const LawSpec& a, const LawSpec& b) {
  const auto same_param = [](const fitter::ExprParam& x,
                             const fitter::ExprParam& y) {
    return x.name == y.name && x.lower == y.lower && x.upper == y.upper &&
           x.starts == y.starts;
  };
  return a.family == b.family && a.huber_delta == b.huber_delta &&
         a.expr.expression == b.expr.expression &&
         std::equal(a.expr.params.begin(), a.expr.params.end(),
                    b.expr.params.begin(), b.expr.params.end(), same_param);
}

StatusOr<CampaignSpec> ParseCampaignSpec(std::string_view yaml_text) {
  if (yaml_text.size() > kMaxSpecBytes) {
    return InvalidArgumentError(
        "campaign: " + std::to_string(yaml_text.size()) +
        " bytes, above the limit of " + std::to_string(kMaxSpecBytes));
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(std::string("campaign: not YAML: ") + e.what());
  }
  MOESWEEP_ASSIGN_OR_RETURN(CampaignSpec spec, ParseRoot(root));
  MOESWEEP_RETURN_IF_ERROR(ValidateCampaignSpec(spec));
  return spec;
}

StatusOr<CampaignSpec> ReadCampaignSpec(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError(path + ": cannot open file");
  std::stringstream text;
  text << in.rdbuf();
  StatusOr<CampaignSpec> spec = ParseCampaignSpec(text.str());
  if (!spec.ok()) {
    return Status(spec.status().code(),
                  path + ": " + std::string(spec.status().message()));
  }
  return spec;
}

}  // namespace moesweep::campaign
