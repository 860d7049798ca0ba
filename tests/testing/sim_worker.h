// A simulated training worker for coordinator tests and bench/coordinator:
// a real WorkerService.Connect client over loopback whose "training" reads
// the loss off a known law (fitter::Oracle-style noise), so a campaign runs
// to its stopping rule in seconds. Also the call-metadata helper every
// coordinator client test uses.

#ifndef MOESWEEP_TESTS_TESTING_SIM_WORKER_H_
#define MOESWEEP_TESTS_TESTING_SIM_WORKER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "fitter/fitter.h"

namespace moesweep::testing {

// A simulated worker's checkpoint folder (branching runs, TrialSpec.lineage):
// the (lineage, tokens) checkpoints its trials saved. Thread-safe; shared
// between SimWorkers that share a disk or outlive one worker's restart.
class SimCheckpoints {
 public:
  void Save(const std::string& lineage, std::int64_t tokens);
  bool Has(const std::string& lineage, std::int64_t tokens) const;
  void Clear();  // the disk wiped

 private:
  mutable std::mutex mu_;
  std::set<std::pair<std::string, std::int64_t>> saved_;
};

// A context carrying `authorization: Bearer <token>`.
std::unique_ptr<grpc::ClientContext> AuthContext(const std::string& token);

struct SimWorkerOptions {
  std::string address;  // host:port of the coordinator
  std::string token;    // a worker token
  std::string worker_id;
  std::string tls_root_pem;    // trust these over TLS; empty: plaintext
  fitter::Law truth;           // losses come from this law
  double noise_sigma = 0.005;  // log-normal noise of each final loss
  int progress_reports = 2;    // Progress before each Done
  std::uint64_t seed = 1;
  // Where its trials' checkpoints go (TrialSpec.checkpoint_at_tokens) and
  // branches resume from: a trial resuming from one this folder lacks ends
  // in Failed(FAILURE_KIND_CHECKPOINT_MISSING), as the real worker's does.
  // Null: a worker that keeps nothing (every branch's checkpoint is missing).
  std::shared_ptr<SimCheckpoints> checkpoints =
      std::make_shared<SimCheckpoints>();
};

// Connects at construction and trains every assignment on its own thread
// until Stop() or the stream ends. Thread-safe.
class SimWorker {
 public:
  explicit SimWorker(SimWorkerOptions options);
  ~SimWorker();  // Stop()
  SimWorker(const SimWorker&) = delete;
  SimWorker& operator=(const SimWorker&) = delete;

  // Cancels the stream and joins the thread.
  void Stop();
  int trials_done() const { return done_.load(); }
  // Branches it resumed from a checkpoint it held, and those it could not.
  int branches_resumed() const { return resumed_.load(); }
  int checkpoints_missing() const { return missing_.load(); }
  int64_t acks() const { return acks_.load(); }
  // The stream's final status once it ended (after Stop, the cancellation).
  grpc::Status status() const;

 private:
  void Run();

  const SimWorkerOptions options_;
  grpc::ClientContext context_;
  std::atomic<int> done_{0};
  std::atomic<int> resumed_{0};
  std::atomic<int> missing_{0};
  std::atomic<int64_t> acks_{0};
  grpc::Status status_;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace moesweep::testing

#endif  // MOESWEEP_TESTS_TESTING_SIM_WORKER_H_
