// The `expr` family: a law the user writes as a string (expr_parser.h),
// fitted in natural units (θ = the declared parameters, as written).
//
// Ceres's autodiff needs the parameter count at compile time, so the objective
// builders are instantiated for 1..kMaxParams parameters and picked at run
// time. Every functor they make shares ownership of the parsed law, so it stays
// valid whatever happens to the family that made it.

#include <array>
#include <cctype>
#include <memory>
#include <string>
#include <utility>

#include "ceres/ceres.h"
#include "fitter/expr_parser.h"
#include "fitter/family.h"
#include "fitter/huber_objective.h"

namespace moesweep::fitter {
namespace {

// Ceres instantiates a Jet of this width; beyond it compile time and the start
// grid (a product over parameters) both grow past use.
constexpr int kMaxParams = 16;

// The parsed law. Immutable; owned jointly by the family and every objective
// it makes.
struct ExprLaw {
  ExprSpec spec;  // owns the names `params` views
  ExprTree tree;
  std::vector<ParamSpec> params;  // θ's coordinates, in spec order
};

// log L̂ − log L for one run. False when L̂ is not a finite number > 0, which
// marks θ infeasible for the line search and the trust region (STYLE H12).
class ExprResidual {
 public:
  ExprResidual(std::shared_ptr<const ExprTree> tree, const Observation& run)
      : tree_(std::move(tree)),
        features_(FeatureValues(run)),
        log_loss_(std::log(run.loss)) {}

  template <typename T>
  bool operator()(const T* theta, T* residual) const {
    using std::isfinite;
    using std::log;
    const T predicted = EvalExpr(*tree_, theta, features_.data());
    if (!(expr_internal::Scalar(predicted) > 0) || !isfinite(predicted)) {
      return false;
    }
    residual[0] = log(predicted) - log_loss_;
    return isfinite(residual[0]);
  }

 private:
  std::shared_ptr<const ExprTree> tree_;
  std::array<double, kNumFeatures> features_;
  double log_loss_;
};

// An objective of huber_objective.h that also keeps the law alive, since its
// `specs` view the law's bounds.
template <template <typename> class Objective>
struct Owning {
  std::shared_ptr<const ExprLaw> law;
  Objective<ExprResidual> objective;

  template <typename T>
  bool operator()(const T* theta, T* out) const {
    return objective(theta, out);
  }
};

std::vector<ExprResidual> Residuals(const std::shared_ptr<const ExprLaw>& law,
                                    std::span<const Observation> runs) {
  const std::shared_ptr<const ExprTree> tree(law, &law->tree);
  std::vector<ExprResidual> residuals;
  residuals.reserve(runs.size());
  for (const Observation& run : runs) residuals.emplace_back(tree, run);
  return residuals;
}

template <int kNumParams>
ceres::FirstOrderFunction* MakeHuberSum(
    const std::shared_ptr<const ExprLaw>& law,
    std::span<const Observation> runs, double delta) {
  using Functor = Owning<HuberSum>;
  auto* f = new Functor{law, {Residuals(law, runs), {}, law->params, delta}};
  for (const Observation& run : runs)
    f->objective.weights.push_back(run.weight);
  return new ceres::AutoDiffFirstOrderFunction<Functor, kNumParams>(f);
}

template <int kNumParams>
ceres::CostFunction* MakeSqrtHuberResiduals(
    const std::shared_ptr<const ExprLaw>& law,
    std::span<const Observation> runs, double delta) {
  using Functor = Owning<SqrtHuberResiduals>;
  auto* f = new Functor{law, {Residuals(law, runs), {}, law->params, delta}};
  for (const Observation& run : runs) {
    f->objective.sqrt_weights.push_back(std::sqrt(run.weight));
  }
  return new ceres::AutoDiffCostFunction<Functor, ceres::DYNAMIC, kNumParams>(
      f, static_cast<int>(runs.size()));
}

using HuberSumMaker =
    ceres::FirstOrderFunction* (*)(const std::shared_ptr<const ExprLaw>&,
                                   std::span<const Observation>, double);
using SqrtHuberMaker =
    ceres::CostFunction* (*)(const std::shared_ptr<const ExprLaw>&,
                             std::span<const Observation>, double);

// Index p holds the builders for p + 1 parameters.
template <int... kIndex>
constexpr std::array<HuberSumMaker, kMaxParams> HuberSumMakers(
    std::integer_sequence<int, kIndex...>) {
  return {&MakeHuberSum<kIndex + 1>...};
}
template <int... kIndex>
constexpr std::array<SqrtHuberMaker, kMaxParams> SqrtHuberMakers(
    std::integer_sequence<int, kIndex...>) {
  return {&MakeSqrtHuberResiduals<kIndex + 1>...};
}
constexpr auto kHuberSumMakers =
    HuberSumMakers(std::make_integer_sequence<int, kMaxParams>());
constexpr auto kSqrtHuberMakers =
    SqrtHuberMakers(std::make_integer_sequence<int, kMaxParams>());

class ExprFamily final : public Family {
 public:
  explicit ExprFamily(std::shared_ptr<const ExprLaw> law)
      : law_(std::move(law)) {}

  std::string_view name() const override { return "expr"; }
  std::span<const ParamSpec> params() const override { return law_->params; }

  // The product of the parameters' starts, the last parameter varying
  // fastest.
  std::vector<std::vector<double>> StartGrid() const override {
    std::vector<std::vector<double>> grid = {{}};
    for (const ExprParam& p : law_->spec.params) {
      std::vector<std::vector<double>> next;
      next.reserve(grid.size() * p.starts.size());
      for (const std::vector<double>& prefix : grid) {
        for (double start : p.starts) {
          next.push_back(prefix);
          next.back().push_back(start);
        }
      }
      grid = std::move(next);
    }
    return grid;
  }

  std::span<const Feature> features() const override {
    return law_->tree.features;
  }

  // NaN or −inf where L̂ <= 0: θ is then infeasible for this run.
  double LogPredict(const double* theta,
                    const Observation& run) const override {
    const std::array<double, kNumFeatures> x = FeatureValues(run);
    return std::log(EvalExpr(law_->tree, theta, x.data()));
  }

  ceres::FirstOrderFunction* NewHuberSum(std::span<const Observation> runs,
                                         double delta) const override {
    return kHuberSumMakers[law_->params.size() - 1](law_, runs, delta);
  }

  ceres::CostFunction* NewSqrtHuberResiduals(std::span<const Observation> runs,
                                             double delta) const override {
    return kSqrtHuberMakers[law_->params.size() - 1](law_, runs, delta);
  }

  // C = 6·N·D, the default: the only cost an expression over params and
  // tokens implies.
  StatusOr<std::vector<SizeSearch>> SizeSearches(
      const BudgetContext& b) const override {
    for (Feature f : features()) {
      if (f != Feature::kParams && f != Feature::kTokens) {
        return FailedPreconditionError(
            "an expr law has a cost model only over params and tokens (C = "
            "6·N·D); this one reads " +
            std::string(FeatureName(f)));
      }
    }
    return Family::SizeSearches(b);
  }

 private:
  const std::shared_ptr<const ExprLaw> law_;
};

bool IsFunctionName(std::string_view name) {
  return name == "log" || name == "exp" || name == "min" || name == "max";
}

bool IsIdentifier(std::string_view name) {
  if (name.empty() ||
      !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) {
    return false;
  }
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
      return false;
    }
  }
  return true;
}

Status CheckParam(const ExprParam& p) {
  const std::string where = "expr: parameter '" + p.name + "': ";
  if (!IsIdentifier(p.name)) {
    return InvalidArgumentError(
        "expr: parameter name '" + p.name +
        "' must be a letter or '_' followed by letters, digits or '_'");
  }
  if (IsFunctionName(p.name) || FeatureFromName(p.name).ok()) {
    return InvalidArgumentError(
        where + "the name is taken by a " +
        (IsFunctionName(p.name) ? "function" : "feature"));
  }
  if (std::isnan(p.lower) || std::isnan(p.upper) || !(p.lower < p.upper)) {
    return InvalidArgumentError(where + "needs lower < upper, got [" +
                                std::to_string(p.lower) + ", " +
                                std::to_string(p.upper) + "]");
  }
  if (p.starts.empty()) {
    return InvalidArgumentError(where + "needs at least one start");
  }
  for (double s : p.starts) {
    if (!(s >= p.lower && s <= p.upper)) {
      return InvalidArgumentError(
          where + "start " + std::to_string(s) + " is outside its bounds [" +
          std::to_string(p.lower) + ", " + std::to_string(p.upper) + "]");
    }
  }
  return OkStatus();
}

Status CheckParams(const ExprSpec& spec) {
  if (spec.params.empty()) {
    return InvalidArgumentError("expr: declare at least one parameter");
  }
  if (spec.params.size() > static_cast<std::size_t>(kMaxParams)) {
    return InvalidArgumentError("expr: at most " + std::to_string(kMaxParams) +
                                " parameters, got " +
                                std::to_string(spec.params.size()));
  }
  for (std::size_t i = 0; i < spec.params.size(); ++i) {
    MOESWEEP_RETURN_IF_ERROR(CheckParam(spec.params[i]));
    for (std::size_t j = 0; j < i; ++j) {
      if (spec.params[j].name == spec.params[i].name) {
        return InvalidArgumentError("expr: parameter '" + spec.params[i].name +
                                    "' is declared twice");
      }
    }
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<const Family>> NewExprFamily(const ExprSpec& spec) {
  MOESWEEP_RETURN_IF_ERROR(CheckParams(spec));
  auto law = std::make_shared<ExprLaw>();
  law->spec = spec;
  std::vector<std::string> names;
  for (const ExprParam& p : law->spec.params) names.push_back(p.name);
  MOESWEEP_ASSIGN_OR_RETURN(law->tree, ParseExpr(spec.expression, names));
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!law->tree.param_used[i]) {
      return InvalidArgumentError("expr: parameter '" + names[i] +
                                  "' is declared but not used in \"" +
                                  spec.expression + "\"");
    }
  }
  for (const ExprParam& p : law->spec.params) {
    law->params.push_back({.name = p.name,
                           .natural_name = p.name,
                           .log_scale = false,
                           .exponent = false,
                           .lower = p.lower,
                           .upper = p.upper});
  }
  return std::unique_ptr<const Family>(
      std::make_unique<ExprFamily>(std::move(law)));
}

}  // namespace moesweep::fitter
