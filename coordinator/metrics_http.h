// MetricsHttpServer: serves GET /metrics on one thread. prometheus-cpp's own
// Exposer (civetweb) cannot start its threads in a process that also loads
// OpenBLAS, glog and METIS (through Ceres): their static TLS outgrows
// civetweb's fixed thread stack, so this small server stands in for it.
// Internal to coordinator/.

#ifndef MOESWEEP_COORDINATOR_METRICS_HTTP_H_
#define MOESWEEP_COORDINATOR_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace moesweep::coordinator {

// Thread-safe. One scrape at a time; Prometheus scrapes one at a time.
class MetricsHttpServer {
 public:
  // Binds `listen` (host:port, port 0 picks one) and serves `render()` on
  // /metrics, 404 elsewhere. UNAVAILABLE naming the address when it cannot
  // be bound. `render` runs on the server thread.
  static StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, std::function<std::string()> render);
  // Stops at once (a scrape in progress is cut short) and joins the thread.
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }

 private:
  MetricsHttpServer(int listen_fd, int port,
                    std::function<std::string()> render);
  void Serve();
  void Answer(int fd);

  const int listen_fd_;
  const int port_;
  const std::function<std::string()> render_;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_METRICS_HTTP_H_
