// FakeClock: a Clock that moves only when a test moves it (STYLE.md H17), so
// lease expiry and the agent's heartbeats are tested without sleeping.

#ifndef MOESWEEP_TESTS_TESTING_FAKE_CLOCK_H_
#define MOESWEEP_TESTS_TESTING_FAKE_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace moesweep::testing {

// Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'000'000) : now_ms_(start_ms) {}

  int64_t NowMs() const override {
    return now_ms_.load(std::memory_order_acquire);
  }
  // Moves time ahead by `ms` and wakes whoever waits on a deadline.
  void Advance(int64_t ms) {
    absl::MutexLock lock(&mu_);
    now_ms_.fetch_add(ms, std::memory_order_acq_rel);
    for (auto& [id, wake] : wakers_) wake();
  }
  int AddWaker(std::function<void()> wake) override {
    absl::MutexLock lock(&mu_);
    wakers_.emplace(next_id_, std::move(wake));
    return next_id_++;
  }
  void RemoveWaker(int id) override {
    absl::MutexLock lock(&mu_);
    wakers_.erase(id);
  }

 private:
  std::atomic<int64_t> now_ms_;
  absl::Mutex mu_;
  std::map<int, std::function<void()>> wakers_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace moesweep::testing

#endif  // MOESWEEP_TESTS_TESTING_FAKE_CLOCK_H_
