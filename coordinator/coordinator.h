// The coordinator's public API (STYLE.md H1): the gRPC server that runs
// campaigns (CampaignService) and hands their trials to workers
// (WorkerService), on an embedded RocksDB store, with Prometheus metrics.
// Wire contracts: proto/moesweep/v1/campaign.proto and worker.proto.

#ifndef MOESWEEP_COORDINATOR_COORDINATOR_H_
#define MOESWEEP_COORDINATOR_COORDINATOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"  // IWYU pragma: export
#include "common/status.h"
#include "coordinator/store.h"  // IWYU pragma: export

namespace moesweep::coordinator {

// What a bearer token may do. Admin may do everything a viewer may; a worker
// token serves WorkerService only.
enum class Role { kViewer, kAdmin, kWorker };
std::string_view RoleName(Role role);

struct Credential {
  std::string token;  // sent as `authorization: Bearer <token>`
  Role role = Role::kViewer;
};

// Reads a tokens file: one `<role> <token>` pair a line (role admin, worker
// or viewer; token 16..256 printable ASCII characters), `#` comments and
// blank lines ignored. INVALID_ARGUMENT naming file:line for a bad line or a
// token listed twice (the message never holds the token); NOT_FOUND for a
// missing file.
StatusOr<std::vector<Credential>> ReadTokensFile(const std::string& path);
// Writes a fresh admin, worker and viewer token to `path` (mode 0600, not
// replacing a file that exists: ALREADY_EXISTS) and returns them.
StatusOr<std::vector<Credential>> WriteNewTokensFile(const std::string& path);

struct ServerOptions {
  std::string db_path;                  // RocksDB folder; required
  std::string listen = "127.0.0.1:0";   // host:port; port 0 picks one
  std::string metrics_listen;           // host:port of /metrics; empty: off
  std::vector<Credential> credentials;  // required: at least one
  std::string tls_cert_file;            // PEM; both or neither
  std::string tls_key_file;             // PEM
  // A lease lasts this long past its last renewal (Progress, Heartbeat).
  int64_t lease_ttl_ms = 15000;
  // Workers heartbeat this often; well below lease_ttl_ms.
  int64_t heartbeat_interval_ms = 3000;
  // After a restart, leases found in the store wait this long for their
  // worker to reconnect before they expire.
  int64_t reconnect_grace_ms = 30000;
  // Attempts a trial gets (errors and lease expiries; preemptions are free).
  int max_attempts = 3;
  // Events one Watch stream may have queued; a watcher further behind is
  // ended with RESOURCE_EXHAUSTED naming the after_event_seq to resume from.
  int max_watch_queue = 1024;
  // A finished campaign's Prometheus series are removed this long after it
  // finished (a restart shows them again for as long), so /metrics does not
  // grow with every campaign ever run.
  int64_t metrics_retention_ms = 6 * 3600 * 1000;
  // Threads that fit laws, estimate their covariance and propose runs, off
  // the scheduler thread (one job per campaign at a time); 0: every core.
  int fit_threads = 1;
  // Test seam: called on a fit thread as each of a campaign's fit or
  // proposal jobs begins, with the campaign id. A test blocks in it to hold
  // that campaign's fit. Must not call into the Server. Optional.
  std::function<void(const std::string& campaign_id)> on_fit_start;
  // Called once when a synced store write fails (UNAVAILABLE, with the
  // error). The server is then crash-only: health says NOT_SERVING, no
  // report is acknowledged and nothing more is sent, and the owner should
  // shut it down and exit non-zero (`moesweep coordinator` does). Runs on a
  // store or scheduler thread: must not block or destroy the Server.
  // Optional.
  std::function<void(const Status&)> on_store_failure;
  // RocksDB Env of the store (StoreOptions::env); borrowed, must outlive the
  // Server. Null: the default. Tests inject disk faults through it.
  rocksdb::Env* store_env = nullptr;
  // Time of lease deadlines and expiry; borrowed, must outlive the Server.
  // Null: RealClock(). Tests drive lease expiry through a clock of their own.
  Clock* clock = nullptr;
  Status Validate() const;
};

// Live counters, copied under the server's locks.
struct ServerStats {
  int64_t workers_connected = 0;
  int64_t lease_expiries = 0;
  int64_t lease_renewals = 0;  // by a Heartbeat or a report of the holder
  int64_t stale_reports_refused = 0;
  int64_t reports_stored = 0;
  int64_t proposals = 0;  // trials proposed since start
};

// One running coordinator. Thread-safe.
class Server {
 public:
  // Opens the store, rebuilds every campaign from it (leases get
  // reconnect_grace_ms), and starts serving. Errors: INVALID_ARGUMENT for bad
  // options; FAILED_PRECONDITION for an unusable DB folder or a store of
  // another schema version (Store::Open); UNAVAILABLE when an address cannot
  // be bound (in use); DATA_LOSS for a corrupt store.
  static StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  // Shutdown(), then closes the store.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;          // the bound gRPC port
  int metrics_port() const;  // the bound /metrics port; 0 when off
  ServerStats stats() const;
  // OK while serving; after a synced store write failed, that error
  // (UNAVAILABLE) for good: the server serves no more work (see
  // ServerOptions::on_store_failure).
  Status health() const;

  // Stops accepting calls, ends open streams with UNAVAILABLE, waits for
  // background fits and every pending store write. Idempotent.
  void Shutdown();

 private:
  class Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_COORDINATOR_H_
