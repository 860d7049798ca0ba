// Clock: the steady time behind every deadline (the coordinator's leases,
// the worker agent's heartbeats, backoff and timeouts), as a seam tests drive
// (tests/testing/fake_clock.h) instead of sleeping (STYLE.md H17).

#ifndef MOESWEEP_COMMON_CLOCK_H_
#define MOESWEEP_COMMON_CLOCK_H_

#include <cstdint>
#include <functional>

namespace moesweep {

// Never goes back and is unrelated to the wall (a wall-clock step must not
// expire or stretch a lease). Wall time is only for timestamps shown to
// users. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since an arbitrary fixed origin.
  virtual int64_t NowMs() const = 0;
  // `wake` is called, on the thread that moves the clock, whenever its time
  // jumps ahead (a test's clock moved by hand), until RemoveWaker(id) has
  // returned; so a thread waiting for a deadline rechecks it at once. A real
  // clock never jumps and never calls it. Returns the id for RemoveWaker.
  virtual int AddWaker(std::function<void()> wake) = 0;
  virtual void RemoveWaker(int id) = 0;
};

// The process's steady clock (std::chrono::steady_clock). Lives forever.
Clock* RealClock();

}  // namespace moesweep

#endif  // MOESWEEP_COMMON_CLOCK_H_
