// The proposer's helpers for warmup-stable-decay campaigns (proposer.h,
// StableRun): branch candidates, and what a run adds to what is known when
// it shares a lineage's noise. Internal to fitter/.
//
// Thread-safety: thread-safe (no state).

#ifndef MOESWEEP_FITTER_BRANCHES_H_
#define MOESWEEP_FITTER_BRANCHES_H_

#include <vector>

#include "fitter/core.h"
#include "fitter/proposer.h"

namespace moesweep::fitter {

// One lineage's runs as the proposer counts them: how many, and the sum of
// their scaled Jacobians J/σ (J = ∂ log L̂/∂θ, σ the run's noise sd).
struct LineageInformation {
  int runs = 0;
  std::vector<double> sum;
};

// How much a run of scaled Jacobian `scaled` (J/σ) shrinks Var(Q) for
// ∇Q = g, added to `lineage`'s runs whose noise is correlated ρ
// (compound symmetry, the generalised-least-squares information). With no
// runs before it, (g·Σ·J)²/(J·Σ·Jᵀ + σ²), VarianceReduction's.
double LineageReduction(const std::vector<double>& cov,
                        const std::vector<double>& g,
                        const std::vector<double>& scaled,
                        const LineageInformation& lineage, double rho);

// Σ once that run is seen; the run joins `lineage`.
void ObserveInLineage(std::vector<double>& cov,
                      const std::vector<double>& scaled,
                      LineageInformation& lineage, double rho);

// The runs `run` (stable_runs[parent]) can branch into: a cooldown from
// each checkpoint no run has branched from, and extensions past its end to
// √2, 2, 2√2 and 4 times its tokens, within the space's token range and
// per-run caps; cooldown c of each run's tokens. None for a space whose
// tokens are a list or not an axis.
std::vector<Candidate> BranchCandidates(const Law& law,
                                        const DesignSpace& space,
                                        const StableRun& run, int parent,
                                        double cooldown);

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_BRANCHES_H_
