#include "tests/testing/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace moesweep::testing {
namespace {

// Closes the socket on every return path.
class Socket {
 public:
  Socket() : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  const int fd_;
};

std::string Errno(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

StatusOr<std::string> HttpGet(int port, std::string_view target,
                              double timeout_s) {
  const std::string where =
      "http://127.0.0.1:" + std::to_string(port) + std::string(target);
  Socket sock;
  if (sock.fd() < 0) return UnavailableError(where + ": " + Errno("socket"));
  timeval timeout{};
  timeout.tv_sec = static_cast<time_t>(timeout_s);
  timeout.tv_usec =
      static_cast<suseconds_t>((timeout_s - std::floor(timeout_s)) * 1e6);
  setsockopt(sock.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(sock.fd(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(sock.fd(), reinterpret_cast<const sockaddr*>(&addr),
              sizeof(addr)) != 0) {
    return UnavailableError(where + ": " + Errno("connect"));
  }

  const std::string request =
      "GET " + std::string(target) +
      " HTTP/1.0\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n\r\n";
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(sock.fd(), request.data() + sent,
                           request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return UnavailableError(where + ": " + Errno("send"));
    sent += static_cast<size_t>(n);
  }

  std::string response;
  char buf[16384];
  for (;;) {
    const ssize_t n = recv(sock.fd(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return UnavailableError(where + ": " + Errno("recv"));
    if (n == 0) break;
    response.append(buf, static_cast<size_t>(n));
  }

  // "HTTP/1.x NNN reason\r\n" headers "\r\n\r\n" body
  const size_t line_end = response.find("\r\n");
  const size_t body_start = response.find("\r\n\r\n");
  if (response.compare(0, 5, "HTTP/") != 0 || line_end == std::string::npos ||
      body_start == std::string::npos || response.size() < 12) {
    return Status(StatusCode::kUnknown, where + ": not an HTTP response: '" +
                                            response.substr(0, 80) + "'");
  }
  const std::string status_line = response.substr(0, line_end);
  std::string body = response.substr(body_start + 4);
  const int code = std::atoi(status_line.c_str() + status_line.find(' ') + 1);
  if (code >= 200 && code < 300) return body;

  const std::string message =
      where + ": " + status_line + ": " + body.substr(0, 300);
  switch (code) {
    case 503:
      return UnavailableError(message);
    case 404:
      return NotFoundError(message);
    case 400:
      return InvalidArgumentError(message);
    default:
      return Status(StatusCode::kUnknown, message);
  }
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') ||
        (u >= '0' && u <= '9') || u == '-' || u == '_' || u == '.' ||
        u == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

}  // namespace moesweep::testing
