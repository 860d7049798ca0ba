// Scheduler: the task thread and the outbox. Campaign decisions are in
// scheduler_campaigns.cc, worker traffic in scheduler_worker.cc, the rebuild
// after a restart in scheduler_load.cc, fits and proposals on the fit
// threads in scheduler_fits.cc, the read side (views, reads, Watch
// registration) in scheduler_views.cc.

#include "coordinator/scheduler.h"

#include <algorithm>
#include <chrono>

#include "coordinator/records.h"
#include "coordinator/watch_stream.h"
#include "coordinator/worker_input.h"
#include "coordinator/worker_stream.h"

namespace moesweep::coordinator {

Scheduler::Scheduler(Store* store, Metrics* metrics,
                     const ServerOptions& options)
    : store_(store),
      metrics_(metrics),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : RealClock()),
      leases_(clock_),
      built_(std::make_shared<const ReadView>()),
      view_(built_),
      executor_(options.fit_threads > 0
                    ? options.fit_threads
                    : static_cast<int>(std::thread::hardware_concurrency())) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  {
    absl::MutexLock lock(&mu_);
    started_ = true;
  }
  // A clock moved by hand wakes the loop, which expires what came due.
  clock_waker_ = clock_->AddWaker([this] {
    absl::MutexLock lock(&task_mu_);
    task_cv_.Signal();
  });
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  // The fits out finish and post their outcomes, which the loop applies
  // (and stores) before it ends; what they would start next is dropped.
  executor_.Stop();
  {
    absl::MutexLock lock(&task_mu_);
    stopping_ = true;
    task_cv_.Signal();
  }
  if (thread_.joinable()) {
    thread_.join();
    clock_->RemoveWaker(clock_waker_);
  }
  absl::MutexLock lock(&mu_);
  for (WorkerStream* s : gone_) delete s;
  gone_.clear();
}

void Scheduler::Post(std::function<void()> task) {
  absl::MutexLock lock(&task_mu_);
  tasks_.push_back(std::move(task));
  task_cv_.Signal();
}

void Scheduler::Loop() {
  for (;;) {
    std::deque<std::function<void()>> tasks;
    bool stopping = false;
    {
      absl::MutexLock lock(&task_mu_);
      if (tasks_.empty() && !stopping_) {
        // Wake for the next lease deadline; at most a second apart so a
        // renewed lease's new deadline is picked up. A test's clock wakes
        // the loop itself when moved (Start).
        const int64_t wait_ms = std::clamp<int64_t>(
            leases_.NextDeadlineMs() - clock_->NowMs(), 1, 1000);
        task_cv_.WaitWithTimeout(&task_mu_, absl::Milliseconds(wait_ms));
      }
      tasks.swap(tasks_);
      stopping = stopping_;
    }
    absl::MutexLock lock(&mu_);
    for (std::function<void()>& task : tasks) {
      task();
      (void)Flush();  // a failure broke the store: nothing more goes out
    }
    if (stopping) return;
    ExpireLeases();
    // Once a second at most: a loop turn runs per batch of tasks, and
    // these walk every connected worker and finished campaign.
    if (const int64_t now = clock_->NowMs();
        now - metrics_swept_ms_ >= 1000 || now < metrics_swept_ms_) {
      metrics_swept_ms_ = now;
      PublishWorkerSilence();
      ExpireCampaignMetrics();
    }
    Dispatch();
    (void)Flush();
    for (WorkerStream* s : gone_) delete s;
    gone_.clear();
  }
}

int64_t Scheduler::ClockMs() const { return clock_->NowMs(); }

Status Scheduler::Flush() {
  Outbox out;
  std::swap(out, outbox_);
  // Crash-only: a failed write leaves memory ahead of disk, and rolling it
  // back is harder than a restart. The store stays broken after it (and has
  // told the Server, which reports NOT_SERVING so the process exits), so
  // from then on every Flush fails here and nothing the memory holds, no
  // message and no event, goes out again.
  MOESWEEP_RETURN_IF_ERROR(store_->health());
  if (!out.records.empty() || !out.new_trials.empty()) {
    Status s = store_->WriteRecords(out.records, out.new_trials);
    if (!s.ok()) {
      std::fprintf(stderr, "coordinator: %s\n", s.ToString().c_str());
      return s;
    }
  }
  PublishViews(out.events);
  for (auto& [worker_id, message] : out.messages) {
    auto it = workers_.find(worker_id);
    if (it != workers_.end()) it->second.stream->Send(std::move(message));
  }
  return OkStatus();
}

void Scheduler::Publish(const std::vector<v1::CampaignEvent>& events) {
  if (events.empty()) return;
  absl::MutexLock lock(&view_mu_);
  for (const v1::CampaignEvent& e : events) {
    auto [begin, end] = watchers_.equal_range(e.campaign_id());
    for (auto it = begin; it != end; ++it) it->second->Push(e);
  }
}

ServerStats Scheduler::stats() const {
  ServerStats s;
  {
    absl::MutexLock lock(&stats_mu_);
    s = stats_;
    // Fenced reports are refused by the stream (before the store) or by the
    // store; both answer through StaleReportRefused.
    s.stale_reports_refused = stale_refused_;
  }
  s.workers_connected = workers_connected_.load(std::memory_order_relaxed);
  s.reports_stored = store_->stats().reports_stored;
  s.lease_renewals = leases_.renewals();
  return s;
}

StatusOr<CampaignRun*> Scheduler::Find(const std::string& campaign_id) const {
  auto it = campaigns_.find(campaign_id);
  if (it == campaigns_.end()) {
    auto q = quarantined_.find(campaign_id);
    if (q != quarantined_.end()) {
      return FailedPreconditionError(
          "campaign '" + campaign_id +
          "' is FAILED: " + q->second.state_reason());
    }
    return NotFoundError("campaign '" + Prefix(campaign_id) + "' not found");
  }
  return it->second.get();
}

}  // namespace moesweep::coordinator
