// Bearer-token checks for every RPC (campaign.proto and worker.proto say
// which role each call needs). Internal to coordinator/; tokens files are
// read by ReadTokensFile (coordinator.h).

#ifndef MOESWEEP_COORDINATOR_AUTH_H_
#define MOESWEEP_COORDINATOR_AUTH_H_

#include <grpcpp/server_context.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "coordinator/coordinator.h"

namespace moesweep::coordinator {

// Thread-safe (immutable after construction).
class TokenTable {
 public:
  explicit TokenTable(std::vector<Credential> credentials);

  // The caller's role from its `authorization: Bearer <token>` metadata, if
  // that role may act as `needed` (an admin may act as a viewer).
  // UNAUTHENTICATED for a missing, malformed or unknown token;
  // PERMISSION_DENIED for a token of another role. Messages never hold the
  // token.
  Status Check(const grpc::ServerContextBase& context, Role needed) const;

 private:
  const std::vector<Credential> credentials_;
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_AUTH_H_
