// The rules of every field but the space (space.cc), in the order the spec
// reads. Fields a choice does not use (a cap on a law_parameter question, an
// expression beside a built-in family) must stay at their defaults, so that
// the normalized YAML, which leaves them out, reads back as the same spec.

#include <algorithm>
#include <charconv>
#include <cmath>

#include "campaign/campaign.h"
#include "campaign/campaign_internal.h"

namespace moesweep::campaign {
namespace {

Status Positive(std::string_view path, double value) {
  if (!(value > 0)) return RuleError(path, "must be > 0", value);
  if (!std::isfinite(value)) return RuleError(path, "must be finite", value);
  return OkStatus();
}

Status PositiveIfSet(std::string_view path, const std::optional<double>& v) {
  return v ? Positive(path, *v) : OkStatus();
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string FeatureList(const std::vector<fitter::Feature>& features) {
  std::vector<std::string> names;
  for (fitter::Feature f : features) names.emplace_back(FeatureName(f));
  return Join(names);
}

bool Reads(const std::vector<fitter::Feature>& features, fitter::Feature f) {
  return std::find(features.begin(), features.end(), f) != features.end();
}

Status ValidateName(const std::string& name) {
  if (name.empty()) return OkStatus();
  const bool ok_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == '_' || c == '.';
  });
  if (name.size() > 64 || !ok_chars) {
    return RuleError("name",
                     "must be at most 64 letters, digits, '-', '_' or '.'",
                     "'" + name + "'");
  }
  return OkStatus();
}

Status ValidateExpr(const fitter::ExprSpec& expr) {
  if (expr.expression.empty())
    return InvalidArgumentError("law.expression: required by family expr");
  if (expr.params.empty())
    return RuleError("law.params", "must not be empty", "{}");
  // A full fit tries every combination of starts: bound it before any fit.
  double starts = 1;
  for (const fitter::ExprParam& p : expr.params) starts *= p.starts.size();
  if (starts > kMaxExprStarts) {
    return RuleError("law.params",
                     "the product of the starts lists' lengths (the fit's "
                     "starting points) must be <= " +
                         FormatNumber(kMaxExprStarts),
                     FormatNumber(starts));
  }
  for (std::size_t i = 0; i < expr.params.size(); ++i) {
    const fitter::ExprParam& p = expr.params[i];
    const std::string path = "law.params." + p.name;
    for (std::size_t j = 0; j < i; ++j) {
      if (expr.params[j].name == p.name)
        return InvalidArgumentError(path + ": given twice");
    }
    if (!std::isfinite(p.lower))
      return RuleError(path + ".lower", "must be finite", p.lower);
    if (!(p.upper > p.lower) || !std::isfinite(p.upper)) {
      return RuleError(
          path + ".upper",
          "must be finite and > lower (" + FormatNumber(p.lower) + ")",
          p.upper);
    }
    if (p.starts.empty())
      return RuleError(path + ".starts", "must not be empty", "[]");
    for (std::size_t k = 0; k < p.starts.size(); ++k) {
      if (!(p.starts[k] >= p.lower && p.starts[k] <= p.upper)) {
        return RuleError(path + ".starts[" + std::to_string(k) + "]",
                         "must be within [lower, upper] = [" +
                             FormatNumber(p.lower) + ", " +
                             FormatNumber(p.upper) + "]",
                         p.starts[k]);
      }
    }
  }
  return OkStatus();
}

Status ValidateLaw(const LawSpec& law) {
  MOESWEEP_RETURN_IF_ERROR(Positive("law.huber_delta", law.huber_delta));
  if (law.family == "expr") return ValidateExpr(law.expr);
  if (!law.expr.expression.empty() || !law.expr.params.empty()) {
    return RuleError("law.expression", "only for family expr",
                     "family '" + law.family + "'");
  }
  return OkStatus();
}

Status ValidateLimitsAndBudget(const CampaignSpec& spec) {
  MOESWEEP_RETURN_IF_ERROR(Positive("budget.flops", spec.budget.flops));
  MOESWEEP_RETURN_IF_ERROR(
      PositiveIfSet("budget.gpu_hours", spec.budget.gpu_hours));
  const LimitsSpec& limits = spec.limits;
  MOESWEEP_RETURN_IF_ERROR(PositiveIfSet("limits.max_flops", limits.max_flops));
  if (limits.max_flops && *limits.max_flops > spec.budget.flops) {
    return RuleError(
        "limits.max_flops",
        "must be <= budget.flops (" + FormatNumber(spec.budget.flops) + ")",
        *limits.max_flops);
  }
  MOESWEEP_RETURN_IF_ERROR(
      PositiveIfSet("limits.max_tokens", limits.max_tokens));
  const double min_tokens = AxisMin(spec.space.tokens);
  if (limits.max_tokens && *limits.max_tokens < min_tokens) {
    return RuleError("limits.max_tokens",
                     "must be >= the smallest space.tokens (" +
                         FormatNumber(min_tokens) + ")",
                     *limits.max_tokens);
  }
  return PositiveIfSet("limits.max_seconds", limits.max_seconds);
}

// Refuses `value` when it differs from its default: the question's kind does
// not use it.
template <typename T>
Status Unused(std::string_view path, const T& value, const T& unset,
              std::string_view users, std::string_view got) {
  if (value == unset) return OkStatus();
  return RuleError(path, "only for kind " + std::string(users), got);
}

Status ValidateQuestionFields(const QuestionSpec& q) {
  const bool needs_flops = q.kind == QuestionKind::kComputeOptimalLoss ||
                           q.kind == QuestionKind::kOptimalArchitecture;
  if (needs_flops) {
    MOESWEEP_RETURN_IF_ERROR(Positive("question.flops", q.flops));
  } else {
    MOESWEEP_RETURN_IF_ERROR(Unused(
        "question.flops", q.flops, 0.0,
        "compute_optimal_loss or optimal_architecture", FormatNumber(q.flops)));
  }
  for (auto [key, cap] :
       {std::pair{"max_total_params", &q.max_total_params},
        std::pair{"max_active_params", &q.max_active_params},
        std::pair{"max_memory_bytes", &q.max_memory_bytes},
        std::pair{"max_flops_per_token", &q.max_flops_per_token}}) {
    const std::string path = std::string("question.") + key;
    if (q.kind == QuestionKind::kOptimalArchitecture) {
      MOESWEEP_RETURN_IF_ERROR(PositiveIfSet(path, *cap));
    } else if (cap->has_value()) {
      return RuleError(path, "only for kind optimal_architecture",
                       FormatNumber(**cap));
    }
  }
  if (q.kind != QuestionKind::kLawParameter) {
    MOESWEEP_RETURN_IF_ERROR(Unused("question.name", q.name, std::string(),
                                    "law_parameter", "'" + q.name + "'"));
  }
  if (q.kind != QuestionKind::kPrediction && !q.at.empty()) {
    return RuleError("question.at", "only for kind prediction",
                     std::string(fitter::FeatureName(q.at[0].feature)));
  }
  return OkStatus();
}

Status ValidatePrediction(const QuestionSpec& q, const std::string& family,
                          const std::vector<fitter::Feature>& features) {
  for (std::size_t i = 0; i < q.at.size(); ++i) {
    const fitter::Feature f = q.at[i].feature;
    const std::string path =
        "question.at." + std::string(fitter::FeatureName(f));
    if (!Reads(features, f)) {
      return RuleError(path,
                       "law " + family + " does not read it (it reads " +
                           FeatureList(features) + ")",
                       q.at[i].value);
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (q.at[j].feature == f)
        return InvalidArgumentError(path + ": given twice");
    }
    const double v = q.at[i].value;
    if (f == fitter::Feature::kSharedRatio) {
      if (!(v >= 0 && v < 1)) return RuleError(path, "must be in [0, 1)", v);
    } else if (f == fitter::Feature::kNumShared) {
      if (!(v >= 0) || !std::isfinite(v))
        return RuleError(path, "must be >= 0", v);
    } else {
      MOESWEEP_RETURN_IF_ERROR(Positive(path, v));
    }
  }
  for (fitter::Feature f : features) {
    const bool given =
        std::any_of(q.at.begin(), q.at.end(),
                    [f](const FeatureValue& fv) { return fv.feature == f; });
    if (!given) {
      return RuleError("question.at",
                       "missing " + std::string(fitter::FeatureName(f)) +
                           ", which law " + family + " reads",
                       FeatureList([&] {
                         std::vector<fitter::Feature> at;
                         for (const FeatureValue& fv : q.at)
                           at.push_back(fv.feature);
                         return at;
                       }()));
    }
  }
  return OkStatus();
}

Status ValidateQuestion(const CampaignSpec& spec,
                        const std::vector<fitter::Feature>& features) {
  const QuestionSpec& q = spec.question;
  MOESWEEP_RETURN_IF_ERROR(ValidateQuestionFields(q));
  switch (q.kind) {
    case QuestionKind::kComputeOptimalLoss:
    case QuestionKind::kOptimalArchitecture:
      // fitter::SolveOptimal has a cost model for every built-in family, and
      // for an expr law over params and tokens alone (C = 6·N·D).
      if (spec.law.family == "expr") {
        for (fitter::Feature f : features) {
          if (f != fitter::Feature::kParams && f != fitter::Feature::kTokens) {
            return RuleError("question.kind",
                             "needs a cost model, which an expr law has only "
                             "over params and tokens",
                             "a law reading " + FeatureList(features));
          }
        }
      }
      return OkStatus();
    case QuestionKind::kLawParameter: {
      MOESWEEP_ASSIGN_OR_RETURN(std::vector<std::string> names,
                                LawParameterNames(spec));
      if (std::find(names.begin(), names.end(), q.name) == names.end()) {
        return RuleError("question.name",
                         "must be a parameter of law " + spec.law.family +
                             " (" + Join(names) + ")",
                         "'" + q.name + "'");
      }
      return OkStatus();
    }
    case QuestionKind::kPrediction:
      return ValidatePrediction(q, spec.law.family, features);
  }
  return OkStatus();
}

}  // namespace

std::string FormatNumber(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, result.ptr);
  // "1e+19" -> "1e19", "1e-07" -> "1e-7": both read back the same; the
  // short one reads better.
  if (const std::size_t e = text.find('e'); e != std::string::npos) {
    std::size_t digits = e + 1;
    if (text[digits] == '+') {
      text.erase(digits, 1);
    } else if (text[digits] == '-') {
      ++digits;
    }
    while (digits + 1 < text.size() && text[digits] == '0')
      text.erase(digits, 1);
  }
  return text;
}

Status RuleError(std::string_view path, std::string_view rule,
                 std::string_view got) {
  // Quote a short prefix of the bad value, never all of it: an error echoing
  // megabytes back would itself fail (gRPC's metadata limit).
  constexpr std::size_t kQuoted = 64;
  std::string quoted(got.substr(0, kQuoted));
  while (quoted.size() < got.size() && !quoted.empty() &&
         (static_cast<unsigned char>(got[quoted.size()]) & 0xc0) == 0x80) {
    quoted.pop_back();  // do not split a UTF-8 sequence
  }
  if (quoted.size() < got.size()) quoted += "...";
  return InvalidArgumentError(std::string(path) + ": " + std::string(rule) +
                              ", got " + quoted);
}

Status RuleError(std::string_view path, std::string_view rule, double got) {
  return RuleError(path, rule, FormatNumber(got));
}

StatusOr<fitter::Law> LawShape(const CampaignSpec& spec) {
  fitter::Law law;
  law.family = spec.law.family;
  if (law.family != "expr") {
    std::vector<std::string> known;
    for (std::string_view n : fitter::FamilyNames()) known.emplace_back(n);
    if (std::find(known.begin(), known.end(), law.family) == known.end()) {
      known.emplace_back("expr");
      return RuleError("law.family", "must be one of " + Join(known),
                       "'" + law.family + "'");
    }
    return law;
  }
  law.expr = spec.law.expr;
  if (StatusOr<std::vector<fitter::Feature>> features =
          fitter::LawFeatures(law);
      !features.ok()) {
    return InvalidArgumentError("law.expression: " +
                                std::string(features.status().message()));
  }
  return law;
}

StatusOr<std::vector<std::string>> LawParameterNames(const CampaignSpec& spec) {
  MOESWEEP_ASSIGN_OR_RETURN(fitter::Law law, LawShape(spec));
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<std::string> theta_names,
                            fitter::ThetaNames(law));
  // Natural names come with a value; any finite θ will do.
  law.theta.assign(theta_names.size(), 0.0);
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<fitter::NamedValue> natural,
                            fitter::NaturalParams(law));
  std::vector<std::string> names;
  for (const fitter::NamedValue& v : natural) names.push_back(v.name);
  return names;
}

Status ValidateCampaignSpec(const CampaignSpec& spec) {
  MOESWEEP_RETURN_IF_ERROR(ValidateName(spec.name));
  MOESWEEP_RETURN_IF_ERROR(ValidateLaw(spec.law));
  MOESWEEP_ASSIGN_OR_RETURN(const fitter::Law law, LawShape(spec));
  MOESWEEP_ASSIGN_OR_RETURN(const std::vector<fitter::Feature> features,
                            fitter::LawFeatures(law));
  MOESWEEP_RETURN_IF_ERROR(ValidateSpace(spec, features));
  MOESWEEP_RETURN_IF_ERROR(ValidateLimitsAndBudget(spec));
  MOESWEEP_RETURN_IF_ERROR(ValidateQuestion(spec, features));
  const double width = spec.target_relative_width;
  if (!(width > 0 && width < 1))
    return RuleError("target.relative_width", "must be in (0, 1)", width);
  if (spec.max_parallel_runs < 1) {
    return RuleError("max_parallel_runs", "must be >= 1",
                     std::to_string(spec.max_parallel_runs));
  }
  MOESWEEP_RETURN_IF_ERROR(ValidateTraining(spec));
  return spec.validate ? ValidateValidation(*spec.validate) : OkStatus();
}

}  // namespace moesweep::campaign
