#include "cli/client.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "cli/exit_code.h"
#include "cli/read_file.h"
#include "worker/agent/agent.h"

namespace moesweep::cli {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

Status CheckToken(const std::string& token, const std::string& where) {
  if (token.size() < 16 || token.size() > 256) {
    return InvalidArgumentError(where + ": a token has 16 to 256 characters");
  }
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return InvalidArgumentError(where +
                                  ": a token is printable ASCII, no spaces");
    }
  }
  return OkStatus();
}

// The token for `role` from a tokens file ('<role> <token>' lines, an admin
// token serving as viewer too), or the file's one bare token.
StatusOr<std::string> TokenFor(const std::string& path,
                               coordinator::Role role) {
  if (role == coordinator::Role::kWorker)
    return worker::agent::ReadTokenFile(path);
  StatusOr<std::vector<coordinator::Credential>> creds =
      coordinator::ReadTokensFile(path);
  if (creds.ok()) {
    for (const auto& c : *creds) {
      if (c.role == role) return c.token;
    }
    for (const auto& c : *creds) {
      if (c.role == coordinator::Role::kAdmin) return c.token;
    }
    return InvalidArgumentError(path + ": no " +
                                std::string(coordinator::RoleName(role)) +
                                " or admin token");
  }
  std::ifstream in(path);
  if (!in) return NotFoundError(path + ": cannot read the token file");
  std::string line;
  for (int lines = 0; lines < 1000 && std::getline(in, line); ++lines) {
    std::istringstream fields(line.substr(0, line.find('#')));
    std::string token, extra;
    if (!(fields >> token)) continue;
    if (fields >> extra) break;
    MOESWEEP_RETURN_IF_ERROR(CheckToken(token, path));
    return token;
  }
  return InvalidArgumentError(path +
                              ": no token (a token alone, or '<role> "
                              "<token>' lines)");
}

}  // namespace

void AddConnectionFlags(CLI::App* cmd, ConnectionFlags* flags) {
  cmd->add_option("--coordinator", flags->coordinator,
                  "host:port (default: $MOESWEEP_COORDINATOR, else " +
                      std::string(kDefaultCoordinator) + ")");
  cmd->add_option("--token-file", flags->token_file,
                  "A token alone, or the coordinator's '<role> <token>' file "
                  "(default: $MOESWEEP_TOKEN_FILE, else the token in "
                  "$MOESWEEP_TOKEN)");
  cmd->add_option("--tls-ca", flags->tls_ca,
                  "PEM certificate(s) to trust: talk TLS to a coordinator "
                  "started with --tls-cert (default: $MOESWEEP_TLS_CA)");
}

StatusOr<Connection> ResolveConnection(const ConnectionFlags& flags,
                                       coordinator::Role role) {
  Connection c;
  c.address = !flags.coordinator.empty() ? flags.coordinator
                                         : Env("MOESWEEP_COORDINATOR");
  if (c.address.empty()) c.address = kDefaultCoordinator;
  const std::string file =
      !flags.token_file.empty() ? flags.token_file : Env("MOESWEEP_TOKEN_FILE");
  if (!file.empty()) {
    MOESWEEP_ASSIGN_OR_RETURN(c.token, TokenFor(file, role));
  } else if (std::string token = Env("MOESWEEP_TOKEN"); !token.empty()) {
    MOESWEEP_RETURN_IF_ERROR(CheckToken(token, "$MOESWEEP_TOKEN"));
    c.token = std::move(token);
  } else {
    return InvalidArgumentError(
        "no token: give --token-file, or set MOESWEEP_TOKEN_FILE (a token "
        "file) or MOESWEEP_TOKEN (the token)");
  }
  const std::string ca =
      !flags.tls_ca.empty() ? flags.tls_ca : Env("MOESWEEP_TLS_CA");
  if (!ca.empty()) {
    MOESWEEP_ASSIGN_OR_RETURN(c.tls_root_pem, ReadTextFile(ca));
  }
  return c;
}

StatusOr<std::unique_ptr<Client>> Client::Open(const ConnectionFlags& flags,
                                               coordinator::Role role) {
  MOESWEEP_ASSIGN_OR_RETURN(Connection c, ResolveConnection(flags, role));
  return std::unique_ptr<Client>(new Client(std::move(c)));
}

Client::Client(Connection connection) : connection_(std::move(connection)) {
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (!connection_.tls_root_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = connection_.tls_root_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  campaigns_ = v1::CampaignService::NewStub(
      grpc::CreateChannel(connection_.address, credentials));
}

std::unique_ptr<grpc::ClientContext> Client::Context(double deadline_s) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", "Bearer " + connection_.token);
  if (deadline_s > 0) {
    context->set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(deadline_s * 1000)));
  }
  return context;
}

Status Client::Check(const grpc::Status& s) const {
  if (s.ok()) return OkStatus();
  std::string message = s.error_message();
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
      s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    message = "coordinator at " + connection_.address + " " +
              (s.error_code() == grpc::StatusCode::UNAVAILABLE
                   ? "unavailable"
                   : "did not answer in time") +
              ": " + message;
  }
  return Status(static_cast<StatusCode>(s.error_code()), message);
}

int ClientFail(std::string_view command, const Status& status,
               std::ostream& err) {
  const int code = Fail(command, status, err);  // prints; 2 for bad input
  switch (status.code()) {
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
      return 3;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return 4;
    default:
      return code;
  }
}

}  // namespace moesweep::cli
