// Strategy::kHolistic: Wan et al. 2026's two phases (LAWS.md §6c) as a
// campaign design over an architecture space. Runs sit on three isoFLOP
// budgets. Phase 1 fixes d_model at the middle of its list, where Wan find
// rankings of the other choices barely move with d, and spreads the other
// five lists (which set active compute density M/N_a and the expansion
// N/N_a) by a Sobol design. Phase 2, once phase 1 has been proposed and the
// campaign has a law, takes at each budget the phase-1 architecture with the
// least predicted loss and trains it at every d_model.

#include <algorithm>
#include <cmath>

#include "fitter/family.h"
#include "fitter/fitter.h"
#include "fitter/sobol.h"

namespace moesweep::fitter {
namespace {

constexpr int kBudgets = 3;
// Combinations of the five lists scored in phase 2; a larger product is
// sampled by a Sobol design of this many points instead.
constexpr std::size_t kMaxCombinations = 4096;

// Unit coordinate of entry i of a list of n (its middle, so ArchitectureAt
// maps it back to i).
double UnitOf(std::size_t i, std::size_t n) {
  return (static_cast<double>(i) + 0.5) / static_cast<double>(n);
}

// The budgets: the largest run's FLOPs over 64, 16 and 4, so that most of
// the space can reach each within its token range.
std::vector<double> Budgets(const Law& shape, const DesignSpace& space) {
  const double top = LargestRunFlops(shape, space);
  return {top / 64, top / 16, top / 4};
}

// The run at architecture coordinates `unit` (six, the token coordinate
// ignored) trained for `budget` FLOPs, if its tokens fall in the token
// axis's range and it meets the per-run caps.
std::optional<Candidate> OnBudget(const Law& shape, const DesignSpace& space,
                                  std::vector<double> unit, double budget) {
  StatusOr<Candidate> one = CandidateAt(shape, space, unit);
  if (!one.ok()) return std::nullopt;
  Observation at = one->at;
  at.tokens = 1;
  StatusOr<double> per_token = RunFlops(shape, at);
  if (!per_token.ok() || !(*per_token > 0)) return std::nullopt;
  const double tokens = budget / *per_token;
  for (std::size_t i = 6; i < unit.size(); ++i) {
    const FeatureRange& a = space.axes[i - 6];
    if (a.feature != Feature::kTokens) continue;
    const double lo = a.values.empty()
                          ? a.min
                          : *std::min_element(a.values.begin(), a.values.end());
    const double hi = a.values.empty()
                          ? a.max
                          : *std::max_element(a.values.begin(), a.values.end());
    if (tokens < lo || tokens > hi) return std::nullopt;
    unit[i] = a.log_scale && lo > 0 && hi > lo
                  ? std::log(tokens / lo) / std::log(hi / lo)
                  : (hi > lo ? (tokens - lo) / (hi - lo) : 0);
  }
  Candidate c = *std::move(one);
  c.unit = std::move(unit);
  c.at.tokens = c.at.unique_tokens = tokens;
  c.flops = budget;
  c.added_flops = budget;
  if ((space.max_run_flops > 0 && c.flops > space.max_run_flops) ||
      (space.max_run_tokens > 0 && tokens > space.max_run_tokens)) {
    return std::nullopt;
  }
  return c;
}

// Phase 2's architecture at `budget`: the phase-1 combination (d_model at
// the middle) the law predicts best.
std::optional<Candidate> BestAtMiddle(const Law& law, const Family& family,
                                      const DesignSpace& space, double budget,
                                      std::uint64_t seed) {
  const ArchitectureAxes& a = *space.architecture;
  const std::vector<const std::vector<double>*> lists = {
      &a.layers, &a.experts, &a.top_k, &a.granularity, &a.shared};
  std::size_t product = 1;
  for (const auto* list : lists) product *= list->size();
  const bool sampled = product > kMaxCombinations;
  const std::size_t count = sampled ? kMaxCombinations : product;
  const std::vector<double> shift(
      5, 0.5 * static_cast<double>(seed % 97) / 97);  // sampled only
  std::optional<Candidate> best;
  double best_loss = 0;
  for (std::size_t k = 0; k < count; ++k) {
    std::vector<double> unit(static_cast<std::size_t>(space.dims()), 0.5);
    unit[0] = UnitOf(a.d_model.size() / 2, a.d_model.size());
    if (sampled) {
      const std::vector<double> s =
          SobolPoint(static_cast<std::uint32_t>(k), 5, shift);
      for (int d = 0; d < 5; ++d) unit[1 + d] = s[d];
    } else {
      std::size_t rest = k;
      for (int d = 0; d < 5; ++d) {
        const std::size_t n = lists[d]->size();
        unit[1 + d] = UnitOf(rest % n, n);
        rest /= n;
      }
    }
    std::optional<Candidate> c = OnBudget(law, space, unit, budget);
    if (!c) continue;
    const double loss = family.LogPredict(law.theta.data(), c->at);
    if (std::isfinite(loss) && (!best || loss < best_loss)) {
      best = std::move(c);
      best_loss = loss;
    }
  }
  return best;
}

}  // namespace

StatusOr<std::vector<Candidate>> HolisticRuns(const Law& shape,
                                              const DesignSpace& space,
                                              const ProposeRequest& request) {
  if (!space.architecture) {
    return InvalidArgumentError(
        "strategy holistic needs an architecture space (d_model, layers, "
        "experts, ...), whose d_model it fixes and then varies");
  }
  const ArchitectureAxes& axes = *space.architecture;
  const std::vector<double> budgets = Budgets(shape, space);
  if (!(budgets[0] > 0)) {
    return FailedPreconditionError(
        "strategy holistic: the design space's largest run costs no FLOPs");
  }
  std::optional<FamilyHandle> family;
  if (request.law != nullptr) {
    MOESWEEP_ASSIGN_OR_RETURN(family, ResolveFamily(*request.law));
  }
  const std::vector<double> shift = [&] {
    std::vector<double> s(6);
    for (int d = 0; d < 6; ++d)
      s[d] = std::fmod(0.618034 * (request.seed + 1) * (d + 1), 1.0);
    return s;
  }();
  std::vector<Candidate> out;
  std::optional<std::optional<Candidate>> best_at[kBudgets];  // phase 2
  int drawn = 0;
  for (int i = request.proposed_before;
       static_cast<int>(out.size()) < request.batch; ++i) {
    if (++drawn > 100000) {
      return FailedPreconditionError(
          "strategy holistic: no architecture of the space reaches its "
          "budgets within the token range and the per-run caps");
    }
    const double budget = budgets[static_cast<std::size_t>(i) % kBudgets];
    const int round = i / kBudgets;
    std::optional<Candidate> c;
    const int sweep = round - kHolisticPhaseOneRounds;  // phase 2's d index
    const std::size_t n = axes.d_model.size();
    if (family && sweep >= static_cast<int>(n)) {
      // Both phases done: the whole space, on the same budgets.
      std::vector<double> unit(static_cast<std::size_t>(space.dims()), 0.5);
      const std::vector<double> s =
          SobolPoint(static_cast<std::uint32_t>(i), 6, shift);
      std::copy(s.begin(), s.end(), unit.begin());
      c = OnBudget(shape, space, unit, budget);
    } else if (family && sweep >= 0) {
      // Phase 2: d_model varies, the rest is phase 1's best at this budget.
      // Scored once a budget per call: a batch visits each budget often.
      const std::size_t b = static_cast<std::size_t>(i) % kBudgets;
      if (!best_at[b]) {
        best_at[b] =
            BestAtMiddle(*request.law, **family, space, budget, request.seed);
      }
      const std::optional<Candidate>& best = *best_at[b];
      if (!best) continue;
      std::vector<double> unit = best->unit;
      unit[0] = UnitOf(static_cast<std::size_t>(sweep), n);
      c = OnBudget(shape, space, unit, budget);
    } else {
      // Phase 1: d_model at the middle, the rest from a Sobol design.
      std::vector<double> unit(static_cast<std::size_t>(space.dims()), 0.5);
      unit[0] = UnitOf(axes.d_model.size() / 2, axes.d_model.size());
      const std::vector<double> s =
          SobolPoint(static_cast<std::uint32_t>(i), 5,
                     std::vector<double>(shift.begin(), shift.begin() + 5));
      for (int d = 0; d < 5; ++d) unit[1 + d] = s[d];
      c = OnBudget(shape, space, unit, budget);
    }
    if (c) out.push_back(*std::move(c));
  }
  return out;
}

}  // namespace moesweep::fitter
