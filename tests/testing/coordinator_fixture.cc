#include "tests/testing/coordinator_fixture.h"

#include <cstdlib>

namespace moesweep::testing {

namespace v1 = ::moesweep::v1;

std::string SmallCampaignYaml(const std::string& name, int max_parallel_runs,
                              double budget_flops) {
  return "name: " + name + R"(
law:
  family: chinchilla
space:
  d_model: [64, 128, 256, 512, 1024]
  layers: [2, 4, 8, 16]
  experts: [1]
  top_k: [1]
  granularity: [1]
  shared_experts: [0]
  tokens: {min: 1.0e7, max: 3.0e9, log: true}
  vocab_size: 256
  seq_len: 256
  head_dim: 32
limits:
  max_flops: 1.0e18
budget:
  flops: )" +
         std::to_string(budget_flops) +
         R"(
question:
  kind: compute_optimal_loss
  flops: 1.0e21
target:
  relative_width: 0.05
max_parallel_runs: )" +
         std::to_string(max_parallel_runs) + R"(
strategy: active
seed: 1
)";
}

bool WriteSelfSignedCertificate(const std::string& cert_path,
                                const std::string& key_path) {
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
      key_path + " -out " + cert_path + " 2>/dev/null";
  return std::system(command.c_str()) == 0;
}

std::shared_ptr<grpc::ChannelCredentials> CoordinatorFixture::Credentials()
    const {
  if (tls_root_pem_.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls_root_pem_;
  return grpc::SslCredentials(ssl);
}

void CoordinatorFixture::StartServer(coordinator::ServerOptions options) {
  tls_root_pem_ = options.tls_cert_file.empty()
                      ? std::string()
                      : ReadFile(options.tls_cert_file);
  if (options.db_path.empty()) options.db_path = dir_.File("db");
  if (options.credentials.empty()) {
    options.credentials = {{kAdminToken, coordinator::Role::kAdmin},
                           {kWorkerToken, coordinator::Role::kWorker},
                           {kViewerToken, coordinator::Role::kViewer}};
  }
  StatusOr<std::unique_ptr<coordinator::Server>> s =
      coordinator::Server::Start(options);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  server_ = std::move(*s);
}

std::unique_ptr<v1::CampaignService::Stub> CoordinatorFixture::CampaignStub() {
  return v1::CampaignService::NewStub(
      grpc::CreateChannel(address(), Credentials()));
}

std::unique_ptr<v1::WorkerService::Stub> CoordinatorFixture::WorkerStub() {
  return v1::WorkerService::NewStub(
      grpc::CreateChannel(address(), Credentials()));
}

v1::Campaign CoordinatorFixture::CreateCampaign(const std::string& yaml) {
  v1::CreateCampaignRequest request;
  request.set_spec_yaml(yaml);
  v1::CreateCampaignResponse response;
  auto context = AuthContext(kAdminToken);
  grpc::Status s = CampaignStub()->Create(context.get(), request, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return response.campaign();
}

v1::CampaignState CoordinatorFixture::WatchToEnd(
    const std::string& campaign_id) {
  v1::WatchCampaignRequest request;
  request.set_campaign_id(campaign_id);
  v1::CampaignState last = v1::CAMPAIGN_STATE_UNSPECIFIED;
  // A watcher that falls behind (a small max_watch_queue, a loaded machine)
  // is dropped with the event to resume after, as `campaign watch` does.
  for (int streams = 0; streams < 10000; ++streams) {
    auto context = AuthContext(kViewerToken);
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(120));
    auto stub = CampaignStub();
    auto reader = stub->Watch(context.get(), request);
    v1::CampaignEvent e;
    while (reader->Read(&e)) {
      if (e.has_snapshot()) last = e.snapshot().state();
      if (e.has_state_changed()) last = e.state_changed().state();
    }
    grpc::Status s = reader->Finish();
    const size_t at = s.error_message().find("after_event_seq=");
    if (s.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED ||
        at == std::string::npos) {
      EXPECT_TRUE(s.ok()) << s.error_message();
      return last;
    }
    request.set_after_event_seq(std::stoll(s.error_message().substr(at + 16)));
  }
  ADD_FAILURE() << "the watch of " << campaign_id << " never caught up";
  return last;
}

SimWorkerOptions CoordinatorFixture::SimOptions(const std::string& worker_id) {
  SimWorkerOptions o;
  o.address = address();
  o.token = kWorkerToken;
  o.worker_id = worker_id;
  o.tls_root_pem = tls_root_pem_;
  o.truth = *fitter::PublishedLaw("chinchilla", "epoch");
  return o;
}

void CoordinatorFixture::SchedulerBarrier() {
  auto stub = CampaignStub();
  for (int i = 0; i < 2; ++i) {
    moesweep::v1::CancelCampaignRequest q;
    q.set_campaign_id("c999999");
    moesweep::v1::CancelCampaignResponse r;
    auto context = AuthContext(kAdminToken);
    EXPECT_EQ(stub->Cancel(context.get(), q, &r).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
}

}  // namespace moesweep::testing
