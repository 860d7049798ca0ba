// Scheduler: the task thread, the outbox, reads and Watch registration.
// Campaign decisions are in scheduler_campaigns.cc, worker traffic in
// scheduler_worker.cc, the rebuild after a restart in scheduler_load.cc.

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
      leases_(clock_) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  // A clock moved by hand wakes the loop, which expires what came due.
  clock_waker_ = clock_->AddWaker([this] {
    absl::MutexLock lock(&task_mu_);
    task_cv_.Signal();
  });
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
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
    Dispatch();
    (void)Flush();
    for (WorkerStream* s : gone_) delete s;
    gone_.clear();
  }
}

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
  for (auto& [worker_id, message] : out.messages) {
    auto it = workers_.find(worker_id);
    if (it != workers_.end()) it->second.stream->Send(std::move(message));
  }
  Publish(out.events);
  return OkStatus();
}

void Scheduler::Publish(const std::vector<v1::CampaignEvent>& events) {
  if (events.empty()) return;
  absl::MutexLock lock(&watch_mu_);
  for (const v1::CampaignEvent& e : events) {
    auto [begin, end] = watchers_.equal_range(e.campaign_id());
    for (auto it = begin; it != end; ++it) it->second->Push(e);
  }
}

ServerStats Scheduler::stats() const {
  ServerStats s;
  {
    absl::MutexLock lock(&mu_);
    s = stats_;
    s.workers_connected = static_cast<int64_t>(workers_.size());
  }
  s.reports_stored = store_->stats().reports_stored;
  // Fenced reports are refused by the stream (before the store) or by the
  // store; both answer through StaleReportRefused.
  absl::MutexLock lock(&stats_mu_);
  s.stale_reports_refused = stale_refused_;
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

StatusOr<v1::Campaign> Scheduler::Get(const std::string& campaign_id) const {
  absl::MutexLock lock(&mu_);
  auto q = quarantined_.find(campaign_id);
  if (q != quarantined_.end()) return q->second;
  MOESWEEP_ASSIGN_OR_RETURN(CampaignRun * run, Find(campaign_id));
  return run->campaign();
}

std::vector<v1::Campaign> Scheduler::List() const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, const v1::Campaign*> all;
  for (const auto& [id, run] : campaigns_) all[id] = &run->campaign();
  for (const auto& [id, c] : quarantined_) all[id] = &c;
  std::vector<v1::Campaign> out;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    out.push_back(*it->second);
  }
  return out;
}

StatusOr<std::vector<v1::Trial>> Scheduler::Trials(
    const std::string& campaign_id) const {
  absl::MutexLock lock(&mu_);
  MOESWEEP_ASSIGN_OR_RETURN(CampaignRun * run, Find(campaign_id));
  std::vector<v1::Trial> out;
  for (const TrialEntry& t : run->trials()) out.push_back(t.trial);
  return out;
}

StatusOr<v1::GetLawResponse> Scheduler::GetLaw(
    const v1::GetLawRequest& request) const {
  absl::MutexLock lock(&mu_);
  MOESWEEP_ASSIGN_OR_RETURN(CampaignRun * run, Find(request.campaign_id()));
  const std::vector<v1::LawEstimate>& laws = run->laws();
  if (laws.empty()) {
    return FailedPreconditionError("campaign '" + request.campaign_id() +
                                   "': the law is not identifiable yet");
  }
  v1::GetLawResponse out;
  if (request.version() == 0) {
    *out.mutable_law() = laws.back();
  } else {
    auto it = std::find_if(laws.begin(), laws.end(), [&](const auto& l) {
      return l.version() == request.version();
    });
    if (it == laws.end()) {
      return NotFoundError("law version " + std::to_string(request.version()) +
                           " not found");
    }
    *out.mutable_law() = *it;
  }
  for (v1::OutOfSampleError& e : run->OutOfSampleErrors()) {
    *out.add_out_of_sample() = std::move(e);
  }
  if (run->campaign().has_answer())
    *out.mutable_answer() = run->campaign().answer();
  return out;
}

StatusOr<Scheduler::LawView> Scheduler::LawFor(const std::string& campaign_id,
                                               int64_t version) const {
  absl::MutexLock lock(&mu_);
  MOESWEEP_ASSIGN_OR_RETURN(CampaignRun * run, Find(campaign_id));
  const std::vector<v1::LawEstimate>& laws = run->laws();
  auto it = laws.rbegin();
  if (version != 0) {
    it = std::find_if(laws.rbegin(), laws.rend(),
                      [&](const auto& l) { return l.version() == version; });
    if (it == laws.rend()) {
      return NotFoundError("law version " + std::to_string(version) +
                           " not found");
    }
  }
  if (it == laws.rend() || it->covariance().empty()) {
    return FailedPreconditionError("campaign '" + campaign_id +
                                   "': the law is not identifiable yet");
  }
  LawView view;
  view.plan = run->plan();
  view.law = LawOf(*it, run->plan().shape);
  view.uncertainty.covariance.assign(it->covariance().begin(),
                                     it->covariance().end());
  if (run->uncertainty()) {
    view.uncertainty.residual_sigma = run->uncertainty()->residual_sigma;
    view.uncertainty.inliers = run->uncertainty()->inliers;
  }
  view.version = it->version();
  return view;
}

Status Scheduler::Subscribe(const std::string& campaign_id,
                            int64_t after_event_seq, bool include_progress,
                            WatchStream* stream) {
  absl::MutexLock lock(&mu_);
  MOESWEEP_ASSIGN_OR_RETURN(CampaignRun * run, Find(campaign_id));
  v1::CampaignEvent snapshot;
  snapshot.set_time_unix_ms(NowUnixMs());
  snapshot.set_campaign_id(campaign_id);
  *snapshot.mutable_snapshot() = run->campaign();
  stream->Push(snapshot);
  if (after_event_seq != 0) {  // -1: every stored event
    for (const v1::CampaignEvent& e : run->events()) {
      if (e.event_seq() > after_event_seq) stream->Push(e);
    }
  }
  absl::MutexLock watch(&watch_mu_);
  watchers_.emplace(campaign_id, stream);
  if (include_progress) ++progress_watchers_;
  return OkStatus();
}

void Scheduler::Unsubscribe(const std::string& campaign_id,
                            bool include_progress, WatchStream* stream) {
  absl::MutexLock lock(&watch_mu_);
  auto [begin, end] = watchers_.equal_range(campaign_id);
  for (auto it = begin; it != end; ++it) {
    if (it->second == stream) {
      watchers_.erase(it);
      if (include_progress) --progress_watchers_;
      return;
    }
  }
}

}  // namespace moesweep::coordinator
