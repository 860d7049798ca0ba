// The contention half of bench_coordinator: a viewer's Get/List latency
// while the coordinator fits a campaign of about a thousand runs and
// proposes a batch of 64, with a worker that keeps its leases only by
// heartbeats.

#ifndef MOESWEEP_BENCH_COORDINATOR_CONTENTION_H_
#define MOESWEEP_BENCH_COORDINATOR_CONTENTION_H_

#include <cstdint>
#include <filesystem>

namespace moesweep::bench {

struct ContentionResult {
  double viewer_p50_ms = 0, viewer_p99_ms = 0, viewer_max_ms = 0;
  int64_t viewer_calls = 0;
  int64_t runs = 0;            // runs the campaign observed
  double build_seconds = 0;    // from creation to the last observation
  double resume_ms = 0;        // Resume answered
  double proposal_ms = 0;      // from Resume to the 64-run batch assigned
  int64_t leases_granted = 0;  // Assigns the worker received
  int64_t leases_expired = 0;  // of them, cancelled as expired
};

// Runs a coordinator on `dir` (on disk, real steady clock). One in-process
// worker with 64 slots answers each Assign with Done until `runs` - 64 runs
// are observed, then holds its 64 trials on heartbeats alone; the campaign
// is paused, the 64 Dones arrive together (64 refits), and Resume proposes a
// batch of 64, which the worker holds on heartbeats for a second. A viewer
// calls Get and List (alternately, 10 ms apart) from creation to the end.
// Exits the program on a setup error.
ContentionResult RunContention(const std::filesystem::path& dir, int runs);

}  // namespace moesweep::bench

#endif  // MOESWEEP_BENCH_COORDINATOR_CONTENTION_H_
