// The YAML spellings of the spec's enums. Stored in normalized specs: never
// respell one.

#include <string>

#include "campaign/campaign.h"

namespace moesweep::campaign {
namespace {

template <typename Enum, std::size_t N>
StatusOr<Enum> FromName(std::string_view name, const Enum (&all)[N],
                        std::string_view (*to_name)(Enum)) {
  std::string known;
  for (Enum e : all) {
    if (to_name(e) == name) return e;
    known += (known.empty() ? "" : ", ") + std::string(to_name(e));
  }
  return InvalidArgumentError("must be one of " + known + ", got '" +
                              std::string(name) + "'");
}

constexpr QuestionKind kQuestionKinds[] = {
    QuestionKind::kComputeOptimalLoss, QuestionKind::kOptimalArchitecture,
    QuestionKind::kLawParameter, QuestionKind::kPrediction};
constexpr Schedule kSchedules[] = {Schedule::kCosine, Schedule::kWsd};
constexpr Strategy kStrategies[] = {Strategy::kActive, Strategy::kGrid,
                                    Strategy::kRandom, Strategy::kSobol,
                                    Strategy::kHolistic};

}  // namespace

std::string_view QuestionKindName(QuestionKind kind) {
  switch (kind) {
    case QuestionKind::kComputeOptimalLoss:
      return "compute_optimal_loss";
    case QuestionKind::kOptimalArchitecture:
      return "optimal_architecture";
    case QuestionKind::kLawParameter:
      return "law_parameter";
    case QuestionKind::kPrediction:
      return "prediction";
  }
  return "unknown";
}

std::string_view ScheduleName(Schedule schedule) {
  switch (schedule) {
    case Schedule::kCosine:
      return "cosine";
    case Schedule::kWsd:
      return "wsd";
  }
  return "unknown";
}

StatusOr<QuestionKind> QuestionKindFromName(std::string_view name) {
  return FromName(name, kQuestionKinds, &QuestionKindName);
}

StatusOr<Schedule> ScheduleFromName(std::string_view name) {
  return FromName(name, kSchedules, &ScheduleName);
}

StatusOr<Strategy> StrategyFromName(std::string_view name) {
  return FromName(name, kStrategies, &fitter::StrategyName);
}

}  // namespace moesweep::campaign
