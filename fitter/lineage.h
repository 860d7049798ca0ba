// Runs that share a lineage (Observation::lineage: cooldown branches of one
// stable run) share part of their noise: log L = log L̂ + u_lineage + e_run,
// Corr = ρ within a lineage. Quasi-demeaning makes their residuals
// independent again, r̃ = r − λ·r̄ over each lineage of m runs with
// λ = 1 − √((1 − ρ)/(1 + (m − 1)ρ)) (a run alone in its lineage, or of
// lineage 0, is scaled by √(1 − ρ): every r̃ has variance σ²·(1 − ρ)), so a
// least-squares (or Huber) fit of r̃
// is the generalised-least-squares fit, which reads a lineage's runs against
// each other (where the shared offset cancels) rather than as independent
// draws. Internal to fitter/.
//
// Thread-safety: thread-safe (no state).

#ifndef MOESWEEP_FITTER_LINEAGE_H_
#define MOESWEEP_FITTER_LINEAGE_H_

#include <cstddef>
#include <span>
#include <vector>

#include "ceres/ceres.h"
#include "fitter/core.h"
#include "fitter/family.h"

namespace moesweep::fitter {

// True when some lineage holds two runs or more (whitening changes nothing
// otherwise).
bool SharesLineages(std::span<const Observation> runs);

// r̃ for `values` (one per run, n×cols row-major: residuals with cols 1, or
// Jacobian rows), in place.
void Whiten(std::span<const Observation> runs, double rho, double* values,
            std::size_t cols);

// √w·ψ_δ(r̃): the family's sqrt-Huber residuals (huber_objective.h) of the
// whitened log residuals, with their Jacobian. The caller owns the result.
ceres::CostFunction* NewWhitenedSqrtHuberResiduals(
    const Family& family, std::span<const Observation> runs, double delta,
    double rho);

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_LINEAGE_H_
