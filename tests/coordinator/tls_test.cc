// With a certificate the coordinator serves TLS only: a client that trusts
// the certificate gets in; a plaintext client does not.

#include <gtest/gtest.h>

#include "tests/testing/coordinator_fixture.h"

namespace moesweep::testing {
namespace {

namespace v1 = ::moesweep::v1;
using TlsTest = CoordinatorFixture;

TEST_F(TlsTest, ServesTlsWithTheGivenCertificate) {
  const std::string cert = dir_.File("cert.pem"), key = dir_.File("key.pem");
  ASSERT_TRUE(WriteSelfSignedCertificate(cert, key));
  coordinator::ServerOptions options;
  options.tls_cert_file = cert;
  options.tls_key_file = key;
  StartServer(options);

  // A campaign runs to its end over TLS: its client and worker trust the
  // certificate.
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("tls"));
  {
    SimWorker w(SimOptions("tls-worker"));
    EXPECT_EQ(WatchToEnd(c.campaign_id()), v1::CAMPAIGN_STATE_SUCCEEDED);
  }
  v1::ListCampaignsRequest q;
  v1::ListCampaignsResponse r;
  auto plain = v1::CampaignService::NewStub(
      grpc::CreateChannel(address(), grpc::InsecureChannelCredentials()));
  auto context = AuthContext(kViewerToken);
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(5));
  EXPECT_EQ(plain->List(context.get(), q, &r).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MissingCertificateFileIsRefused) {
  coordinator::ServerOptions options;
  options.db_path = dir_.File("db");
  options.credentials = {{kAdminToken, coordinator::Role::kAdmin}};
  options.tls_cert_file = dir_.File("missing.pem");
  options.tls_key_file = dir_.File("missing.key");
  StatusOr<std::unique_ptr<coordinator::Server>> s =
      coordinator::Server::Start(options);
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("missing.pem"), std::string::npos);
  options.tls_key_file.clear();
  EXPECT_EQ(coordinator::Server::Start(options).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::testing
