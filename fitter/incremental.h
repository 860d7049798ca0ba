// IncrementalFitter: the law kept current as runs arrive, one at a time.
// Included by fitter/fitter.h; other folders include that.
//
// Each Add() first records how far the current law predicted the new run
// (out-of-sample error, the best sign of whether the law can be trusted), then
// warm-starts the fit from the current optimum (milliseconds). A full
// multi-start refit runs on a background thread every `full_refit_every` runs,
// or when a run is surprising enough that the warm fit may sit in the wrong
// basin, and replaces the law only if it is better on the runs it saw. Every
// law has a version; it grows with each replacement.
//
// Thread-safety: thread-safe. Add() calls are serialised internally.

#ifndef MOESWEEP_FITTER_INCREMENTAL_H_
#define MOESWEEP_FITTER_INCREMENTAL_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "common/status.h"
#include "fitter/core.h"

namespace moesweep::fitter {

struct IncrementalOptions {
  double huber_delta = 1e-3;
  int num_threads = 0;        // threads of a full refit; 0: every core
  int full_refit_every = 25;  // runs between background full refits
  // When > 0, at least this fraction of the runs seen at the last full refit
  // must arrive before the next (refits grow rarer as the law settles).
  double full_refit_growth = 0;
  // Grid points a full refit tries, besides the current law (0: all).
  int max_grid_starts = 0;
  // Runs a full refit screens its starts on (FitOptions::max_screen_runs);
  // the polish and the comparison with the current law read every run.
  int max_screen_runs = 500;
  // A run whose out-of-sample log error exceeds this many residual scales
  // triggers a full refit at once.
  double surprise_sigmas = 6;
  // When false, full refits run inline in Add() (deterministic; tests).
  bool background = true;

  Status Validate() const;
};

struct OutOfSample {
  int run = 0;               // index of the run (0-based, in Add() order)
  std::int64_t version = 0;  // the law that predicted it
  double predicted = 0;      // predicted loss
  double actual = 0;         // observed loss
  double log_error = 0;      // log(predicted) − log(actual)
};

struct LawSnapshot {
  Law law;
  double objective = 0;  // on all runs so far
  std::int64_t version = 0;
  int runs = 0;
  int full_refits = 0;  // full refits that completed (accepted or not)
  // The ρ its fit whitened lineages with (FitOptions::lineage_correlation),
  // re-estimated from the residuals after every fit; 0 until two runs share
  // a lineage. EstimateCovariance takes it.
  double lineage_correlation = 0;
};

class IncrementalFitter {
 public:
  // A built-in family by name; INVALID_ARGUMENT/NOT_FOUND via Create().
  static StatusOr<std::unique_ptr<IncrementalFitter>> Create(
      const std::string& family, const IncrementalOptions& options);
  // A user (expr) law.
  static StatusOr<std::unique_ptr<IncrementalFitter>> Create(
      const ExprSpec& expr, const IncrementalOptions& options);

  ~IncrementalFitter();  // waits for a running background refit
  IncrementalFitter(const IncrementalFitter&) = delete;
  IncrementalFitter& operator=(const IncrementalFitter&) = delete;

  // Adds a run. INVALID_ARGUMENT (and nothing added) when it lacks a feature
  // the family reads. Until the runs outnumber the parameters there is no
  // law; the first law comes from a full fit in this call.
  Status Add(const Observation& run);
  // Adds runs that arrived together: each is scored out of sample against the
  // law before any of them, then one warm refit takes them all in (as many
  // Add() calls would, at the cost of one). Nothing is added when one of them
  // is refused.
  Status AddBatch(std::span<const Observation> runs);

  // Restores a fitter saved earlier, as a restart needs it: `runs` in Add()
  // order; `theta`, the law that was current after them, taken as it is (no
  // fit: a restart must serve the law its clients saw, not a refit of it)
  // with version `version`; and the out-of-sample series so far. Without a
  // theta, a first law is fitted when the runs outnumber the parameters.
  // FAILED_PRECONDITION once runs were added; INVALID_ARGUMENT for a theta
  // of the wrong size, a run that lacks a feature, or a bad loss.
  Status Restore(std::vector<Observation> runs,
                 std::optional<std::vector<double>> theta, std::int64_t version,
                 std::vector<OutOfSample> out_of_sample);

  // The current law; nullopt before there is one.
  std::optional<LawSnapshot> Current() const;
  std::vector<OutOfSample> OutOfSampleErrors() const;
  std::vector<Observation> Runs() const;
  // Blocks until no background refit is running.
  void WaitForRefits();

 private:
  IncrementalFitter(Law shape, const IncrementalOptions& options,
                    int num_params);
  // A warm refit from `warm`, or (warm null) a multi-start fit that also
  // tries `also` when given.
  StatusOr<FitResult> FitRuns(const std::vector<Observation>& runs,
                              const std::vector<double>* warm,
                              const std::vector<double>* also,
                              double lineage_correlation) const;
  // With lineages: ρ re-estimated from current_'s residuals and, when it
  // moved, a warm refit under it. Called with mu_ held.
  Status UpdateLineageCorrelation();
  void StartFullRefit(std::unique_lock<std::mutex>& lock);
  void RunFullRefit(std::vector<Observation> runs, std::vector<double> current,
                    double lineage_correlation);

  const Law shape_;  // family (and expression); theta unused
  const IncrementalOptions options_;
  const int num_params_;

  mutable std::mutex mu_;
  std::condition_variable refit_done_;
  std::vector<Observation> runs_;           // guarded by mu_
  std::optional<LawSnapshot> current_;      // guarded by mu_
  std::vector<OutOfSample> out_of_sample_;  // guarded by mu_
  bool refit_running_ = false;              // guarded by mu_
  int runs_at_last_refit_ = 0;              // guarded by mu_
  std::thread refit_thread_;
};

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_INCREMENTAL_H_
