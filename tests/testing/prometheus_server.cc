// The child is started with fork and execv. Between them the child calls
// only async-signal-safe functions (prctl, dup2, execv, _exit): the test
// process has other threads (the metrics server's), and any of them may hold
// a lock, such as malloc's, at the moment of the fork.

#include "tests/testing/prometheus_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include "tests/testing/http_get.h"

namespace moesweep::testing {
namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point Deadline(double seconds_from_now) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(seconds_from_now));
}

// A port that was free a moment ago on 127.0.0.1. Another process may take
// it before Prometheus binds it; Start then tries another.
StatusOr<int> PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return UnavailableError(std::string("socket: ") + strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  const bool ok =
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  const int saved_errno = errno;
  close(fd);
  if (!ok) {
    return UnavailableError(std::string("picking a free port: ") +
                            strerror(saved_errno));
  }
  return static_cast<int>(ntohs(addr.sin_port));
}

std::string Tail(const std::string& text, size_t n) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

}  // namespace

StatusOr<std::unique_ptr<PrometheusServer>> PrometheusServer::Start(
    int target_port, std::string_view metrics_path, const std::string& binary,
    double ready_timeout_s) {
  return StartWithConfig(
      "global:\n"
      "  scrape_interval: 1s\n"
      "  scrape_timeout: 1s\n"
      "  evaluation_interval: 1s\n"
      "scrape_configs:\n"
      "  - job_name: moesweep\n"
      "    metrics_path: " +
          std::string(metrics_path) +
          "\n"
          "    static_configs:\n"
          "      - targets: ['127.0.0.1:" +
          std::to_string(target_port) + "']\n",
      binary, ready_timeout_s);
}

StatusOr<std::unique_ptr<PrometheusServer>> PrometheusServer::StartWithConfig(
    const std::string& config_yaml, const std::string& binary,
    double ready_timeout_s) {
  if (access(binary.c_str(), X_OK) != 0) {
    return FailedPreconditionError(
        binary + " is not an executable file (" + strerror(errno) +
        "); install Debian's prometheus package (scripts/setup does)");
  }
  std::unique_ptr<PrometheusServer> server(new PrometheusServer);
  server->dir_.Write("prometheus.yml", config_yaml);
  Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    MOESWEEP_ASSIGN_OR_RETURN(const int port, PickFreePort());
    last = server->Launch(binary, port, ready_timeout_s);
    if (last.ok()) {
      server->port_ = port;
      return server;
    }
    if (last.code() != StatusCode::kUnavailable) return last;
  }
  return last;
}

Status PrometheusServer::Launch(const std::string& binary, int port,
                                double ready_timeout_s) {
  std::vector<std::string> args = {
      binary,
      "--config.file=" + dir_.File("prometheus.yml"),
      "--storage.tsdb.path=" + dir_.File("data"),
      "--web.listen-address=127.0.0.1:" + std::to_string(port),
  };
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  const std::string log = dir_.File("prometheus.log");
  const int log_fd =
      open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    return UnavailableError("opening " + log +
                            " or /dev/null: " + strerror(errno));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent is already gone
    // dup2 clears O_CLOEXEC on the copies, so these three survive execv.
    dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const int fork_errno = errno;
  close(log_fd);
  close(null_fd);
  if (pid < 0) {
    return UnavailableError(std::string("fork: ") + strerror(fork_errno));
  }
  pid_ = pid;

  const Clock::time_point deadline = Deadline(ready_timeout_s);
  while (Clock::now() < deadline) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return UnavailableError(binary + " exited (wait status " +
                              std::to_string(wstatus) +
                              ") before ready: " + Tail(Log(), 2000));
    }
    if (HttpGet(port, "/-/ready", 1).ok()) return OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid_, SIGKILL);
  Reap(10);
  return Status(StatusCode::kDeadlineExceeded,
                binary + " not ready after " + std::to_string(ready_timeout_s) +
                    " s: " + Tail(Log(), 2000));
}

// Waits on the child's exit itself (a pidfd turns readable when it exits),
// not on a polling loop.
bool PrometheusServer::Reap(double timeout_s) {
  bool exited = false;
  const int fd = int(syscall(SYS_pidfd_open, pid_, 0));
  if (fd >= 0) {
    pollfd child{fd, POLLIN, 0};
    int ready;
    do {
      ready = poll(&child, 1, int(timeout_s * 1000));
    } while (ready < 0 && errno == EINTR);
    close(fd);
    exited = ready > 0;
  }
  // Blocks only once the pidfd said it exited; else collects it if it did.
  const pid_t r = waitpid(pid_, nullptr, exited ? 0 : WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    pid_ = -1;
    return true;
  }
  return false;
}

PrometheusServer::~PrometheusServer() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  if (!Reap(10)) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

StatusOr<std::string> PrometheusServer::Query(std::string_view promql) const {
  return HttpGet(port_, "/api/v1/query?query=" + UrlEncode(promql));
}

StatusOr<std::string> PrometheusServer::QueryUntil(
    std::string_view promql,
    const std::function<bool(const std::string& body)>& done,
    double timeout_s) const {
  const Clock::time_point deadline = Deadline(timeout_s);
  std::string last;
  for (;;) {
    StatusOr<std::string> body = Query(promql);
    if (body.ok() && done(*body)) return body;
    last = body.ok() ? *body : body.status().ToString();
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status(StatusCode::kDeadlineExceeded,
                "query '" + std::string(promql) +
                    "' not answered as wanted in " + std::to_string(timeout_s) +
                    " s; last answer: " + Tail(last, 1000) +
                    "; prometheus log: " + Tail(Log(), 2000));
}

std::string PrometheusServer::Log() const {
  return ReadFile(dir_.File("prometheus.log"));
}

}  // namespace moesweep::testing
