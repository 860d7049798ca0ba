// The gRPC half of bench_coordinator: simulated workers in a child process
// stream Progress to an in-process coordinator over loopback.

#ifndef MOESWEEP_BENCH_COORDINATOR_LOOPBACK_H_
#define MOESWEEP_BENCH_COORDINATOR_LOOPBACK_H_

#include <filesystem>

namespace moesweep::bench {

struct LoopbackResult {
  double reports_per_second = 0;  // acknowledged (durable) reports
  double p50_ms = 0, p99_ms = 0;  // report written -> its Ack read
  double proposal_p50_ms = 0;     // Done written -> the next Assign read
  double proposal_p99_ms = 0;
};

// Runs the coordinator on `dir` (on disk) and `workers` streams in a child
// process (this same program, started with --workers), each keeping
// `window` reports unacknowledged, for `seconds`. Exits the program on a
// setup error.
LoopbackResult RunLoopback(const std::filesystem::path& dir, int workers,
                           int window, double seconds);

// The child's main: `--workers ADDRESS TOKEN COUNT WINDOW SECONDS`. Prints
// one line "acks <n> seconds <s> p50_ms <x> p99_ms <y>".
int WorkersChildMain(int argc, char** argv);

}  // namespace moesweep::bench

#endif  // MOESWEEP_BENCH_COORDINATOR_LOOPBACK_H_
