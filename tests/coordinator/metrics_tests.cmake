# Tests of coordinator/metrics.*, and the helpers that run a real Prometheus
# server against a /metrics endpoint (STYLE.md H17). Paths are relative to
# tests/, which include()s this file.

# HttpGet and PrometheusServer (tests/testing/). The coordinator's own
# integration test links this too, to scrape a running Server.
add_library(moesweep_prometheus_testing STATIC
  testing/http_get.cc testing/prometheus_server.cc)
target_link_libraries(moesweep_prometheus_testing
  PUBLIC moesweep_common moesweep_testdata)
moesweep_warnings(moesweep_prometheus_testing)

moesweep_test(metrics_test
  SOURCES coordinator/metrics_test.cc
  LIBS moesweep_coordinator moesweep_prometheus_testing
       nlohmann_json::nlohmann_json)
