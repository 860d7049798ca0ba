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
#include <string>
#include <thread>

#include "fitter/fitter.h"

namespace moesweep::testing {

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
  int64_t acks() const { return acks_.load(); }
  // The stream's final status once it ended (after Stop, the cancellation).
  grpc::Status status() const;

 private:
  void Run();

  const SimWorkerOptions options_;
  grpc::ClientContext context_;
  std::atomic<int> done_{0};
  std::atomic<int64_t> acks_{0};
  grpc::Status status_;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace moesweep::testing

#endif  // MOESWEEP_TESTS_TESTING_SIM_WORKER_H_
