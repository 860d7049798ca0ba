// Client: one connection to a coordinator as the command line makes it. The
// address, the token and the TLS roots come from flags, else from the
// environment (MOESWEEP_COORDINATOR, MOESWEEP_TOKEN_FILE or MOESWEEP_TOKEN,
// MOESWEEP_TLS_CA), so a shell sets them once. Shared by `moesweep campaign`,
// `moesweep law|predict|optimal CAMPAIGN` and `moesweep worker`.

#ifndef MOESWEEP_CLI_CLIENT_H_
#define MOESWEEP_CLI_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "CLI/CLI.hpp"
#include "cli/connection_flags.h"
#include "common/status.h"
#include "coordinator/coordinator.h"
#include "moesweep/v1/campaign.grpc.pb.h"

namespace moesweep::cli {

inline constexpr char kDefaultCoordinator[] = "127.0.0.1:7480";

// Adds --coordinator, --token-file and --tls-ca to `cmd`.
void AddConnectionFlags(CLI::App* cmd, ConnectionFlags* flags);

// Where to connect and as whom, resolved.
struct Connection {
  std::string address;
  std::string token;
  std::string tls_root_pem;  // empty: plaintext
};

// Flags first, then MOESWEEP_COORDINATOR (default 127.0.0.1:7480),
// MOESWEEP_TOKEN_FILE then MOESWEEP_TOKEN, and MOESWEEP_TLS_CA. The token is
// the file's token for `role` (an admin token stands in for a viewer's; a
// worker takes only a worker token). Errors: INVALID_ARGUMENT when no token
// is given anywhere (naming the flag and both variables) or a token is not
// 16..256 printable characters; the token or PEM file's own errors.
StatusOr<Connection> ResolveConnection(const ConnectionFlags& flags,
                                       coordinator::Role role);

// Thread-compatible. Owns the channel; every context it makes carries the
// token.
class Client {
 public:
  static StatusOr<std::unique_ptr<Client>> Open(const ConnectionFlags& flags,
                                                coordinator::Role role);

  v1::CampaignService::Stub& campaigns() { return *campaigns_; }
  const std::string& address() const { return connection_.address; }

  // A context with the token, and a deadline `deadline_s` from now (0: none,
  // for streams a person watches).
  std::unique_ptr<grpc::ClientContext> Context(double deadline_s = 60) const;

  // A finished call as a Status; UNAVAILABLE names the address.
  Status Check(const grpc::Status& s) const;

 private:
  explicit Client(Connection connection);
  const Connection connection_;
  std::unique_ptr<v1::CampaignService::Stub> campaigns_;
};

// Exit codes of the commands that talk to a coordinator (README.md):
//   0 done; 1 failed (a coordinator or internal error); 2 bad input
//   (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS,
//   OUT_OF_RANGE: an unknown campaign, a bad spec); 3 the token was refused
//   (UNAUTHENTICATED, PERMISSION_DENIED); 4 the coordinator is unreachable or
//   did not answer in time (UNAVAILABLE, DEADLINE_EXCEEDED).
// Prints "moesweep <command>: <message>" to `err` and returns the code.
int ClientFail(std::string_view command, const Status& status,
               std::ostream& err);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_CLIENT_H_
