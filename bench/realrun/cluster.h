// A real moesweep cluster in this process: the coordinator (gRPC over
// loopback, RocksDB in a fresh folder) and CPU workers (worker/agent), each
// training one run at a time on its own threads, as `moesweep coordinator`
// and `moesweep worker --backend cpu` do in scripts/demo.

#ifndef MOESWEEP_BENCH_REALRUN_CLUSTER_H_
#define MOESWEEP_BENCH_REALRUN_CLUSTER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "moesweep/v1/campaign.grpc.pb.h"

namespace moesweep::coordinator {
class Server;
}
namespace moesweep::worker::agent {
class Agent;
}

namespace moesweep::bench {

struct ClusterOptions {
  std::string db_path;   // RocksDB folder; removed and created afresh
  bool keep_db = false;  // left in place at the end (to export the runs)
  std::string data_dir;  // holds default/{train,val}.bin
  int workers = 2;
  int threads_per_worker = 1;
};

// Thread-safe: campaigns() and AdminContext() may be used from any thread.
class Cluster {
 public:
  // Starts the coordinator on 127.0.0.1:0 and the workers. Errors: the
  // server's (Server::Start) or an agent's options (Agent::Create).
  static StatusOr<std::unique_ptr<Cluster>> Start(
      const ClusterOptions& options);
  // Stops the workers (their running attempts are preempted), then the
  // coordinator, and removes the RocksDB folder and the workers' checkpoints.
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  v1::CampaignService::Stub& campaigns() { return *campaigns_; }
  // A context that carries the admin token.
  std::unique_ptr<grpc::ClientContext> AdminContext() const;
  // OK while every worker and the coordinator serve; else the first error
  // (a worker whose Run returned, a failed store write).
  Status health() const;

 private:
  Cluster() = default;

  std::string db_path_;
  std::string checkpoint_root_;  // <db_path>-checkpoints/<worker id>
  bool keep_db_ = false;
  std::unique_ptr<coordinator::Server> server_;
  std::unique_ptr<v1::CampaignService::Stub> campaigns_;
  std::vector<std::unique_ptr<worker::agent::Agent>> agents_;
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  Status agent_error_;  // guarded by mu_: the first agent that returned
};

}  // namespace moesweep::bench

#endif  // MOESWEEP_BENCH_REALRUN_CLUSTER_H_
