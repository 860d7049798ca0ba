// The compute-optimal solver: the architecture and token count that minimise
// a law's predicted loss at a FLOPs budget, under optional caps (Wan et al.'s
// triad: FLOPs per token, active parameters, total parameters; and memory).
// Included by fitter/fitter.h; other folders include that.
//
// Each family owns its cost model (Family::TrainingFlops, fitter/family.h),
// as its law was fitted (LAWS.md §7), and which sizes the search varies:
//   chinchilla, datablations, expr (params, tokens): C = 6·N·D, over N;
//   joint: C = 6·N_act·D over N_act, with Ludziejewski's shapes (n_blocks =
//     d/64, SwiGLU hidden 3d, vocab 50,257) for N_total, memory and the KV
//     cache, per expert count;
//   finegrained: Krajewski's F = (12d²·c_f + d·E·G·c_r)·D·n_blocks with
//     d = 64·n_blocks, c_f = 6, c_r = 14, expansion E = 64 by default, over
//     n_blocks per granularity;
//   comprehensive: C = 6·N_a·D (non-embedding), over N_a and N_a/N at the
//     best active experts and shared ratio (it needs max_total_params or
//     max_memory_bytes: Eq. 11 charges nothing for N).
// RunFlops (proposer.h) prices a run with the same model.
//
// Thread-safety: thread-safe.

#ifndef MOESWEEP_FITTER_OPTIMAL_H_
#define MOESWEEP_FITTER_OPTIMAL_H_

#include <limits>
#include <span>
#include <vector>

#include "common/status.h"

namespace moesweep::fitter {

struct Law;

struct OptimalOptions {
  double flops = 0;  // the training budget C, > 0
  // Caps; infinity means none.
  double max_total_params = std::numeric_limits<double>::infinity();
  double max_active_params = std::numeric_limits<double>::infinity();
  double max_flops_per_token = std::numeric_limits<double>::infinity();
  // Bytes of bf16 weights (2 per total parameter) plus the KV cache below.
  double max_memory_bytes = std::numeric_limits<double>::infinity();
  double kv_cache_tokens = 0;  // tokens of KV cache counted in memory (joint)
  // Discrete choices searched; empty takes each family's default set.
  std::vector<double> allowed_experts;         // joint: E; finegrained: none
  std::vector<double> allowed_granularity;     // finegrained: G
  std::vector<double> allowed_active_experts;  // comprehensive: G (Zhao)
  std::vector<double> allowed_shared_ratio;    // comprehensive: S
  double expansion = 64;     // finegrained: Krajewski's E (fixed in the paper)
  double unique_tokens = 0;  // datablations: distinct tokens; 0 = unlimited
  int profile_points = 41;   // isoFLOP profile resolution
  // The near-optimal band (Wan et al. 2026 use 0.001): every model whose
  // predicted loss is within this fraction of the optimum's; 0: none.
  double band = 0;

  Status Validate() const;
};

// One point of an isoFLOP profile; `at` holds every feature the law reads
// (and tokens), `flops_per_token` the cost model's.
struct OptimalPoint {
  double loss = 0;
  double tokens = 0;
  double params = 0;         // total parameters (the family's convention)
  double active_params = 0;  // active parameters (the family's convention)
  double flops_per_token = 0;
  double memory_bytes = 0;
  double num_experts = 1, granularity = 1, active_experts = 1;
  double shared_ratio = 0;
};

// Where one discrete choice (experts, granularity, ...) stays within the
// band: its models from `smallest` to `largest` size (each on the band's
// edge, or on the search's or a cap's edge) and its own best.
struct NearOptimalRange {
  OptimalPoint smallest, best, largest;
};

struct OptimalResult {
  OptimalPoint best;
  // The loss along model size at the budget, for the best discrete choice.
  std::vector<OptimalPoint> isoflop;
  // With options.band > 0: each discrete choice whose best is within the
  // band, best first. Loss along size has one minimum per choice in every
  // built-in family, so its band is one interval of sizes.
  std::vector<NearOptimalRange> band;
};

// INVALID_ARGUMENT for bad options; FAILED_PRECONDITION when no point meets
// the caps, or the law's family has no cost model (an expr law that reads
// more than params and tokens).
StatusOr<OptimalResult> SolveOptimal(const Law& law,
                                     const OptimalOptions& options);

// Zhao et al. 2025's questions of a `comprehensive` law (Eq. 11): the best
// activated experts G and shared ratio S, which in that form depend on no
// size, and the best active fraction N_a/N at a total non-embedding size N.
struct ComprehensiveShape {
  double active_experts = 0;  // G_opt = sqrt(f/e), or the best allowed G
  double shared_ratio = 0;    // S_opt = -n/(2m) in [0, 1), or the best allowed
  double active_ratio = 0;    // N_a/N at n_total_ne, in (0, 1]
};
// `allowed_*` empty: the continuous optimum. INVALID_ARGUMENT for a law of
// another family or n_total_ne <= 0; FAILED_PRECONDITION when the law's
// G and S factor has no positive minimum (f or e not positive).
StatusOr<ComprehensiveShape> ComprehensiveOptimum(
    const Law& law, double n_total_ne,
    std::span<const double> allowed_active_experts = {},
    std::span<const double> allowed_shared_ratio = {});

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_OPTIMAL_H_
