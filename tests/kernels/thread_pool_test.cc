#include <gtest/gtest.h>

#include <vector>

#include "kernels/kernels.h"

namespace moesweep::kernels {
namespace {

TEST(ThreadPoolTest, RunsEveryTaskExactlyOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int n : {0, 1, 2, 5, 64}) {
      for (int repeat = 0; repeat < 50; ++repeat) {
        std::vector<int> runs(n, 0);
        pool.Run(n, [&](int i) { runs[i] += 1; });
        for (int i = 0; i < n; ++i) ASSERT_EQ(runs[i], 1) << "task " << i;
      }
    }
  }
}

TEST(ThreadPoolTest, SurvivesIdleSleepBetweenRuns) {
  ThreadPool pool(2);
  std::vector<int> runs(4, 0);
  for (int repeat = 0; repeat < 3; ++repeat) {
    // Long enough for workers to give up spinning and wait on the condition.
    volatile double sink = 0;
    for (int i = 0; i < 5000000; ++i) sink = sink + i;
    pool.Run(4, [&](int i) { runs[i] += 1; });
  }
  for (int i = 0; i < 4; ++i) EXPECT_EQ(runs[i], 3);
}

TEST(ThreadPoolTest, HardwareThreadsIsPositive) {
  EXPECT_GE(HardwareThreads(), 1);
}

}  // namespace
}  // namespace moesweep::kernels
