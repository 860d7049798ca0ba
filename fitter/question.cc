// The question a campaign asks of its law: its value and the scale of its
// interval (proposer.h).

#include "fitter/family.h"
#include "fitter/fitter.h"

namespace moesweep::fitter {

StatusOr<double> EvaluateQuestion(const Law& law, const Question& q) {
  switch (q.kind) {
    case QuestionKind::kComputeOptimalLoss: {
      MOESWEEP_ASSIGN_OR_RETURN(OptimalResult r, SolveOptimal(law, q.optimal));
      return r.best.loss;
    }
    case QuestionKind::kOptimalSize: {
      MOESWEEP_ASSIGN_OR_RETURN(OptimalResult r, SolveOptimal(law, q.optimal));
      return r.best.active_params;
    }
    case QuestionKind::kLawParameter: {
      MOESWEEP_ASSIGN_OR_RETURN(std::vector<NamedValue> p, NaturalParams(law));
      if (q.param_index < 0 || q.param_index >= static_cast<int>(p.size())) {
        return InvalidArgumentError("param_index out of range");
      }
      return p[q.param_index].value;
    }
    case QuestionKind::kPrediction:
      return PredictLoss(law, q.at);
  }
  return InvalidArgumentError("unknown question kind");
}

StatusOr<IntervalScale> QuestionScale(const Law& law, const Question& q) {
  switch (q.kind) {
    case QuestionKind::kComputeOptimalLoss:
    case QuestionKind::kOptimalSize:
    case QuestionKind::kPrediction:
      return IntervalScale::kLog;
    case QuestionKind::kLawParameter: {
      MOESWEEP_ASSIGN_OR_RETURN(FamilyHandle family, ResolveFamily(law));
      const auto specs = family->params();
      if (q.param_index < 0 || q.param_index >= static_cast<int>(specs.size()))
        return InvalidArgumentError("param_index out of range");
      // A scale constant is fitted as its logarithm, so its log-scale
      // interval is exp(θ ± z·se): the covariance's own, unlinearised.
      return specs[q.param_index].log_scale ? IntervalScale::kLog
                                            : IntervalScale::kLinear;
    }
  }
  return InvalidArgumentError("unknown question kind");
}

StatusOr<Interval> QuestionInterval(const Law& law,
                                    const LawUncertainty& uncertainty,
                                    const Question& question, double level) {
  MOESWEEP_ASSIGN_OR_RETURN(const IntervalScale scale,
                            QuestionScale(law, question));
  return DeltaMethodInterval(
      law, uncertainty,
      [&](const Law& l) { return EvaluateQuestion(l, question); }, level,
      scale);
}

}  // namespace moesweep::fitter
