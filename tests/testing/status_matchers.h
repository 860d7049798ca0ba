// EXPECT_OK / ASSERT_OK for Status and StatusOr, printing the error on failure.

#ifndef MOESWEEP_TESTS_TESTING_STATUS_MATCHERS_H_
#define MOESWEEP_TESTS_TESTING_STATUS_MATCHERS_H_

#include <gtest/gtest.h>

#include "common/status.h"

namespace moesweep::testing {

inline const Status& GetStatus(const Status& s) { return s; }
template <typename T>
const Status& GetStatus(const StatusOr<T>& s) {
  return s.status();
}

}  // namespace moesweep::testing

#define EXPECT_OK(expr)                                  \
  EXPECT_TRUE(::moesweep::testing::GetStatus(expr).ok()) \
      << ::moesweep::testing::GetStatus(expr).ToString()
#define ASSERT_OK(expr)                                  \
  ASSERT_TRUE(::moesweep::testing::GetStatus(expr).ok()) \
      << ::moesweep::testing::GetStatus(expr).ToString()

#endif  // MOESWEEP_TESTS_TESTING_STATUS_MATCHERS_H_
