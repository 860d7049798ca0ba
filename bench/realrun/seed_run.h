// One seed of bench_realrun: the MoE campaign with its validation runs, and
// the Chinchilla reference fitted on a grid design of equal FLOPs.

#ifndef MOESWEEP_BENCH_REALRUN_SEED_RUN_H_
#define MOESWEEP_BENCH_REALRUN_SEED_RUN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "campaign/campaign.h"
#include "common/status.h"

namespace moesweep::bench {

class Cluster;

// A validation run of the campaign, and the reference law's prediction of it.
struct ValidationResult {
  std::string trial_id;
  std::string run;  // its architecture and tokens, in words
  double flops_multiple = 0;
  double predicted = 0;  // the campaign's law, when the run was proposed
  double lower = 0;      // its 95% interval for a new run
  double upper = 0;
  double observed = 0;
  bool inside = false;
  double log_error = 0;  // log(observed / predicted)
  // The Chinchilla grid law at its end; false where its few runs left the
  // law unidentifiable (then it predicts nothing).
  bool ref_fitted = false;
  double ref_predicted = 0;
  double ref_lower = 0;
  double ref_upper = 0;
  double ref_log_error = 0;  // log(observed / ref_predicted)
};

struct SeedResult {
  uint64_t seed = 0;
  std::string state;  // the campaign's state after its validation runs
  std::string reason;
  int runs = 0;            // fitted runs that succeeded
  double spent_flops = 0;  // charged to the budget (fitted runs)
  double budget_flops = 0;
  double wall_seconds = 0;  // Create until the stopping rule
  double oos_last20 = 0;    // mean |log error| of the last 20 observations
  double answer_width =
      0;             // the answer's 95% interval over its value, at the stop
  int branches = 0;  // fitted runs resumed from a checkpoint (issue 18)
  int ref_runs = 0;
  double ref_spent_flops = 0;
  double ref_oos_last20 = 0;  // NaN where the reference law is unidentifiable
  double seed_seconds = 0;    // everything of this seed
  std::vector<ValidationResult> validations;  // observed ones only
};

// Runs `base` with seed `seed` and validate {runs: 1, flops_multiple:
// max(min_multiple, base's), shape: base's} on `cluster`, waits for its
// stopping rule, then runs the same space with law chinchilla, strategy grid,
// an unreachable target and a budget of the FLOPs the campaign spent (beside
// the validation runs), and predicts each validation run with that law.
// DEADLINE_EXCEEDED past `timeout_s`; an RPC's error; FAILED_PRECONDITION when
// a campaign ends FAILED or CANCELLED; the cluster's health() error.
StatusOr<SeedResult> RunSeed(Cluster& cluster,
                             const campaign::CampaignSpec& base, uint64_t seed,
                             double min_multiple, double timeout_s);

}  // namespace moesweep::bench

#endif  // MOESWEEP_BENCH_REALRUN_SEED_RUN_H_
