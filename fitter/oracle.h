// A simulated oracle: "trains" a run by reading a ground-truth law, with the
// noise, divergences, loss curves and GPU time of real runs, so strategies
// can be compared on the same campaign and campaigns planned before any GPU
// time is spent. Included by fitter/fitter.h.
//
// Thread-safety: Oracle is immutable after construction; Train() is const and
// thread-safe (its randomness comes from the seed and the run index).

#ifndef MOESWEEP_FITTER_ORACLE_H_
#define MOESWEEP_FITTER_ORACLE_H_

#include <cstdint>
#include <vector>

#include "fitter/core.h"

namespace moesweep::fitter {

struct OracleOptions {
  // Log-normal noise of the final loss of a run of `reference_flops`;
  // smaller runs are noisier: σ·(reference_flops/flops)^0.15 when smaller.
  double noise_sigma = 0.01;
  double reference_flops = 1e18;
  double divergence_probability = 0.01;  // a run diverges partway
  double flops_per_second = 4e14;        // simulated accelerator throughput
  int curve_points = 10;                 // loss points reported per run
  // Warmup-stable-decay runs (TrainWsd): how far a cooldown lowers the loss
  // below the stable phase's (log; Hägele et al. 2024 see a few percent),
  // and the share of a run's noise variance its lineage's runs share (its
  // seed and data order; the rest is the cooldown's own). A run's noise in
  // all is what Train() gives it. The share is assumed, not measured.
  double cooldown_drop = 0.03;
  double lineage_correlation = 0.9;
  Status Validate() const;
};

// A warmup-stable-decay run of lineage `lineage` (one stable run and its
// cooldown branches: one seed, one data order, so one offset from the law):
// constant learning rate to (1 − cooldown_fraction) of its tokens, then a
// linear cooldown. It starts at `resume_tokens` (0, or a checkpoint of its
// lineage's stable phase) and is charged from there.
struct WsdRun {
  std::uint64_t lineage = 0;
  double cooldown_fraction = 0.2;
  double resume_tokens = 0;
};

struct LossPoint {
  double tokens = 0;
  double loss = 0;
};

struct SimulatedRun {
  bool diverged = false;
  double final_loss = 0;         // valid unless diverged
  std::vector<LossPoint> curve;  // eval loss along training
  double flops_spent = 0;        // all of the run's FLOPs, or up to divergence
  double gpu_seconds = 0;        // flops_spent / flops_per_second
};

class Oracle {
 public:
  Oracle(Law truth, const OracleOptions& options, std::uint64_t seed);

  // The run at `at` costing `flops`; `run_index` makes each run's noise its
  // own and repeatable.
  StatusOr<SimulatedRun> Train(const Observation& at, double flops,
                               std::uint64_t run_index) const;
  // The same for a warmup-stable-decay run costing `flops` from scratch. Its
  // curve, from resume_tokens on, follows the law lifted by cooldown_drop in
  // the stable phase and falls during the cooldown as the annealing area of
  // Tissue et al. 2024 grows (quadratically under a linear decay), ending
  // at the law's value at at.tokens times the lineage's offset and the
  // cooldown's own (lineage_correlation splits Train()'s noise between
  // them). Its FLOPs are those from resume_tokens on.
  StatusOr<SimulatedRun> TrainWsd(const Observation& at, double flops,
                                  const WsdRun& wsd,
                                  std::uint64_t run_index) const;
  const Law& truth() const { return truth_; }

 private:
  const Law truth_;
  const OracleOptions options_;
  const std::uint64_t seed_;
};

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_ORACLE_H_
