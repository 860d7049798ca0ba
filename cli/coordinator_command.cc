// moesweep coordinator: serves campaigns and workers until SIGINT or SIGTERM.

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "cli/exit_code.h"
#include "coordinator/coordinator.h"

namespace moesweep::cli {
namespace {

int g_stop_pipe[2] = {-1, -1};

// Written to the stop pipe when the store fails; no signal has number 0.
constexpr unsigned char kStoreFailed = 0;

// Async-signal-safe: one write of the signal number.
void OnStopSignal(int signal) {
  const unsigned char b = static_cast<unsigned char>(signal);
  (void)!::write(g_stop_pipe[1], &b, 1);
}

}  // namespace

void AddCoordinatorCommand(CLI::App* app, CoordinatorCommandOptions* o) {
  CLI::App* cmd =
      app->add_subcommand("coordinator",
                          "Serve campaigns (CampaignService) and workers "
                          "(WorkerService) on an embedded RocksDB store");
  cmd->add_option("--db", o->db, "RocksDB folder (created if missing)")
      ->required();
  cmd->add_option("--listen", o->listen, "gRPC host:port")
      ->capture_default_str();
  cmd->add_option("--metrics", o->metrics,
                  "host:port of the Prometheus /metrics endpoint; empty: off")
      ->capture_default_str();
  cmd->add_option("--tokens", o->tokens,
                  "Tokens file, '<role> <token>' a line (default: <db>.tokens, "
                  "created with fresh tokens when missing)");
  cmd->add_option("--tls-cert", o->tls_cert, "PEM certificate: serve TLS");
  cmd->add_option("--tls-key", o->tls_key, "PEM private key of --tls-cert");
  cmd->add_option("--lease-ttl-ms", o->lease_ttl_ms,
                  "A lease lasts this long past its last renewal")
      ->capture_default_str();
  cmd->add_option("--heartbeat-ms", o->heartbeat_ms,
                  "Workers heartbeat this often")
      ->capture_default_str();
  cmd->add_option("--reconnect-grace-ms", o->reconnect_grace_ms,
                  "After a restart, leases wait this long for their worker")
      ->capture_default_str();
  cmd->add_option("--max-attempts", o->max_attempts,
                  "Attempts a trial gets (preemptions are free)")
      ->capture_default_str();
  cmd->add_option("--metrics-retention-s", o->metrics_retention_s,
                  "A finished campaign's metrics are dropped this long after "
                  "it finished (60 s to 30 days)")
      ->check(CLI::Range(int64_t{60}, int64_t{30 * 24 * 3600}))
      ->capture_default_str();
}

int RunCoordinatorCommand(const CoordinatorCommandOptions& o, std::ostream& out,
                          std::ostream& err) {
  auto fail = [&](const Status& s) { return Fail("coordinator", s, err); };
  coordinator::ServerOptions options;
  options.db_path = o.db;
  options.listen = o.listen;
  options.metrics_listen = o.metrics;
  options.tls_cert_file = o.tls_cert;
  options.tls_key_file = o.tls_key;
  options.lease_ttl_ms = o.lease_ttl_ms;
  options.heartbeat_interval_ms = o.heartbeat_ms;
  options.reconnect_grace_ms = o.reconnect_grace_ms;
  options.max_attempts = o.max_attempts;
  options.metrics_retention_ms = o.metrics_retention_s * 1000;
  std::string tokens = o.tokens;
  if (tokens.empty()) {
    tokens = std::filesystem::path(o.db).lexically_normal().string();
    while (tokens.size() > 1 && tokens.back() == '/') tokens.pop_back();
    tokens += ".tokens";
    if (!std::filesystem::exists(tokens)) {
      StatusOr<std::vector<coordinator::Credential>> made =
          coordinator::WriteNewTokensFile(tokens);
      if (!made.ok()) return fail(made.status());
      out << "wrote fresh admin, worker and viewer tokens to " << tokens
          << "\n";
    }
  }
  StatusOr<std::vector<coordinator::Credential>> creds =
      coordinator::ReadTokensFile(tokens);
  if (!creds.ok()) return fail(creds.status());
  options.credentials = std::move(*creds);

  // Libraries start threads before main (OpenBLAS), so the stop signals
  // cannot be masked for sigwait: a handler writes to a pipe instead.
  if (::pipe(g_stop_pipe) != 0) {
    return fail(UnavailableError("cannot create the signal pipe"));
  }
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // Crash-only on a failed synced write: stop and exit non-zero, so a
  // supervisor restarts the coordinator on a working disk.
  options.on_store_failure = [](const Status&) {
    (void)!::write(g_stop_pipe[1], &kStoreFailed, 1);
  };
  StatusOr<std::unique_ptr<coordinator::Server>> server =
      coordinator::Server::Start(options);
  if (!server.ok()) return fail(server.status());
  const std::string host = o.listen.substr(0, o.listen.rfind(':'));
  out << "coordinator serving on " << host << ":" << (*server)->port();
  if ((*server)->metrics_port() != 0) {
    out << ", metrics on " << o.metrics.substr(0, o.metrics.rfind(':')) << ":"
        << (*server)->metrics_port() << "/metrics";
  }
  out << "; tokens in " << tokens << std::endl;
  unsigned char signal = 0;
  while (::read(g_stop_pipe[0], &signal, 1) < 0 && errno == EINTR) {
  }
  if (signal == kStoreFailed) {
    const Status failure = (*server)->health();
    (*server)->Shutdown();
    return fail(failure);
  }
  out << "coordinator: stopping (signal " << int{signal} << ")" << std::endl;
  (*server)->Shutdown();
  return 0;
}

}  // namespace moesweep::cli
