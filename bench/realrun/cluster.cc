#include "bench/realrun/cluster.h"

#include <filesystem>
#include <utility>

#include "coordinator/coordinator.h"
#include "worker/agent/agent.h"

namespace moesweep::bench {
namespace {

constexpr char kAdmin[] = "realrun-admin-token-0123456789";
constexpr char kWorker[] = "realrun-worker-token-0123456789";

}  // namespace

StatusOr<std::unique_ptr<Cluster>> Cluster::Start(
    const ClusterOptions& options) {
  std::unique_ptr<Cluster> c(new Cluster());
  std::error_code ec;
  std::filesystem::remove_all(options.db_path, ec);
  c->db_path_ = options.db_path;
  // Each worker its own checkpoint folder, as on machines of their own: a
  // branching campaign's branches must go where their checkpoints are.
  c->checkpoint_root_ = options.db_path + "-checkpoints";
  std::filesystem::remove_all(c->checkpoint_root_, ec);
  c->keep_db_ = options.keep_db;

  coordinator::ServerOptions server;
  server.db_path = options.db_path;
  server.listen = "127.0.0.1:0";
  server.credentials = {{kAdmin, coordinator::Role::kAdmin},
                        {kWorker, coordinator::Role::kWorker}};
  MOESWEEP_ASSIGN_OR_RETURN(c->server_, coordinator::Server::Start(server));
  const std::string address = "127.0.0.1:" + std::to_string(c->server_->port());
  c->campaigns_ = v1::CampaignService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));

  for (int w = 1; w <= options.workers; ++w) {
    worker::agent::AgentOptions agent;
    agent.coordinator = address;
    agent.token = kWorker;
    agent.worker_id = "cpu-" + std::to_string(w);
    agent.backend = worker::agent::Backend::kCpu;
    agent.data_dir = options.data_dir;
    agent.checkpoint_dir =
        (std::filesystem::path(c->checkpoint_root_) / agent.worker_id).string();
    agent.threads = options.threads_per_worker;
    agent.max_concurrent_trials = 1;
    MOESWEEP_ASSIGN_OR_RETURN(std::unique_ptr<worker::agent::Agent> a,
                              worker::agent::Agent::Create(agent));
    c->agents_.push_back(std::move(a));
  }
  for (auto& a : c->agents_) {
    worker::agent::Agent* agent = a.get();
    Cluster* self = c.get();
    c->threads_.emplace_back([agent, self] {
      Status s = agent->Run();
      std::lock_guard<std::mutex> lock(self->mu_);
      if (self->agent_error_.ok()) {
        self->agent_error_ =
            s.ok() ? UnavailableError("a worker stopped") : std::move(s);
      }
    });
  }
  return c;
}

Cluster::~Cluster() {
  for (auto& a : agents_) a->Stop();
  for (std::thread& t : threads_) t.join();
  agents_.clear();
  server_.reset();
  std::error_code ec;
  std::filesystem::remove_all(checkpoint_root_, ec);
  if (keep_db_) return;
  std::filesystem::remove_all(db_path_, ec);
}

std::unique_ptr<grpc::ClientContext> Cluster::AdminContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", std::string("Bearer ") + kAdmin);
  return context;
}

Status Cluster::health() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!agent_error_.ok()) return agent_error_;
  }
  return server_->health();
}

}  // namespace moesweep::bench
