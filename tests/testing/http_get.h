// A minimal blocking HTTP/1.0 GET on loopback, for tests that read /metrics
// or ask a Prometheus server. No redirects, no chunked bodies, no TLS.

#ifndef MOESWEEP_TESTS_TESTING_HTTP_GET_H_
#define MOESWEEP_TESTS_TESTING_HTTP_GET_H_

#include <string>
#include <string_view>

#include "common/status.h"

namespace moesweep::testing {

// GET http://127.0.0.1:<port><target> (`target` is the path plus any query,
// starting with '/'), read to the end of the connection. Returns the body
// when the status is 2xx. Errors:
//   UNAVAILABLE        connect fails (nothing listening), the connection
//                      drops, no answer within `timeout_s` seconds, or the
//                      server answers 503;
//   NOT_FOUND          404;
//   INVALID_ARGUMENT   400;
//   UNKNOWN            any other status, or an answer that is not HTTP.
// Error messages name the target, the status line and the start of the
// body. Thread-safe (no shared state).
StatusOr<std::string> HttpGet(int port, std::string_view target,
                              double timeout_s = 10);

// `text` with every byte but A-Z a-z 0-9 - _ . ~ written as %XX, for one
// query parameter's value.
std::string UrlEncode(std::string_view text);

}  // namespace moesweep::testing

#endif  // MOESWEEP_TESTS_TESTING_HTTP_GET_H_
