// Server: the store, the scheduler, the gRPC services and /metrics, started
// and stopped in dependency order.

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <fstream>
#include <sstream>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/auth.h"
#include "coordinator/campaign_service.h"
#include "coordinator/coordinator.h"
#include "coordinator/metrics.h"
#include "coordinator/scheduler.h"
#include "coordinator/worker_stream.h"
#include "moesweep/v1/worker.grpc.pb.h"

namespace moesweep::coordinator {
namespace {

class WorkerServiceImpl final : public v1::WorkerService::CallbackService {
 public:
  WorkerServiceImpl(Scheduler* scheduler, Store* store,
                    const TokenTable* tokens, Metrics* metrics)
      : scheduler_(scheduler),
        store_(store),
        tokens_(tokens),
        metrics_(metrics) {}

  grpc::ServerBidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>* Connect(
      grpc::CallbackServerContext* context) override {
    Status auth = tokens_->Check(*context, Role::kWorker);
    if (metrics_ != nullptr) {
      metrics_->ObserveRpc("Connect", static_cast<int>(auth.code()), 0);
    }
    return new WorkerStream(scheduler_, store_, std::move(auth));
  }

 private:
  Scheduler* const scheduler_;
  Store* const store_;
  const TokenTable* const tokens_;
  Metrics* const metrics_;
};

StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in)
    return FailedPreconditionError(std::string(what) + ": cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Status ServerOptions::Validate() const {
  if (db_path.empty()) return InvalidArgumentError("db_path: empty");
  if (listen.empty()) return InvalidArgumentError("listen: empty");
  if (credentials.empty()) {
    return InvalidArgumentError("credentials: at least one token is needed");
  }
  if (tls_cert_file.empty() != tls_key_file.empty()) {
    return InvalidArgumentError(
        "tls_cert_file and tls_key_file: give both or neither");
  }
  if (lease_ttl_ms < 100)
    return InvalidArgumentError("lease_ttl_ms: must be >= 100");
  if (heartbeat_interval_ms < 10 || heartbeat_interval_ms * 2 > lease_ttl_ms) {
    return InvalidArgumentError(
        "heartbeat_interval_ms: must be >= 10 and at most half of "
        "lease_ttl_ms");
  }
  if (reconnect_grace_ms < 0) {
    return InvalidArgumentError("reconnect_grace_ms: must be >= 0");
  }
  if (max_attempts < 1)
    return InvalidArgumentError("max_attempts: must be >= 1");
  if (fit_threads < 0) return InvalidArgumentError("fit_threads: must be >= 0");
  if (max_watch_queue < 2 || max_watch_queue > (1 << 20)) {
    return InvalidArgumentError("max_watch_queue: must be in [2, 1048576]");
  }
  return OkStatus();
}

class Server::Impl {
 public:
  explicit Impl(const ServerOptions& options)
      : options_(options), tokens_(options.credentials) {}
  ~Impl() { Shutdown(); }

  Status Start();
  void Shutdown();
  // The store's on_failure: NOT_SERVING, then the owner's callback.
  void OnStoreFailure(const Status& error);
  Status health() const {
    absl::MutexLock lock(&failure_mu_);
    return failure_;
  }

  // Declared first, so it outlives the store whose writer thread calls
  // OnStoreFailure until the store is closed.
  mutable absl::Mutex failure_mu_;
  Status failure_ ABSL_GUARDED_BY(failure_mu_);
  // Null before the server is built and after Shutdown.
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(failure_mu_) =
      nullptr;

  const ServerOptions options_;
  const TokenTable tokens_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<CampaignServiceImpl> campaigns_;
  std::unique_ptr<WorkerServiceImpl> workers_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool down_ = false;
};

Status Server::Impl::Start() {
  MOESWEEP_ASSIGN_OR_RETURN(metrics_, Metrics::Start(options_.metrics_listen));
  StoreOptions store_options;
  store_options.path = options_.db_path;
  store_options.env = options_.store_env;
  store_options.on_failure = [this](const Status& s) { OnStoreFailure(s); };
  Metrics* metrics = metrics_.get();
  store_options.on_commit = [metrics](double s) {
    metrics->ObserveStoreCommit(s);
  };
  MOESWEEP_ASSIGN_OR_RETURN(store_, Store::Open(store_options));
  scheduler_ = std::make_unique<Scheduler>(store_.get(), metrics, options_);
  MOESWEEP_RETURN_IF_ERROR(scheduler_->Load());
  scheduler_->Start();

  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::InsecureServerCredentials();
  if (!options_.tls_cert_file.empty()) {
    MOESWEEP_ASSIGN_OR_RETURN(
        std::string cert, ReadFile(options_.tls_cert_file, "tls_cert_file"));
    MOESWEEP_ASSIGN_OR_RETURN(std::string key,
                              ReadFile(options_.tls_key_file, "tls_key_file"));
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({key, cert});
    creds = grpc::SslServerCredentials(ssl);
  }
  campaigns_ = std::make_unique<CampaignServiceImpl>(
      scheduler_.get(), store_.get(), &tokens_, metrics);
  workers_ = std::make_unique<WorkerServiceImpl>(scheduler_.get(), store_.get(),
                                                 &tokens_, metrics);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, creds, &port_);
  builder.RegisterService(campaigns_.get());
  builder.RegisterService(workers_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return UnavailableError("cannot listen on " + options_.listen +
                            " (address in use, or not an address of this "
                            "host)");
  }
  absl::MutexLock lock(&failure_mu_);
  health_ = server_->GetHealthCheckService();
  // The store may have failed while the server was being built.
  if (health_ != nullptr && !failure_.ok()) health_->SetServingStatus(false);
  return OkStatus();
}

void Server::Impl::OnStoreFailure(const Status& error) {
  {
    absl::MutexLock lock(&failure_mu_);
    if (!failure_.ok()) return;
    failure_ = error;
    if (health_ != nullptr) health_->SetServingStatus(false);
  }
  if (options_.on_store_failure) options_.on_store_failure(error);
}

void Server::Impl::Shutdown() {
  if (down_) return;
  down_ = true;
  if (server_ != nullptr) {
    absl::MutexLock lock(&failure_mu_);
    if (health_ != nullptr) health_->SetServingStatus(false);
    health_ = nullptr;
  }
  if (server_ != nullptr) {
    // Streams still open after a moment are cancelled; their reactors end
    // with UNAVAILABLE and OnDone runs before Shutdown returns.
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(200));
    server_->Wait();
  }
  if (scheduler_ != nullptr) scheduler_->Stop();
}

StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  MOESWEEP_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>(options);
  MOESWEEP_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;
int Server::port() const { return impl_->port_; }
int Server::metrics_port() const { return impl_->metrics_->port(); }
ServerStats Server::stats() const { return impl_->scheduler_->stats(); }
Status Server::health() const { return impl_->health(); }
void Server::Shutdown() { impl_->Shutdown(); }

}  // namespace moesweep::coordinator
