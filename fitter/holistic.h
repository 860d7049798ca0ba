// Wan, Han, Zhang, Jin 2026, "Holistic Scaling Laws for Optimal MoE
// Architecture Optimization" (arXiv 2603.21862; LAWS.md §6). Not a loss law:
// a cost measure (FLOPs per token with attention), the paper's compute-optimal
// split of a budget between FLOPs per token and tokens (Eq. 2), and the
// per-budget curve of loss over active compute density x = M/N_a that its
// method fits to choose an architecture (§4-5). Included by fitter/fitter.h.
//
// Thread-safety: thread-safe (pure functions).

#ifndef MOESWEEP_FITTER_HOLISTIC_H_
#define MOESWEEP_FITTER_HOLISTIC_H_

#include <span>

#include "common/status.h"

namespace moesweep::fitter {

// Wan's FLOPs per token M = 6·N_a + 6·S·N_q·d_qkv·L (App. A, Eq. 12):
// N_a the active non-embedding parameters, S the context length, N_q query
// heads, d_qkv the head width, L layers. The attention term is what 6·N_a
// leaves out; training compute is C = M·D.
double WanFlopsPerToken(double active_non_embed, double context,
                        double query_heads, double head_dim, double layers);

// The paper's compute-optimal allocation (Eq. 2, fitted over 1e18-3e20):
// M_opt = 0.04368·C^0.5437 FLOPs per token and D_opt = 22.8929·C^0.4563
// tokens, so that M_opt·D_opt = C.
struct WanAllocation {
  double flops_per_token = 0;  // M_opt
  double tokens = 0;           // D_opt
};
// INVALID_ARGUMENT unless flops is finite and > 0.
StatusOr<WanAllocation> WanComputeOptimal(double flops);

// Loss over active compute density at one budget (§5):
// L(x) = a/(x - 6) + b·x + c, x = M/N_a > 6 (6 is M/N_a without attention).
// Linear in (a, b, c), so fitted exactly by least squares. With a, b > 0
// the minimum is at x* = 6 + sqrt(a/b).
struct DensityCurve {
  double a = 0, b = 0, c = 0;
  double x_opt = 0;     // the minimising density; 0 when a or b <= 0
  double loss_opt = 0;  // L(x_opt); 0 when x_opt is
  double Loss(double x) const { return a / (x - 6) + b * x + c; }
};
// INVALID_ARGUMENT for fewer than 3 points, sizes that differ, any x <= 6 or
// a non-finite value, or x values too few and alike to determine (a, b, c).
StatusOr<DensityCurve> FitDensityCurve(std::span<const double> x,
                                       std::span<const double> loss);

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_HOLISTIC_H_
