// Tokens files and the full auth matrix: every RPC with no token, an
// unknown token, and each role's token.

#include "coordinator/auth.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/testing/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::testing {
namespace {

namespace v1 = ::moesweep::v1;
using coordinator::Role;

TEST(TokensFileTest, ReadsRolesAndRefusesBadLinesNamingFileAndLine) {
  TempDir dir;
  StatusOr<std::vector<coordinator::Credential>> ok =
      coordinator::ReadTokensFile(dir.Write(
          "t",
          "# comment\n\nadmin aaaaaaaaaaaaaaaa1\nworker "
          "bbbbbbbbbbbbbbbb2  # trailing\nviewer cccccccccccccccc3\n"));
  ASSERT_OK(ok);
  ASSERT_EQ(ok->size(), 3u);
  EXPECT_EQ((*ok)[1].role, Role::kWorker);
  EXPECT_EQ((*ok)[1].token, "bbbbbbbbbbbbbbbb2");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"root aaaaaaaaaaaaaaaa1\n", ":1: role must be admin"},
      {"admin short\n", ":1: a token must have 16 to 256"},
      {"admin\n", ":1: expected '<role> <token>'"},
      {"admin aaaaaaaaaaaaaaaa1 extra\n", ":1: expected"},
      {"admin aaaaaaaaaaaaaaaa1\nviewer aaaaaaaaaaaaaaaa1\n",
       ":2: token listed"},
      {"# nothing\n", "no tokens"},
  };
  for (const auto& [text, message] : bad) {
    StatusOr<std::vector<coordinator::Credential>> r =
        coordinator::ReadTokensFile(dir.Write("bad", text));
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(r.status().message().find(message), std::string::npos)
        << r.status().message();
    EXPECT_EQ(r.status().message().find("aaaaaaaaaaaaaaaa1"), std::string::npos)
        << "a message must never hold a token";
  }
  EXPECT_EQ(coordinator::ReadTokensFile(dir.File("missing")).status().code(),
            StatusCode::kNotFound);
}

TEST(TokensFileTest, NewTokensFileIsPrivateAndNotOverwritten) {
  TempDir dir;
  const std::string path = dir.File("tokens");
  StatusOr<std::vector<coordinator::Credential>> made =
      coordinator::WriteNewTokensFile(path);
  ASSERT_OK(made);
  EXPECT_EQ(made->size(), 3u);
  EXPECT_EQ(
      std::filesystem::status(path).permissions() & std::filesystem::perms::all,
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  StatusOr<std::vector<coordinator::Credential>> read =
      coordinator::ReadTokensFile(path);
  ASSERT_OK(read);
  EXPECT_EQ((*read)[0].token, (*made)[0].token);
  EXPECT_EQ(coordinator::WriteNewTokensFile(path).status().code(),
            StatusCode::kAlreadyExists);
}

using AuthTest = CoordinatorFixture;

// Calls one RPC with `token` (empty: no metadata) and returns its code.
using Call = std::function<grpc::StatusCode(const std::string& token)>;

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
  if (token.empty()) return std::make_unique<grpc::ClientContext>();
  return AuthContext(token);
}

TEST_F(AuthTest, EveryRpcChecksItsTokenAndRole) {
  StartServer();
  auto stub = CampaignStub();
  auto wstub = WorkerStub();
  auto* s = stub.get();
  const std::string yaml = SmallCampaignYaml("auth");
#define UNARY(Method, Request, Response, setup)    \
  [s, &yaml](const std::string& token) {           \
    (void)yaml;                                    \
    v1::Request q;                                 \
    setup;                                         \
    v1::Response r;                                \
    auto c = Ctx(token);                           \
    return s->Method(c.get(), q, &r).error_code(); \
  }
  struct Row {
    std::string name;
    Role needs;
    Call call;
  };
  const std::vector<Row> rows = {
      {"Create", Role::kAdmin,
       UNARY(Create, CreateCampaignRequest, CreateCampaignResponse,
             (q.set_spec_yaml(yaml), q.set_validate_only(true)))},
      {"Get", Role::kViewer,
       UNARY(Get, GetCampaignRequest, GetCampaignResponse,
             q.set_campaign_id("c1"))},
      {"List", Role::kViewer,
       UNARY(List, ListCampaignsRequest, ListCampaignsResponse, (void)q)},
      {"Cancel", Role::kAdmin,
       UNARY(Cancel, CancelCampaignRequest, CancelCampaignResponse,
             q.set_campaign_id("c1"))},
      {"Pause", Role::kAdmin,
       UNARY(Pause, PauseCampaignRequest, PauseCampaignResponse,
             q.set_campaign_id("c1"))},
      {"Resume", Role::kAdmin,
       UNARY(Resume, ResumeCampaignRequest, ResumeCampaignResponse,
             q.set_campaign_id("c1"))},
      {"Amend", Role::kAdmin,
       UNARY(Amend, AmendCampaignRequest, AmendCampaignResponse,
             (q.set_campaign_id("c1"), q.set_budget_flops(1)))},
      {"GetLaw", Role::kViewer,
       UNARY(GetLaw, GetLawRequest, GetLawResponse, q.set_campaign_id("c1"))},
      {"Predict", Role::kViewer,
       UNARY(Predict, PredictRequest, PredictResponse,
             q.set_campaign_id("c1"))},
      {"Optimal", Role::kViewer,
       UNARY(Optimal, OptimalRequest, OptimalResponse,
             (q.set_campaign_id("c1"), q.set_budget_flops(1e21)))},
      {"ListTrials", Role::kViewer,
       UNARY(ListTrials, ListTrialsRequest, ListTrialsResponse,
             q.set_campaign_id("c1"))},
      {"GetCurve", Role::kViewer,
       UNARY(GetCurve, GetCurveRequest, GetCurveResponse,
             q.set_campaign_id("c1"))},
      {"Watch", Role::kViewer,
       [s](const std::string& token) {
         v1::WatchCampaignRequest q;
         q.set_campaign_id("c1");
         auto c = Ctx(token);
         auto reader = s->Watch(c.get(), q);
         v1::CampaignEvent e;
         while (reader->Read(&e)) {
         }
         return reader->Finish().error_code();
       }},
      {"Export", Role::kViewer,
       [s](const std::string& token) {
         v1::ExportRequest q;
         q.set_campaign_id("c1");
         q.set_table(v1::EXPORT_TABLE_TRIALS);
         auto c = Ctx(token);
         auto reader = s->Export(c.get(), q);
         v1::ExportChunk chunk;
         while (reader->Read(&chunk)) {
         }
         return reader->Finish().error_code();
       }},
      {"Connect", Role::kWorker,
       [&wstub](const std::string& token) {
         auto c = Ctx(token);
         auto stream = wstub->Connect(c.get());
         v1::WorkerMessage hello;
         hello.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
         stream->Write(hello);
         v1::CoordinatorMessage m;
         if (stream->Read(&m)) {
           c->TryCancel();
           return grpc::StatusCode::OK;  // Welcome: let in
         }
         return stream->Finish().error_code();
       }},
  };
#undef UNARY
  struct Caller {
    std::string token;
    bool valid;
    Role role;
  };
  const std::vector<Caller> callers = {
      {"", false, Role::kViewer},
      {"not-a-known-token-at-all", false, Role::kViewer},
      {kViewerToken, true, Role::kViewer},
      {kWorkerToken, true, Role::kWorker},
      {kAdminToken, true, Role::kAdmin},
  };
  for (const Row& row : rows) {
    for (const Caller& caller : callers) {
      const grpc::StatusCode code = row.call(caller.token);
      const std::string what =
          row.name + " with " +
          (caller.token.empty() ? "no token" : caller.token);
      if (!caller.valid) {
        EXPECT_EQ(code, grpc::StatusCode::UNAUTHENTICATED) << what;
        continue;
      }
      const bool allowed =
          caller.role == row.needs ||
          (caller.role == Role::kAdmin && row.needs == Role::kViewer);
      if (allowed) {
        EXPECT_NE(code, grpc::StatusCode::UNAUTHENTICATED) << what;
        EXPECT_NE(code, grpc::StatusCode::PERMISSION_DENIED) << what;
      } else {
        EXPECT_EQ(code, grpc::StatusCode::PERMISSION_DENIED) << what;
      }
    }
  }
}

}  // namespace
}  // namespace moesweep::testing
