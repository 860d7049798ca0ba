// RealClock: std::chrono::steady_clock in milliseconds.

#include "common/clock.h"

#include <chrono>

namespace moesweep {
namespace {

class SteadyClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  // Steady time never jumps: nobody needs waking.
  int AddWaker(std::function<void()>) override { return 0; }
  void RemoveWaker(int) override {}
};

}  // namespace

Clock* RealClock() {
  static SteadyClock* const clock = new SteadyClock();  // never destroyed
  return clock;
}

}  // namespace moesweep
