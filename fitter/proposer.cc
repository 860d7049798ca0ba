// ProposeRuns(): space-filling baselines and the Var(Q)-per-FLOP proposer.

#include "fitter/proposer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "fitter/branches.h"
#include "fitter/family.h"
#include "fitter/fitter.h"
#include "fitter/sobol.h"

namespace moesweep::fitter {
namespace {

// Sobol points tried before giving up on finding one inside the caps.
constexpr int kMaxDraws = 100000;

std::vector<double> Shift(std::uint64_t seed, int dims) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
  std::vector<double> shift(dims);
  for (double& s : shift) s = std::uniform_real_distribution<double>(0, 1)(rng);
  return shift;
}

bool WithinCaps(const DesignSpace& space, const Candidate& c) {
  return (space.max_run_flops <= 0 || c.flops <= space.max_run_flops) &&
         (space.max_run_tokens <= 0 || c.at.tokens <= space.max_run_tokens);
}

// The position-th point of a space-filling design in unit coordinates.
std::vector<double> DesignPoint(Strategy strategy, const DesignSpace& space,
                                std::uint64_t seed, std::uint32_t position) {
  const int dims = space.dims();
  if (strategy == Strategy::kRandom) {
    std::mt19937_64 rng(seed * 1000003 + position);
    std::vector<double> u(dims);
    for (double& x : u) x = std::uniform_real_distribution<double>(0, 1)(rng);
    return u;
  }
  if (strategy == Strategy::kGrid) {
    // A full-factorial grid (4 levels a range, every value of a list),
    // visited in a seeded random order so any prefix covers the space.
    std::vector<int> levels;
    std::uint64_t cells = 1;
    if (space.architecture) {
      const ArchitectureAxes& arch = *space.architecture;
      for (const auto* list : {&arch.d_model, &arch.layers, &arch.experts,
                               &arch.top_k, &arch.granularity, &arch.shared}) {
        levels.push_back(static_cast<int>(list->size()));
        cells *= levels.back();
      }
    }
    for (const FeatureRange& a : space.axes) {
      levels.push_back(a.values.empty() ? 4
                                        : static_cast<int>(a.values.size()));
      cells *= levels.back();
    }
    std::vector<std::uint64_t> order(cells);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
    std::uint64_t cell = order[position % cells];
    std::vector<double> u(dims);
    for (int d = 0; d < dims; ++d) {
      u[d] = (cell % levels[d] + 0.5) / levels[d];
      cell /= levels[d];
    }
    return u;
  }
  return SobolPoint(position + 1, dims, Shift(seed, dims));
}

StatusOr<std::vector<double>> QuestionGradient(const Law& law,
                                               const LawUncertainty& u,
                                               const Question& question) {
  const std::size_t p = law.theta.size();
  std::vector<double> g(p);
  for (std::size_t i = 0; i < p; ++i) {
    const double h = std::max(1e-3 * std::sqrt(u.covariance[i * p + i]), 1e-9);
    Law plus = law, minus = law;
    plus.theta[i] += h;
    minus.theta[i] -= h;
    MOESWEEP_ASSIGN_OR_RETURN(const double q_plus,
                              EvaluateQuestion(plus, question));
    MOESWEEP_ASSIGN_OR_RETURN(const double q_minus,
                              EvaluateQuestion(minus, question));
    g[i] = (q_plus - q_minus) / (2 * h);
  }
  // The answer's interval is taken on log Q when Q is positive (QuestionScale)
  // and the stopping rule reads its width, so the variance to shrink is
  // Var(log Q) = Var(Q)/Q² (delta method): ∇log Q = ∇Q/Q. Q is fixed within a
  // batch, so the picks are those ∇Q would make; the scores are in the units
  // the stopping rule uses.
  MOESWEEP_ASSIGN_OR_RETURN(const IntervalScale scale,
                            QuestionScale(law, question));
  if (scale == IntervalScale::kLog) {
    MOESWEEP_ASSIGN_OR_RETURN(const double q, EvaluateQuestion(law, question));
    if (!(q > 0)) {
      return FailedPreconditionError("the question's value is not positive");
    }
    for (double& gi : g) gi /= q;
  }
  return g;
}

// Σ ← Σ − (ΣJᵀ)(ΣJᵀ)ᵀ / (JΣJᵀ + σ²): the covariance once a run at J is seen.
void Observe(std::vector<double>& cov, const std::vector<double>& j,
             double noise_var) {
  const std::size_t p = j.size();
  std::vector<double> sj(p, 0.0);
  for (std::size_t a = 0; a < p; ++a)
    for (std::size_t b = 0; b < p; ++b) sj[a] += cov[a * p + b] * j[b];
  double denom = noise_var;
  for (std::size_t a = 0; a < p; ++a) denom += j[a] * sj[a];
  for (std::size_t a = 0; a < p; ++a)
    for (std::size_t b = 0; b < p; ++b) cov[a * p + b] -= sj[a] * sj[b] / denom;
}

// Var(Q) bought by a run at J, per FLOP of its cost.
double Score(const std::vector<double>& cov, const std::vector<double>& g,
             const std::vector<double>& j, double noise_var, double cost) {
  return VarianceReduction(cov, g, j, noise_var) / cost;
}

struct Scored {
  Candidate candidate;
  std::vector<double> jacobian;
  double noise_var;
  double cost;  // FLOPs added plus the per-run overhead
  // A branch's J/σ, computed once: it is scored at every pick of a batch.
  std::vector<double> scaled;
};

// The log-loss noise variance of a run costing `flops` from scratch.
double NoiseVariance(const ProposeRequest& request, double base, double flops) {
  if (request.noise_reference_flops <= 0) return base;
  return base * std::pow(std::max(request.noise_reference_flops / flops, 1.0),
                         2 * request.noise_flops_exponent);
}

}  // namespace

double VarianceReduction(const std::vector<double>& cov,
                         const std::vector<double>& g,
                         const std::vector<double>& j, double noise_var) {
  const std::size_t p = j.size();
  double gsj = 0, jsj = noise_var;
  for (std::size_t a = 0; a < p; ++a) {
    double sj = 0;
    for (std::size_t b = 0; b < p; ++b) sj += cov[a * p + b] * j[b];
    gsj += g[a] * sj;
    jsj += j[a] * sj;
  }
  return gsj * gsj / jsj;
}

Status DesignSpace::Validate() const {
  if (axes.empty()) return InvalidArgumentError("the design space has no axes");
  if (architecture) {
    const ArchitectureAxes& a = *architecture;
    for (const auto* list : {&a.d_model, &a.layers, &a.experts, &a.top_k,
                             &a.granularity, &a.shared}) {
      if (list->empty())
        return InvalidArgumentError("an architecture list is empty");
    }
    if (a.head_dim < 1) return InvalidArgumentError("head_dim must be >= 1");
  }
  if (dims() > kMaxSobolDims) {
    return InvalidArgumentError("the design space has more than 8 axes");
  }
  for (const FeatureRange& a : axes) {
    const std::string name(FeatureName(a.feature));
    if (!a.values.empty()) {
      for (double v : a.values) {
        if (!std::isfinite(v))
          return InvalidArgumentError(name + ": values must be finite");
      }
      continue;
    }
    if (!(a.min <= a.max) || !std::isfinite(a.min) || !std::isfinite(a.max)) {
      return InvalidArgumentError(name + ": need min <= max");
    }
    if (a.log_scale && !(a.min > 0)) {
      return InvalidArgumentError(name + ": a log-scale range needs min > 0");
    }
  }
  return OkStatus();
}

StatusOr<double> RunFlops(const Law& law, const Observation& at) {
  MOESWEEP_ASSIGN_OR_RETURN(FamilyHandle family, ResolveFamily(law));
  return family->TrainingFlops(at);
}

StatusOr<Architecture> ArchitectureAt(const DesignSpace& space,
                                      const std::vector<double>& unit) {
  if (!space.architecture || unit.size() < 6) {
    return InvalidArgumentError("not an architecture space");
  }
  const ArchitectureAxes& axes = *space.architecture;
  auto pick = [&](const std::vector<double>& list, double u) {
    return static_cast<std::int64_t>(list[static_cast<std::size_t>(
        std::clamp(u, 0.0, 1.0 - 1e-12) * list.size())]);
  };
  Architecture arch = axes.base;
  arch.d_model = pick(axes.d_model, unit[0]);
  arch.num_layers = pick(axes.layers, unit[1]);
  arch.num_experts = pick(axes.experts, unit[2]);
  arch.top_k = std::min(pick(axes.top_k, unit[3]), arch.num_experts);
  arch.granularity = pick(axes.granularity, unit[4]);
  arch.num_shared = pick(axes.shared, unit[5]);
  arch.num_heads = std::max<std::int64_t>(arch.d_model / axes.head_dim, 1);
  arch.ffn_hidden =
      static_cast<std::int64_t>(axes.ffn_multiplier * arch.d_model);
  MOESWEEP_RETURN_IF_ERROR(arch.Validate());
  return arch;
}

StatusOr<Candidate> CandidateAt(const Law& law, const DesignSpace& space,
                                const std::vector<double>& unit) {
  if (static_cast<int>(unit.size()) != space.dims()) {
    return InvalidArgumentError("wrong number of coordinates");
  }
  Candidate c;
  c.unit = unit;
  const std::size_t first = space.architecture ? 6 : 0;
  for (std::size_t i = first; i < unit.size(); ++i) {
    const FeatureRange& a = space.axes[i - first];
    const double u = std::clamp(unit[i], 0.0, 1.0 - 1e-12);
    double v;
    if (!a.values.empty()) {
      v = a.values[static_cast<std::size_t>(u * a.values.size())];
    } else if (a.log_scale) {
      v = std::exp(std::log(a.min) + u * (std::log(a.max) - std::log(a.min)));
    } else {
      v = a.min + u * (a.max - a.min);
    }
    c.at.Set(a.feature, v);
  }
  if (space.architecture) {
    MOESWEEP_ASSIGN_OR_RETURN(const Architecture arch,
                              ArchitectureAt(space, unit));
    const double tokens = c.at.tokens;
    c.at = FeaturesOf(arch, tokens);
  }
  if (c.at.unique_tokens == 0) c.at.unique_tokens = c.at.tokens;
  MOESWEEP_ASSIGN_OR_RETURN(c.flops, RunFlops(law, c.at));
  c.added_flops = c.flops;
  return c;
}

double LargestRunFlops(const Law& shape, const DesignSpace& space) {
  const std::vector<double> top(static_cast<std::size_t>(space.dims()),
                                0.999999);
  StatusOr<Candidate> c = CandidateAt(shape, space, top);
  double flops = c.ok() ? c->flops : 0;
  if (space.max_run_flops > 0) {
    flops =
        flops > 0 ? std::min(flops, space.max_run_flops) : space.max_run_flops;
  }
  return flops;
}

StatusOr<Strategy> StrategyFromName(std::string_view name) {
  for (Strategy s : {Strategy::kActive, Strategy::kGrid, Strategy::kRandom,
                     Strategy::kSobol, Strategy::kHolistic}) {
    if (StrategyName(s) == name) return s;
  }
  return InvalidArgumentError("unknown strategy '" + std::string(name) +
                              "' (known: active, grid, random, sobol, "
                              "holistic)");
}

std::string_view StrategyName(Strategy strategy) {
  switch (strategy) {
    case Strategy::kActive:
      return "active";
    case Strategy::kGrid:
      return "grid";
    case Strategy::kRandom:
      return "random";
    case Strategy::kSobol:
      return "sobol";
    case Strategy::kHolistic:
      return "holistic";
  }
  return "unknown";
}

StatusOr<std::vector<Candidate>> ProposeRuns(const Law& shape,
                                             const DesignSpace& space,
                                             const Question& question,
                                             const ProposeRequest& request) {
  MOESWEEP_RETURN_IF_ERROR(space.Validate());
  if (request.batch < 1) return InvalidArgumentError("batch must be >= 1");
  if (request.strategy == Strategy::kHolistic) {
    return HolisticRuns(shape, space, request);
  }
  std::vector<Candidate> out;
  const bool active = request.strategy == Strategy::kActive &&
                      request.law != nullptr && request.uncertainty != nullptr;
  if (!active) {
    // Space-filling: the next points of the design that meet the caps.
    const Strategy design = request.strategy == Strategy::kActive
                                ? Strategy::kSobol
                                : request.strategy;
    for (int k = 0, drawn = 0; static_cast<int>(out.size()) < request.batch;
         ++k) {
      if (++drawn > kMaxDraws) {
        return FailedPreconditionError(
            "no point of the design space meets the per-run caps");
      }
      StatusOr<Candidate> c =
          CandidateAt(shape, space,
                      DesignPoint(design, space, request.seed,
                                  request.proposed_before + k));
      if (c.ok() && WithinCaps(space, *c)) out.push_back(*std::move(c));
    }
    return out;
  }

  const bool branching = request.cooldown_fraction > 0;
  if (!(request.cooldown_fraction >= 0 && request.cooldown_fraction <= 0.5)) {
    return InvalidArgumentError("cooldown_fraction must be in [0, 0.5]");
  }
  if (request.stable_runs.size() > kMaxStableRuns) {
    return InvalidArgumentError("more than " + std::to_string(kMaxStableRuns) +
                                " stable runs");
  }
  if (!(request.lineage_correlation >= 0 &&
        request.lineage_correlation <= 0.99)) {
    return InvalidArgumentError("lineage_correlation must be in [0, 0.99]");
  }
  const Law& law = *request.law;
  MOESWEEP_ASSIGN_OR_RETURN(FamilyHandle family, ResolveFamily(law));
  const double noise_var = std::max(
      request.uncertainty->residual_sigma * request.uncertainty->residual_sigma,
      1e-8);
  std::vector<double> cov = request.uncertainty->covariance;
  MOESWEEP_ASSIGN_OR_RETURN(
      std::vector<double> g,
      QuestionGradient(law, *request.uncertainty, question));
  for (const Observation& run : request.pending) {
    MOESWEEP_ASSIGN_OR_RETURN(std::vector<double> j,
                              LogPredictGradient(*family, law.theta, run));
    Observe(cov, j, noise_var);
  }
  // Candidates: a fresh stretch of the Sobol sequence each batch, and with
  // branching the branches of every stable run.
  std::vector<Scored> pool;
  auto Add = [&](Candidate c) -> Status {
    StatusOr<std::vector<double>> j =
        LogPredictGradient(*family, law.theta, c.at);
    // The run's cost as the score sees it: the FLOPs it adds plus the fixed
    // cost every run adds, so a flood of tiny runs is not free. Its noise is
    // that of a run of its tokens, however few of them it trains.
    const double cost = c.added_flops + request.run_overhead_flops;
    const double var = NoiseVariance(request, noise_var, c.flops);
    if (!j.ok()) return OkStatus();
    std::vector<double> scaled;
    if (c.parent >= 0) {
      scaled = *j;
      for (double& x : scaled) x /= std::sqrt(var);
    }
    pool.push_back({std::move(c), *std::move(j), var, cost, std::move(scaled)});
    return OkStatus();
  };
  auto add = [&](const std::vector<double>& unit) -> Status {
    StatusOr<Candidate> made = CandidateAt(law, space, unit);
    if (!made.ok())
      return OkStatus();  // e.g. an architecture that cannot be built
    Candidate c = *std::move(made);
    if (!WithinCaps(space, c) || !(c.flops > 0)) return OkStatus();
    return Add(std::move(c));
  };
  const std::uint32_t offset =
      1000 + 7919u * static_cast<std::uint32_t>(request.proposed_before);
  for (int k = 0; k < request.candidates; ++k) {
    MOESWEEP_RETURN_IF_ERROR(add(SobolPoint(
        offset + k, space.dims(), Shift(request.seed + 17, space.dims()))));
  }
  if (pool.empty()) {
    return FailedPreconditionError(
        "no point of the design space meets the per-run caps");
  }
  // What each stable run's runs already tell, and its branches.
  std::vector<LineageInformation> lineages(
      branching ? request.stable_runs.size() : 0);
  std::vector<bool> extended(lineages.size(), false);
  const double rho =
      request.uncertainty->lineage_df >= kMinLineageDf
          ? std::min(request.uncertainty->lineage_correlation, 0.99)
          : request.lineage_correlation;
  for (std::size_t i = 0; i < lineages.size(); ++i) {
    const StableRun& run = request.stable_runs[i];
    for (double d : run.branch_tokens) {
      Observation at = run.at;
      at.tokens = d;
      StatusOr<double> flops = RunFlops(law, at);
      StatusOr<std::vector<double>> j =
          LogPredictGradient(*family, law.theta, at);
      if (!flops.ok() || !j.ok()) continue;
      const double sd = std::sqrt(NoiseVariance(request, noise_var, *flops));
      for (double& x : *j) x /= sd;
      if (lineages[i].sum.empty()) lineages[i].sum.assign(j->size(), 0.0);
      for (std::size_t a = 0; a < j->size(); ++a) lineages[i].sum[a] += (*j)[a];
      ++lineages[i].runs;
    }
    for (Candidate& c : BranchCandidates(law, space, run, static_cast<int>(i),
                                         request.cooldown_fraction)) {
      MOESWEEP_RETURN_IF_ERROR(Add(std::move(c)));
    }
  }
  auto score = [&](const Scored& s) {
    if (s.candidate.parent < 0) {
      return Score(cov, g, s.jacobian, s.noise_var, s.cost);
    }
    const std::size_t parent = static_cast<std::size_t>(s.candidate.parent);
    // One extension of a stable run a batch: a second would start from the
    // end the first has not reached yet.
    const bool extends =
        s.candidate.resume_tokens >= request.stable_runs[parent].stable_tokens;
    if (extends && extended[parent]) return -1.0;
    return LineageReduction(cov, g, s.scaled, lineages[parent], rho) / s.cost;
  };
  std::mt19937_64 rng(request.seed * 31 + request.proposed_before);
  while (static_cast<int>(out.size()) < request.batch) {
    auto best = std::max_element(
        pool.begin(), pool.end(),
        [&](const Scored& a, const Scored& b) { return score(a) < score(b); });
    if (best->candidate.parent >= 0) {
      // A branch: no refinement (its tokens are its parent's checkpoint's),
      // and a checkpoint is branched from once.
      const std::size_t parent =
          static_cast<std::size_t>(best->candidate.parent);
      ObserveInLineage(cov, best->scaled, lineages[parent], rho);
      if (best->candidate.resume_tokens >=
          request.stable_runs[parent].stable_tokens) {
        extended[parent] = true;
      }
      out.push_back(best->candidate);
      pool.erase(best);
      continue;
    }
    // Local refinement: a few points around the best, kept if better.
    const std::vector<double> centre = best->candidate.unit;
    for (int k = 0; k < 16; ++k) {
      std::vector<double> u = centre;
      for (double& x : u) {
        x = std::clamp(
            x + std::uniform_real_distribution<double>(-0.03, 0.03)(rng), 0.0,
            0.999999);
      }
      MOESWEEP_RETURN_IF_ERROR(add(u));
    }
    best = std::max_element(
        pool.begin(), pool.end(),
        [&](const Scored& a, const Scored& b) { return score(a) < score(b); });
    Observe(cov, best->jacobian, best->noise_var);
    out.push_back(best->candidate);
  }
  return out;
}

}  // namespace moesweep::fitter
