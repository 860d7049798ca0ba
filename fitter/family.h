// Internal: what a law family declares (LAWS.md §9). Not part of the public API
// (fitter.h).

#ifndef MOESWEEP_FITTER_FAMILY_H_
#define MOESWEEP_FITTER_FAMILY_H_

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "fitter/fitter.h"

namespace ceres {
class CostFunction;
class FirstOrderFunction;
}  // namespace ceres

namespace moesweep::fitter {

// One coordinate of θ.
struct ParamSpec {
  std::string_view name;          // optimiser coordinate, e.g. "a"
  std::string_view natural_name;  // e.g. "A"
  bool log_scale;                 // natural = exp(θ); otherwise natural = θ
  bool exponent;  // compared by the multi-start disagreement check
  double lower;   // box bounds on θ
  double upper;
};

// One size search of SolveOptimal (optimal.cc), for one discrete choice: the
// model at log size x for x in [lo, hi]; the model grows with x.
struct SizeSearch {
  std::function<OptimalPoint(double x)> point;
  double lo = 0, hi = 0;
};

// What a family's size searches read: the law, the budget and its caps, and
// the law's loss at a model (infinity where the model breaks a cap or the
// law does not evaluate).
struct BudgetContext {
  const Law& law;
  const OptimalOptions& options;
  std::function<double(const OptimalPoint& model, const Observation& at)> loss;
};

// A law family. Implementations are immutable singletons. Thread-safe.
class Family {
 public:
  virtual ~Family() = default;

  virtual std::string_view name() const = 0;
  virtual std::span<const ParamSpec> params() const = 0;
  // The family's default starting points (θ coordinates).
  virtual std::vector<std::vector<double>> StartGrid() const = 0;
  // The features LogPredict reads.
  virtual std::span<const Feature> features() const = 0;
  // log L̂(x; θ). REQUIRES: CheckFeatures(*this, run).ok(), theta has
  // params().size() values.
  virtual double LogPredict(const double* theta,
                            const Observation& run) const = 0;
  // Σ w·Huber_δ(log L̂ − log L) over `runs` with its gradient; evaluation fails
  // outside the bounds. The caller owns the result. REQUIRES: every run passes
  // CheckFeatures.
  virtual ceres::FirstOrderFunction* NewHuberSum(
      std::span<const Observation> runs, double delta) const = 0;
  // The same objective as least squares, ½Σ s_i², one residual per run over one
  // parameter block of params().size() values (huber_objective.h). The caller
  // owns the result.
  virtual ceres::CostFunction* NewSqrtHuberResiduals(
      std::span<const Observation> runs, double delta) const = 0;

  // The family's cost model, as its law was fitted (LAWS.md §7), and the one
  // every caller uses: RunFlops (the proposer's and the coordinator's
  // planned FLOPs) and SolveOptimal. The default is C = 6·N·D over params
  // and tokens (Chinchilla's convention).
  virtual double TrainingFlops(const Observation& run) const;
  // The sizes SolveOptimal varies at a budget under that cost model: one
  // search per discrete choice. The default searches N at C = 6·N·D.
  // FAILED_PRECONDITION when the family cannot answer the question.
  virtual StatusOr<std::vector<SizeSearch>> SizeSearches(
      const BudgetContext& budget) const;
};

// The least loss of point(x) over x in [lo, hi]: a scan of `points` then a
// golden-section refinement (SolveOptimal's own search; for a family's inner
// search over a second size).
OptimalPoint MinimizeOverLogSize(
    const std::function<OptimalPoint(double)>& point, double lo, double hi,
    int points);

// The bound θ_i = `theta` sits on (kAtBoundTolerance, core.h), if any.
std::optional<BoundSide> SideAtBound(const ParamSpec& spec, double theta);

// OK when every feature `family` reads is finite and > 0 (num_shared and
// shared_ratio: >= 0, shared_ratio < 1); otherwise names the feature.
Status CheckFeatures(const Family& family, const Observation& run);

// ∂ log L̂(at)/∂θ. INVALID_ARGUMENT when the law cannot be evaluated there.
StatusOr<std::vector<double>> LogPredictGradient(
    const Family& family, const std::vector<double>& theta,
    const Observation& at);

// A user law's family. INVALID_ARGUMENT for a bad expression or parameters.
StatusOr<std::unique_ptr<const Family>> NewExprFamily(const ExprSpec& spec);

// The family of a law: a built-in singleton, or an owned expr family.
class FamilyHandle {
 public:
  explicit FamilyHandle(const Family* builtin) : family_(builtin) {}
  explicit FamilyHandle(std::unique_ptr<const Family> owned)
      : owned_(std::move(owned)), family_(owned_.get()) {}
  const Family& operator*() const { return *family_; }
  const Family* operator->() const { return family_; }

 private:
  std::unique_ptr<const Family> owned_;
  const Family* family_;
};

// The family of `law` (built-in by name, or law.expr for "expr").
StatusOr<FamilyHandle> ResolveFamily(const Law& law);

// nullptr when no family has that name.
const Family* FindFamily(std::string_view name);
// NOT_FOUND naming the known families.
StatusOr<const Family*> LookupFamily(std::string_view name);

const Family& ChinchillaFamily();
const Family& FinegrainedFamily();
const Family& JointFamily();
const Family& DatablationsFamily();
const Family& ComprehensiveFamily();

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_FAMILY_H_
