// PrometheusServer: a real Prometheus server (Debian's /usr/bin/prometheus)
// run as a child process that scrapes one loopback target every second, for
// tests that check what a scraper sees (STYLE.md H17). Link
// moesweep_prometheus_testing.
//
//   StatusOr<std::unique_ptr<PrometheusServer>> prom =
//       PrometheusServer::Start(metrics->port());
//   ASSERT_OK(prom);  // scripts/setup installs the server: never a skip
//   StatusOr<std::string> body = (*prom)->QueryUntil("up", is_up);

#ifndef MOESWEEP_TESTS_TESTING_PROMETHEUS_SERVER_H_
#define MOESWEEP_TESTS_TESTING_PROMETHEUS_SERVER_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "tests/testing/temp_dir.h"

namespace moesweep::testing {

inline constexpr char kPrometheusBinary[] = "/usr/bin/prometheus";

// Not thread-safe: used by one test thread. The child gets SIGKILL if the
// thread that called Start exits first (PR_SET_PDEATHSIG), so a crashed test
// leaves no server behind.
class PrometheusServer {
 public:
  // Writes a config that scrapes http://127.0.0.1:<target_port><metrics_path>
  // every 1 s (job "moesweep"), starts `binary` on a free loopback port with
  // its data, config and log in a fresh temp dir, and waits up to
  // `ready_timeout_s` seconds for its /-/ready. Errors:
  //   FAILED_PRECONDITION  `binary` is not an executable file (Prometheus is
  //                        not installed; scripts/setup installs it);
  //   UNAVAILABLE          it exited or was not ready in time (three tries on
  //                        fresh ports); the message holds its log's tail.
  static StatusOr<std::unique_ptr<PrometheusServer>> Start(
      int target_port, std::string_view metrics_path = "/metrics",
      const std::string& binary = kPrometheusBinary,
      double ready_timeout_s = 30);

  // As Start, with the whole configuration given (the caller names the
  // targets, intervals and rule files; a relative rule file resolves against
  // the temp dir, so give absolute paths).
  static StatusOr<std::unique_ptr<PrometheusServer>> StartWithConfig(
      const std::string& config_yaml,
      const std::string& binary = kPrometheusBinary,
      double ready_timeout_s = 30);

  // SIGTERM, then SIGKILL after 10 s, and reaps the child; removes the dir.
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // The server's HTTP port on 127.0.0.1.
  int port() const { return port_; }

  // The JSON body of GET /api/v1/query?query=<promql> (an instant query at
  // now), as HttpGet returns it: INVALID_ARGUMENT (400) for bad PromQL,
  // UNAVAILABLE when the server does not answer.
  StatusOr<std::string> Query(std::string_view promql) const;

  // Runs Query every 200 ms until `done(body)` holds, and returns that body.
  // DEADLINE_EXCEEDED after `timeout_s` seconds, with the last answer (or
  // error) and the log's tail in the message. The first scrape comes about
  // 5-8 s after Start (Prometheus 2.42 applies its targets every 5 s), then
  // one every second.
  StatusOr<std::string> QueryUntil(
      std::string_view promql,
      const std::function<bool(const std::string& body)>& done,
      double timeout_s = 30) const;

  // The server's stdout and stderr so far (for failure messages).
  std::string Log() const;

 private:
  PrometheusServer() = default;
  // Starts the child on `port`: UNAVAILABLE if it exits, DEADLINE_EXCEEDED
  // if it is not ready in time (killed and reaped then).
  Status Launch(const std::string& binary, int port, double ready_timeout_s);
  // Waits up to `timeout_s` seconds for the child to exit; true if it did.
  bool Reap(double timeout_s);

  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace moesweep::testing

#endif  // MOESWEEP_TESTS_TESTING_PROMETHEUS_SERVER_H_
