// Helpers shared by the store's tests: open, append-and-wait, print a curve.

#ifndef MOESWEEP_TESTS_COORDINATOR_STORE_TEST_UTIL_H_
#define MOESWEEP_TESTS_COORDINATOR_STORE_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "coordinator/store.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::coordinator {

inline std::unique_ptr<Store> OpenOrDie(const std::string& path) {
  StoreOptions options;
  options.path = path;
  StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  EXPECT_OK(store);
  return store.ok() ? std::move(store).value() : nullptr;
}

// prefix + n, built by appending (GCC 12 warns falsely on "lit" + string).
inline std::string Name(std::string prefix, int64_t n) {
  prefix += std::to_string(n);
  return prefix;
}

// Appends one report and waits for its callback.
inline Status Append(Store& store, const std::string& trial, int32_t attempt,
                     int64_t seq, const std::string& payload) {
  absl::Notification done;
  Status result;
  store.AppendReport(trial, attempt, seq, payload, [&](Status s) {
    result = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

// "seq:payload,..." for one attempt.
inline std::string Curve(const Store& store, const std::string& trial,
                         int32_t attempt) {
  StatusOr<std::vector<CurvePoint>> points = store.ReadCurve(trial, attempt);
  if (!points.ok()) return points.status().ToString();
  std::string out;
  for (const CurvePoint& p : *points) {
    out += std::to_string(p.seq) + ":" + p.payload + ",";
  }
  return out;
}

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_TESTS_COORDINATOR_STORE_TEST_UTIL_H_
