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
  Status Validate() const;
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
  const Law& truth() const { return truth_; }

 private:
  const Law truth_;
  const OracleOptions options_;
  const std::uint64_t seed_;
};

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_ORACLE_H_
