// ThreadPool: a fixed team that spins briefly between tasks (a training step
// runs hundreds of short parallel regions) and then sleeps on a condition
// variable, so an idle pool costs nothing.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/kernels.h"

namespace moesweep::kernels {

struct ThreadPool::State {
  std::mutex mu;
  std::condition_variable wake;  // workers: a new Run
  std::condition_variable done;  // the caller: pending reached 0
  // Bumped once per Run; workers start when it moves past what they saw.
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  std::atomic<int> next_task{0};
  std::atomic<bool> stop{false};
  // Written by the caller before it bumps `generation` (release), read by
  // workers after they see the bump (acquire).
  void (*task)(void*, int) = nullptr;
  void* arg = nullptr;
  int n = 0;
  std::vector<std::thread> workers;
  std::vector<float> scratch;
};

namespace {

// About 50 microseconds of polling before a worker sleeps.
constexpr int kSpinIterations = 20000;

}  // namespace

ThreadPool::ThreadPool(int threads)
    : threads_(threads), state_(std::make_unique<State>()) {
  SetGemmLibraryThreads(1);
  for (int w = 1; w < threads_; ++w) {
    state_->workers.emplace_back([this] { WorkerLoop(state_.get()); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop.store(true);
    state_->generation.fetch_add(1, std::memory_order_release);
  }
  state_->wake.notify_all();
  for (std::thread& t : state_->workers) t.join();
}

void ThreadPool::RunTasks(int n, void (*task)(void*, int), void* arg) {
  if (threads_ == 1 || n <= 1) {
    for (int i = 0; i < n; ++i) task(arg, i);
    return;
  }
  State* s = state_.get();
  s->task = task;
  s->arg = arg;
  s->n = n;
  s->pending.store(threads_ - 1, std::memory_order_relaxed);
  s->next_task.store(0, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(s->mu);
    s->generation.fetch_add(1, std::memory_order_release);
  }
  s->wake.notify_all();
  for (int i = s->next_task.fetch_add(1); i < n;
       i = s->next_task.fetch_add(1)) {
    task(arg, i);
  }
  // Spin first (the others finish within microseconds when they have
  // cores), then sleep: a worker preempted by another process is then pulled
  // onto this idle core at once, where spinning would keep the core busy.
  for (int spin = 0; spin < kSpinIterations &&
                     s->pending.load(std::memory_order_acquire) != 0;
       ++spin) {
  }
  if (s->pending.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(s->mu);
    s->done.wait(
        lock, [s] { return s->pending.load(std::memory_order_acquire) == 0; });
  }
}

void ThreadPool::WorkerLoop(State* s) {
  uint64_t seen = 0;
  while (true) {
    uint64_t gen = s->generation.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < kSpinIterations; ++spin) {
      gen = s->generation.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(s->mu);
      s->wake.wait(lock, [&] {
        return s->generation.load(std::memory_order_acquire) != seen;
      });
      gen = s->generation.load(std::memory_order_acquire);
    }
    seen = gen;
    if (s->stop.load()) return;
    for (int i = s->next_task.fetch_add(1); i < s->n;
         i = s->next_task.fetch_add(1)) {
      s->task(s->arg, i);
    }
    if (s->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Under the lock, so the caller cannot miss this between its check
      // and its wait.
      std::lock_guard<std::mutex> lock(s->mu);
      s->done.notify_one();
    }
  }
}

float* ThreadPool::Scratch(size_t floats) {
  if (state_->scratch.size() < floats) state_->scratch.resize(floats);
  return state_->scratch.data();
}

int HardwareThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : int(n);
}

}  // namespace moesweep::kernels
