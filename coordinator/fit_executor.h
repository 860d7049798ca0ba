// FitExecutor: the threads that fit laws, estimate their covariance and
// propose runs, so that the scheduler thread never does (issue 13). The
// scheduler posts a job with what it needs copied or borrowed; the job posts
// its result back to the scheduler as a task. Internal to coordinator/.

#ifndef MOESWEEP_COORDINATOR_FIT_EXECUTOR_H_
#define MOESWEEP_COORDINATOR_FIT_EXECUTOR_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace moesweep::coordinator {

// Thread-safe.
class FitExecutor {
 public:
  // `threads` >= 1 run jobs in the order posted.
  explicit FitExecutor(int threads);
  ~FitExecutor();  // Stop()
  FitExecutor(const FitExecutor&) = delete;
  FitExecutor& operator=(const FitExecutor&) = delete;

  // Queues `job`. False (and `job` dropped) once Stop has begun.
  bool Post(std::function<void()> job);
  // Runs the jobs already queued to the end, then joins the threads.
  // Idempotent.
  void Stop();

 private:
  void Loop();
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !jobs_.empty();
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_FIT_EXECUTOR_H_
