// Active learning: which runs to train next. Included by fitter/fitter.h.
//
// A campaign asks a question Q(θ) of the law (the compute-optimal loss at a
// budget, the optimal model size, a parameter, a prediction). A run at x with
// log-loss noise σ² shrinks Var(Q) by (∇Q·Σ·J_xᵀ)² / (J_x·Σ·J_xᵀ + σ²), with
// J_x = ∂ log L̂(x)/∂θ and Σ the parameter covariance; the proposer picks the
// runs that buy the most of that per FLOP, greedily for a batch, updating Σ
// after each pick as if the run had been observed (runs in flight count the
// same way). Where Q's interval is taken on log Q (QuestionScale), the
// variance shrunk is Var(log Q) = Var(Q)/Q², the one the stopping rule reads.
// Baselines: grid, random and Sobol designs.
//
// Thread-safety: thread-safe (no state).

#ifndef MOESWEEP_FITTER_PROPOSER_H_
#define MOESWEEP_FITTER_PROPOSER_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "fitter/arch.h"
#include "fitter/core.h"
#include "fitter/optimal.h"
#include "fitter/uncertainty.h"

namespace moesweep::fitter {

// One axis of a design space over law features.
struct FeatureRange {
  Feature feature = Feature::kParams;
  double min = 0, max = 0;     // range; ignored when `values` is set
  bool log_scale = true;       // spread points evenly in log(value)
  std::vector<double> values;  // a list of allowed values instead of a range
};

// A design space of architectures: each candidate picks one value of each
// list, and its features come from counting the architecture (arch.h).
struct ArchitectureAxes {
  Architecture base;  // vocab_size, seq_len, tied_embeddings, swiglu
  std::vector<double> d_model, layers, experts, top_k, granularity, shared;
  std::int64_t head_dim = 64;  // heads = d_model / head_dim
  double ffn_multiplier = 4;   // the dense FFN's d_ff = multiplier·d_model
};

struct DesignSpace {
  // With `architecture`, its six lists come first and `axes` adds the rest
  // (tokens); otherwise the axes are law features.
  std::optional<ArchitectureAxes> architecture;
  std::vector<FeatureRange> axes;  // at most 8 dimensions in all
  double max_run_flops = 0;        // per-run cap; 0: none
  double max_run_tokens = 0;       // per-run cap; 0: none
  Status Validate() const;
  int dims() const {
    return (architecture ? 6 : 0) + static_cast<int>(axes.size());
  }
};

// A run the campaign could train: its features and its cost.
struct Candidate {
  Observation at;
  double flops = 0;          // of training the run at `at` from scratch
  std::vector<double> unit;  // its coordinates in [0, 1)^axes; empty: a branch
  // What it adds: `flops` for a fresh run; for a branch (parent >= 0), the
  // tokens from resume_tokens to at.tokens only.
  double added_flops = 0;
  int parent = -1;           // index in ProposeRequest::stable_runs; -1: fresh
  double resume_tokens = 0;  // the parent's checkpoint it continues from
};

// Warmup-stable-decay runs (ProposeRequest::cooldown_fraction > 0): a run of
// D tokens trains at constant learning rate to (1 − c)·D, saving checkpoints
// (StableCheckpoints), then cools down over c·D. The stable phase is a
// StableRun; a later run of the same architecture at D' is a branch of it:
// from a checkpoint at (1 − c)·D' it adds only the cooldown, c·D' tokens
// (Hägele et al. 2024 find its loss that of a full run of D'), and beyond
// the stable phase's end S it extends it, adding D' − S.
struct StableRun {
  Observation at;                   // features of its first run (tokens: its D)
  std::uint64_t lineage = 0;        // Observation::lineage of its runs; > 0
  double stable_tokens = 0;         // S: trained at constant learning rate
  std::vector<double> checkpoints;  // token counts with a checkpoint
  std::vector<double> branch_tokens;  // D of its runs, trained or in flight
};

// The checkpoints a stable phase from `from` to `to` tokens saves: at `to`
// and at its halvings `to`/2, /4, /8 beyond `from`, so later runs of 1/2 to
// 1/8 the tokens cost a cooldown only.
std::vector<double> StableCheckpoints(double from, double to);

// FLOPs of training the run at `at` under the family's cost model (see
// optimal.h): 6·N·D, 6·N_act·D, or Krajewski's F for finegrained.
StatusOr<double> RunFlops(const Law& law, const Observation& at);

// The candidate at unit coordinates `unit` (one per axis). Features no axis
// sets keep their defaults; derived ones (active_experts, shared_ratio,
// n_active_ne) are not recomputed: give each feature the law reads an axis.
StatusOr<Candidate> CandidateAt(const Law& law, const DesignSpace& space,
                                const std::vector<double>& unit);

// The architecture at unit coordinates `unit` of an architecture space (its
// first six coordinates pick d_model, layers, experts, top_k, granularity and
// shared from the lists). INVALID_ARGUMENT for a space of features, too few
// coordinates, or an architecture that does not validate.
StatusOr<Architecture> ArchitectureAt(const DesignSpace& space,
                                      const std::vector<double>& unit);

enum class QuestionKind {
  kComputeOptimalLoss,  // loss of the compute-optimal model at `optimal.flops`
  kOptimalSize,         // its active parameters
  kLawParameter,        // natural parameter `param_index`
  kPrediction,          // loss at `at`
};

struct Question {
  QuestionKind kind = QuestionKind::kComputeOptimalLoss;
  OptimalOptions optimal;  // kComputeOptimalLoss, kOptimalSize
  int param_index = 0;     // kLawParameter
  Observation at;          // kPrediction
};

StatusOr<double> EvaluateQuestion(const Law& law, const Question& question);

// The scale the question's interval is built on (uncertainty.h): kLog for a
// quantity positive by construction (a loss, an active-parameter count, a
// law parameter fitted as a logarithm), kLinear for one that may be 0 or
// negative (an exponent). INVALID_ARGUMENT/NOT_FOUND when the law's family
// cannot be resolved.
StatusOr<IntervalScale> QuestionScale(const Law& law, const Question& question);

// The question's estimate with its delta-method interval at `level`, on
// QuestionScale: the campaign's answer, in the coordinator and in the
// simulation alike. Errors as DeltaMethodInterval's.
StatusOr<Interval> QuestionInterval(const Law& law,
                                    const LawUncertainty& uncertainty,
                                    const Question& question, double level);

// (g·Σ·Jᵀ)² / (J·Σ·Jᵀ + σ²): how much observing a run with log-loss Jacobian
// J and noise variance σ² shrinks Var(Q) for ∇Q = g (Σ: p×p row-major).
double VarianceReduction(const std::vector<double>& covariance,
                         const std::vector<double>& gradient,
                         const std::vector<double>& jacobian, double noise_var);

// kHolistic: Wan et al. 2026's two-phase design (HolisticRuns below).
enum class Strategy { kActive, kGrid, kRandom, kSobol, kHolistic };
StatusOr<Strategy> StrategyFromName(std::string_view name);
std::string_view StrategyName(Strategy strategy);

struct ProposeRequest {
  Strategy strategy = Strategy::kActive;
  int batch = 1;            // runs to propose
  std::uint64_t seed = 0;   // all strategies are deterministic for a seed
  int proposed_before = 0;  // runs proposed so far (design position)
  int candidates = 512;     // Sobol candidates scored per batch (active)
  // The current fit, when there is one with a covariance; without them the
  // active strategy falls back to the space-filling (Sobol) design.
  const Law* law = nullptr;
  const LawUncertainty* uncertainty = nullptr;
  std::span<const Observation> pending;  // runs in flight
  // Small runs are noisier: the log-loss noise variance of a run costing F
  // FLOPs is taken as σ²·max(reference/F, 1)^(2·exponent), σ the fit's
  // residual scale. 0 disables (constant noise).
  double noise_reference_flops = 0;
  double noise_flops_exponent = 0.15;
  // A fixed cost every run adds besides its training FLOPs (start-up, data
  // loading, evals), in FLOPs; the active score divides by FLOPs + this.
  // 0: none, the score is per training FLOP.
  double run_overhead_flops = 0;
  // c > 0 (at most 0.5): runs are warmup-stable-decay with a cooldown of c
  // of their tokens, and the active strategy also prices branches of
  // `stable_runs` (at most kMaxStableRuns; see StableRun), each by the FLOPs
  // it adds. A lineage's runs share noise: their log losses are taken as
  // correlated by the fit's estimate (LawUncertainty::lineage_correlation)
  // once it rests on kMinLineageDf degrees of freedom, by
  // `lineage_correlation` until then. Needs a range (not a list) of tokens.
  double cooldown_fraction = 0;
  std::span<const StableRun> stable_runs;
  double lineage_correlation = 0.9;
};
inline constexpr std::size_t kMaxStableRuns = 4096;
inline constexpr int kMinLineageDf = 10;

// The FLOPs of the largest run `space` allows: the top of every range and
// the last value of every list, within the per-run cap (0 when none can be
// counted). Campaigns scale run noise and per-run overhead to it.
double LargestRunFlops(const Law& shape, const DesignSpace& space);

// What a run costs besides its training FLOPs (start-up, data loading,
// evals), as a fraction of LargestRunFlops(): the coordinator and the
// simulation both charge it in the active score (run_overhead_flops), so a
// flood of tiny runs is not free.
inline constexpr double kRunOverheadFraction = 0.01;

// Strategy::kHolistic (holistic_design.cc), after Wan et al. 2026 (LAWS.md
// §6c), over an architecture space: run i trains for budget i mod 3 of the
// largest run's FLOPs over 64, 16 and 4 (its tokens = budget / its cost
// per token, within the token axis's range). Phase 1, the first
// kHolisticPhaseOneRounds runs a budget: d_model at the middle of its list,
// the other five lists (setting M/N_a and N/N_a) from a Sobol design. Phase
// 2, once the request has a law: at each budget the phase-1 architecture of
// least predicted loss, at each d_model in turn. Then the whole space.
// INVALID_ARGUMENT for a space of features.
inline constexpr int kHolisticPhaseOneRounds = 8;
StatusOr<std::vector<Candidate>> HolisticRuns(const Law& shape,
                                              const DesignSpace& space,
                                              const ProposeRequest& request);

// `batch` runs from `space`. INVALID_ARGUMENT for a bad space or request.
StatusOr<std::vector<Candidate>> ProposeRuns(const Law& shape,
                                             const DesignSpace& space,
                                             const Question& question,
                                             const ProposeRequest& request);

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_PROPOSER_H_
