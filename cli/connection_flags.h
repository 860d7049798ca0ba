// ConnectionFlags: how a command was told to reach a coordinator. Its own
// small header so that commands.h stays free of gRPC (cli/client.h resolves
// it).

#ifndef MOESWEEP_CLI_CONNECTION_FLAGS_H_
#define MOESWEEP_CLI_CONNECTION_FLAGS_H_

#include <string>

namespace moesweep::cli {

// What the flags said; empty: ask the environment (ResolveConnection).
struct ConnectionFlags {
  std::string coordinator;  // host:port
  std::string token_file;   // a token alone, or '<role> <token>' lines
  std::string tls_ca;       // PEM roots: talk TLS
};

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_CONNECTION_FLAGS_H_
