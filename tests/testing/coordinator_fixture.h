// A coordinator on 127.0.0.1:0 over a fresh RocksDB folder, with one token of
// each role and stubs of both services (STYLE.md H17). Shared by the
// coordinator's integration tests.

#ifndef MOESWEEP_TESTS_TESTING_COORDINATOR_FIXTURE_H_
#define MOESWEEP_TESTS_TESTING_COORDINATOR_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "coordinator/coordinator.h"
#include "moesweep/v1/campaign.grpc.pb.h"
#include "moesweep/v1/worker.grpc.pb.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/sim_worker.h"
#include "tests/testing/temp_dir.h"

namespace moesweep::testing {

inline constexpr char kAdminToken[] = "admin-token-0123456789abcdef";
inline constexpr char kWorkerToken[] = "worker-token-0123456789abcdef";
inline constexpr char kViewerToken[] = "viewer-token-0123456789abcdef";

// A small chinchilla campaign over dense architectures: about 20-60 runs to
// a 5% interval on the compute-optimal loss at 1e21 FLOPs.
std::string SmallCampaignYaml(const std::string& name = "small",
                              int max_parallel_runs = 4,
                              double budget_flops = 1e19);

// Writes a self-signed certificate for localhost and 127.0.0.1 and its key
// (Debian's openssl command, installed by scripts/setup); false on failure.
bool WriteSelfSignedCertificate(const std::string& cert_path,
                                const std::string& key_path);

class CoordinatorFixture : public ::testing::Test {
 protected:
  // Starts the server on dir_ with `options` (db_path, listen and
  // credentials are filled in when empty).
  void StartServer(coordinator::ServerOptions options = {});
  void StopServer() { server_.reset(); }
  std::string address() const {
    return "127.0.0.1:" + std::to_string(server_->port());
  }
  std::unique_ptr<moesweep::v1::CampaignService::Stub> CampaignStub();
  std::unique_ptr<moesweep::v1::WorkerService::Stub> WorkerStub();
  // Creates a campaign as admin; fails the test on an error.
  moesweep::v1::Campaign CreateCampaign(const std::string& yaml);
  // Reads events until the campaign reaches a final state or the stream
  // ends; returns the final state (UNSPECIFIED if the stream ended first).
  moesweep::v1::CampaignState WatchToEnd(const std::string& campaign_id);
  // Returns once the scheduler thread has finished the loop turn running
  // now, with its lease expiry: two admin calls in a row (cancelling an
  // unknown campaign, which changes nothing); the second runs only in a
  // later turn than the first.
  void SchedulerBarrier();
  SimWorkerOptions SimOptions(const std::string& worker_id);
  // Plaintext, or TLS trusting the server's certificate when it has one.
  std::shared_ptr<grpc::ChannelCredentials> Credentials() const;

  TempDir dir_;
  // A test that drives lease time sets options.clock = &clock_; declared
  // before server_, so it outlives the server.
  FakeClock clock_;
  std::string tls_root_pem_;  // the server's certificate; empty: plaintext
  std::unique_ptr<coordinator::Server> server_;
};

}  // namespace moesweep::testing

#endif  // MOESWEEP_TESTS_TESTING_COORDINATOR_FIXTURE_H_
