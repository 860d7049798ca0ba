// Learning-rate rules of the training settings, their validation, and the
// advice about run lengths.

#include <algorithm>
#include <cassert>
#include <cmath>

#include "campaign/campaign.h"
#include "campaign/campaign_internal.h"

namespace moesweep::campaign {
namespace {

// [lower, upper], finite; INVALID_ARGUMENT naming `path` otherwise.
Status InRange(std::string_view path, double value, double lower, double upper,
               std::string_view rule) {
  if (!(value >= lower && value <= upper)) return RuleError(path, rule, value);
  return OkStatus();
}

Status ValidateLr(const TrainingSpec& t) {
  const bool power = t.lr_rule == LrRule::kPower;
  if (t.lr_rule == LrRule::kConstant) {
    if (!(t.lr_constant > 0 && t.lr_constant < 1))
      return RuleError("training.lr.constant", "must be in (0, 1)",
                       t.lr_constant);
  } else if (t.lr_constant != 0) {
    return RuleError("training.lr.constant", "used only without a rule",
                     t.lr_constant);
  }
  if (!power) {
    if (t.lr_power != PowerLrRule{}) {
      return RuleError("training.lr.base",
                       "base, exponent and reference go only with rule power",
                       t.lr_power.base);
    }
    return OkStatus();
  }
  const PowerLrRule& p = t.lr_power;
  if (!(p.base > 0 && p.base < 1))
    return RuleError("training.lr.base", "must be in (0, 1)", p.base);
  MOESWEEP_RETURN_IF_ERROR(
      InRange("training.lr.exponent", p.exponent, 0, 2, "must be in [0, 2]"));
  MOESWEEP_RETURN_IF_ERROR(InRange("training.lr.reference", p.reference, 1,
                                   1e15, "must be in [1, 1e15] parameters"));
  return InRange("training.lr.experts_exponent", p.experts_exponent, 0, 2,
                 "must be in [0, 2]");
}

}  // namespace

double LearningRate(const TrainingSpec& training, double active_non_embed,
                    double num_experts) {
  assert(active_non_embed >= 1 && num_experts >= 1);
  switch (training.lr_rule) {
    case LrRule::kConstant:
      return training.lr_constant;
    case LrRule::kLudziejewski:
      // Ludziejewski et al. 2025, finding 4: more experts call for a lower
      // rate (LAWS.md §4e).
      return std::exp(8.39 - 0.81 * std::log(active_non_embed) -
                      0.25 * std::log(num_experts));
    case LrRule::kPower: {
      const PowerLrRule& p = training.lr_power;
      return std::min(
          p.base * std::pow(active_non_embed / p.reference, -p.exponent) *
              std::pow(num_experts, -p.experts_exponent),
          kMaxLearningRate);
    }
  }
  return training.lr_constant;
}

Status ValidateTraining(const CampaignSpec& spec) {
  const TrainingSpec& t = spec.training;
  MOESWEEP_RETURN_IF_ERROR(ValidateLr(t));
  const double min_tokens = AxisMin(spec.space.tokens);
  if (t.warmup_tokens) {
    const double w = *t.warmup_tokens;
    if (!(w >= 0))
      return RuleError("training.warmup_tokens", "must be >= 0", w);
    if (!(w < min_tokens)) {
      return RuleError("training.warmup_tokens",
                       "must be < the smallest space.tokens (" +
                           FormatNumber(min_tokens) + ")",
                       w);
    }
  }
  if (t.batch_tokens) {
    const double b = *t.batch_tokens;
    if (!(b > 0 && std::isfinite(b)))
      return RuleError("training.batch_tokens", "must be finite and > 0", b);
    if (b != std::floor(b))
      return RuleError("training.batch_tokens", "must be an integer", b);
    if (b > min_tokens) {
      return RuleError("training.batch_tokens",
                       "must be <= the smallest space.tokens (" +
                           FormatNumber(min_tokens) + ")",
                       b);
    }
    const std::int64_t seq_len = spec.space.seq_len;
    if (spec.space.kind == SpaceKind::kArchitecture &&
        std::fmod(b, static_cast<double>(seq_len)) != 0) {
      return RuleError("training.batch_tokens",
                       "must be a multiple of space.seq_len (" +
                           std::to_string(seq_len) + ")",
                       b);
    }
  }
  if (t.eval_every_tokens) {
    const double e = *t.eval_every_tokens;
    if (!(e > 0 && std::isfinite(e)))
      return RuleError("training.eval_every_tokens", "must be > 0", e);
  }
  if (t.branching) {
    if (t.schedule != Schedule::kWsd) {
      return InvalidArgumentError(
          "training.branching: needs training.schedule: wsd (a cosine run has "
          "no constant-rate phase to branch from)");
    }
    if (spec.strategy != fitter::Strategy::kActive) {
      return InvalidArgumentError(
          "training.branching: needs strategy: active (only the active "
          "proposer prices branches)");
    }
    if (!spec.space.tokens.values.empty()) {
      return InvalidArgumentError(
          "training.branching: needs space.tokens as a range (min, max), not "
          "a list: a branch trains at the token count its checkpoint sets");
    }
  }
  return OkStatus();
}

std::vector<std::string> CampaignSpecWarnings(const CampaignSpec& spec) {
  std::vector<std::string> warnings;
  const std::optional<double>& batch = spec.training.batch_tokens;
  const double min_tokens = AxisMin(spec.space.tokens);
  if (batch && min_tokens < kMinRunSteps * *batch) {
    warnings.push_back(
        "space.tokens: the smallest run, " + FormatNumber(min_tokens) +
        " tokens, is " + FormatNumber(std::ceil(min_tokens / *batch)) +
        " steps of training.batch_tokens (" + FormatNumber(*batch) +
        "); runs of fewer than " + FormatNumber(kMinRunSteps) +
        " steps are still in the steep start of training and sit off the "
        "power law of longer runs: raise space.tokens' min to " +
        FormatNumber(kMinRunSteps * *batch) + " or lower batch_tokens");
  }
  return warnings;
}

}  // namespace moesweep::campaign
