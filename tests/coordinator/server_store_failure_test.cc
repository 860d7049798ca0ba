// Crash-only on store failure, over real gRPC on loopback: a worker streams
// Progress for its trial, the disk starts failing writes
// (FaultyFileSystem::SetWriteErrors), and the coordinator must tell its owner,
// answer the health check NOT_SERVING, and have kept every report it
// acknowledged before.

#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "tests/testing/coordinator_fixture.h"
#include "tests/testing/faulty_file_system.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::testing {
namespace {

namespace v1 = ::moesweep::v1;

class ServerStoreFailureTest : public CoordinatorFixture {
 protected:
  // The server borrows env_: stop it before env_ goes.
  void TearDown() override { StopServer(); }

  // The serialized grpc.health.v1.HealthCheckResponse for service "".
  std::string HealthBytes() {
    grpc::GenericStub stub(
        grpc::CreateChannel(address(), grpc::InsecureChannelCredentials()));
    grpc::ByteBuffer request(nullptr, 0), response;
    grpc::ClientContext context;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", {}, &request,
                   &response, [&](grpc::Status s) { done.set_value(s); });
    grpc::Status s = done.get_future().get();
    if (!s.ok()) return "error: " + s.error_message();
    std::vector<grpc::Slice> slices;
    if (!response.Dump(&slices).ok()) return "error: dump";
    std::string bytes;
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    return bytes;
  }

  FaultyEnv env_;
};

TEST_F(ServerStoreFailureTest, WriteErrorMakesHealthNotServingAndKeepsAcks) {
  absl::Notification failed;
  coordinator::ServerOptions options;
  options.store_env = env_.env();
  options.on_store_failure = [&](const Status&) { failed.Notify(); };
  StartServer(options);
  EXPECT_EQ(HealthBytes(), std::string("\x08\x01", 2));  // SERVING
  CreateCampaign(SmallCampaignYaml("doomed"));

  std::unique_ptr<grpc::ClientContext> context = AuthContext(kWorkerToken);
  std::unique_ptr<v1::WorkerService::Stub> stub = WorkerStub();
  auto stream = stub->Connect(context.get());
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id("w");
  hello.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
  hello.mutable_hello()->mutable_capabilities()->set_backend(v1::BACKEND_CPU);
  hello.mutable_hello()->mutable_capabilities()->set_max_concurrent_trials(1);
  ASSERT_TRUE(stream->Write(hello));
  v1::CoordinatorMessage in;
  while (stream->Read(&in) && !in.has_assign()) {
  }
  ASSERT_TRUE(in.has_assign());
  const std::string trial = in.assign().spec().trial_id();
  const int32_t attempt = in.assign().spec().attempt();

  // Lockstep Progress: each is acknowledged (or refused) before the next.
  // After 20 acknowledgements the disk fails every write.
  constexpr int64_t kAckedBeforeFailure = 20;
  int64_t acked = 0;
  bool refused = false;
  for (int64_t seq = 1; seq <= 200 && !refused; ++seq) {
    if (seq == kAckedBeforeFailure + 1) env_.fs().SetWriteErrors(true);
    v1::WorkerMessage m;
    v1::Progress* p = m.mutable_progress();
    p->set_trial_id(trial);
    p->set_attempt(attempt);
    p->set_seq(seq);
    p->set_step(seq);
    p->set_trained_tokens(1000 * seq);
    p->set_train_loss(3.0);
    if (!stream->Write(m)) break;
    bool answered = false;
    while (!answered && stream->Read(&in)) {
      if (in.has_ack() && in.ack().seq() == seq) {
        acked = seq;
        answered = true;
      } else if (in.has_refuse() && in.refuse().seq() == seq) {
        EXPECT_EQ(in.refuse().code(),
                  static_cast<int>(StatusCode::kUnavailable))
            << in.refuse().message();
        refused = answered = true;
      }
    }
    if (!answered) break;  // the stream ended
  }
  EXPECT_EQ(acked, kAckedBeforeFailure);
  EXPECT_TRUE(refused) << "the report after the failure was not refused";
  ASSERT_TRUE(failed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(server_->health().code(), StatusCode::kUnavailable);
  EXPECT_EQ(HealthBytes(), std::string("\x08\x02", 2));  // NOT_SERVING
  context->TryCancel();
  (void)stream->Finish();
  StopServer();

  // Every acknowledged report is on disk, once, in order.
  env_.fs().SetWriteErrors(false);
  coordinator::StoreOptions store_options;
  store_options.path = dir_.File("db");
  StatusOr<std::unique_ptr<coordinator::Store>> store =
      coordinator::Store::Open(store_options);
  ASSERT_OK(store);
  StatusOr<std::vector<coordinator::CurvePoint>> points =
      (*store)->ReadCurve(trial, attempt);
  ASSERT_OK(points);
  ASSERT_GE(static_cast<int64_t>(points->size()), acked);
  for (size_t i = 0; i < points->size(); ++i) {
    EXPECT_EQ((*points)[i].seq, static_cast<int64_t>(i) + 1);
  }
}

// A failed Flush (the campaign's records) is fatal too: Create answers
// UNAVAILABLE, health says NOT_SERVING, and the restarted coordinator knows
// nothing of a campaign the store never wrote.
TEST_F(ServerStoreFailureTest, FailedFlushIsFatalAndLeavesNothingBehind) {
  absl::Notification failed;
  coordinator::ServerOptions options;
  options.store_env = env_.env();
  options.on_store_failure = [&](const Status&) { failed.Notify(); };
  StartServer(options);
  env_.fs().SetWriteErrors(true);
  v1::CreateCampaignRequest request;
  request.set_spec_yaml(SmallCampaignYaml("unwritten"));
  v1::CreateCampaignResponse response;
  auto context = AuthContext(kAdminToken);
  grpc::Status s = CampaignStub()->Create(context.get(), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  ASSERT_TRUE(failed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(HealthBytes(), std::string("\x08\x02", 2));  // NOT_SERVING
  StopServer();

  env_.fs().SetWriteErrors(false);
  StartServer(options);
  EXPECT_EQ(HealthBytes(), std::string("\x08\x01", 2));  // SERVING
  v1::ListCampaignsResponse list;
  auto viewer = AuthContext(kViewerToken);
  ASSERT_TRUE(CampaignStub()
                  ->List(viewer.get(), v1::ListCampaignsRequest(), &list)
                  .ok());
  EXPECT_EQ(list.campaigns_size(), 0);
}

}  // namespace
}  // namespace moesweep::testing
