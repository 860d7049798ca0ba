// Scheduler: every campaign's state, the workers connected, and the one
// thread that moves campaigns on. Reactions never block on it: they post a
// task (or touch only the LeaseTable) and return. Tasks run in order on the
// scheduler thread, under mu_, and end by writing their records to the store
// in one synced batch before any message or event they caused goes out.
// Only the scheduler thread takes mu_: reads answer from the ReadView it
// publishes after each durable write (campaign_view.h), Watch registers
// under view_mu_, and leases have their own lock, so no RPC, heartbeat or
// report waits for a fit, a proposal or a sync. Fits, covariances, answers
// and active proposals run on the FitExecutor's threads and come back as
// tasks (scheduler_fits.cc), so no task waits for one either.
// Internal to coordinator/.

#ifndef MOESWEEP_COORDINATOR_SCHEDULER_H_
#define MOESWEEP_COORDINATOR_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/campaign_run.h"
#include "coordinator/campaign_view.h"
#include "coordinator/coordinator.h"
#include "coordinator/fit_executor.h"
#include "coordinator/lease_table.h"

namespace moesweep::coordinator {

class Metrics;
class WorkerStream;
class WatchStream;

// Thread-safe.
class Scheduler {
 public:
  // `store` and `metrics` (may be null) must outlive the Scheduler.
  Scheduler(Store* store, Metrics* metrics, const ServerOptions& options);
  ~Scheduler();  // Stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Rebuilds every campaign from the store; leases of running trials wait
  // options.reconnect_grace_ms for their worker. Call once, before Start.
  Status Load();
  void Start();
  // Runs the tasks already posted, then stops the thread and deletes the
  // streams that ended. Streams must all have ended (server shut down).
  void Stop();

  LeaseTable& leases() { return leases_; }
  int max_watch_queue() const { return options_.max_watch_queue; }
  // The coordinator's clock (options.clock, the test seam), in ms.
  int64_t ClockMs() const;
  ServerStats stats() const;

  // ---- Worker streams (called from reactions; never block) ----
  void WorkerHello(WorkerStream* stream, v1::Hello hello);
  // The stream's OnDone ran; the scheduler deletes it.
  void WorkerGone(WorkerStream* stream);
  // A report is durable (stored now or before).
  void ReportStored(const std::string& worker_id, const v1::WorkerMessage& m);
  void StaleReportRefused(const std::string& trial_id);

  // ---- CampaignService: mutations run on the scheduler thread; `done` gets
  // the result there. ----
  using CampaignDone = std::function<void(StatusOr<v1::Campaign>)>;
  void Create(v1::CreateCampaignRequest request,
              std::function<void(StatusOr<v1::CreateCampaignResponse>)> done);
  void Cancel(v1::CancelCampaignRequest request, CampaignDone done);
  void Pause(v1::PauseCampaignRequest request, CampaignDone done);
  void Resume(v1::ResumeCampaignRequest request, CampaignDone done);
  void Amend(v1::AmendCampaignRequest request, CampaignDone done);
  void Validate(
      v1::ValidateCampaignRequest request,
      std::function<void(StatusOr<v1::ValidateCampaignResponse>)> done);

  // ---- Reads (any thread), from the latest ReadView; never wait for the
  // scheduler thread. NOT_FOUND for an unknown campaign. ----
  StatusOr<v1::Campaign> Get(const std::string& campaign_id) const;
  std::vector<v1::Campaign> List() const;  // newest first
  StatusOr<v1::GetLawResponse> GetLaw(const v1::GetLawRequest& request) const;
  StatusOr<std::vector<v1::Trial>> Trials(const std::string& campaign_id) const;
  // The law of `version` (0: latest) with its covariance, the campaign's
  // plan, and the version used. FAILED_PRECONDITION while not identifiable.
  struct LawView {
    fitter::Law law;
    fitter::LawUncertainty uncertainty;
    campaign::CampaignPlan plan;
    int64_t version = 0;
  };
  StatusOr<LawView> LawFor(const std::string& campaign_id,
                           int64_t version) const;

  // ---- Watch ----
  // Registers `stream` and hands it the snapshot and the stored events above
  // `after_event_seq` in one step, so no event is missed or sent twice.
  Status Subscribe(const std::string& campaign_id, int64_t after_event_seq,
                   bool include_progress, WatchStream* stream);
  void Unsubscribe(const std::string& campaign_id, bool include_progress,
                   WatchStream* stream);

 private:
  struct Worker {
    WorkerStream* stream = nullptr;
    int slots = 1;
    // Reported an attempt preempted: it is going away, so it gets no more
    // work on this stream (a new Hello clears it).
    bool draining = false;
    // What a trial's min_memory_bytes is compared with: one GPU's memory for
    // a CUDA worker, the host's for a CPU one; 0 unknown.
    int64_t memory_bytes = 0;
  };
  // Work produced by a task, sent after its records are durable.
  struct Outbox {
    std::vector<Record> records;
    std::vector<std::string> new_trials;
    std::vector<std::pair<std::string, v1::CoordinatorMessage>> messages;
    std::vector<v1::CampaignEvent> events;
  };

  void Post(std::function<void()> task);
  void Loop();
  // Writes the outbox's records (one synced batch), then publishes the
  // changed campaigns' views with its events, and sends its messages. On a
  // failed write nothing goes out.
  Status Flush() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pushes live (unstored) events to their watchers.
  void Publish(const std::vector<v1::CampaignEvent>& events);

  // scheduler_views.cc
  // Marks a campaign (and one of its trials) for the next published view.
  void Touch(const std::string& campaign_id, int32_t trial_index = -1)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Builds views of the touched campaigns, then in one step under view_mu_
  // swaps the ReadView in and hands `stored_events` to the watchers and
  // their logs, so a Subscribe sees a snapshot and its events together.
  void PublishViews(const std::vector<v1::CampaignEvent>& stored_events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<const CampaignView> BuildView(const std::string& campaign_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<const ReadView> view() const;

  // scheduler_worker.cc
  void HandleHello(WorkerStream* stream, const v1::Hello& hello)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleGone(WorkerStream* stream) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleReport(const std::string& worker_id, const v1::WorkerMessage& m)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireLeases() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // moesweep_worker_silent_seconds of each connected worker.
  void PublishWorkerSilence() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Dispatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a connected, not draining worker has at least `bytes` of memory.
  bool AnyWorkerHasMemory(int64_t bytes) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the trial's current attempt without a result: requeued as the next
  // attempt, or FAILED when `charge` uses up its attempts. `fresh`: the
  // next attempt trains from scratch (CampaignRun::ReplanFresh).
  void Requeue(CampaignRun& run, TrialEntry& t, bool charge,
               const std::string& why, v1::FailureKind kind, bool fresh = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendTo(const std::string& worker_id, v1::CoordinatorMessage m)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // scheduler_campaigns.cc
  void Advance(CampaignRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetState(CampaignRun& run, v1::CampaignState state,
                const std::string& reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Cancels the queued trials, and the running ones when `running` too.
  void CancelTrials(CampaignRun& run, bool running, v1::CancelReason reason,
                    v1::TrialState to) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Numbers, stores and (after the flush) publishes an event.
  void Emit(CampaignRun& run, v1::CampaignEvent event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SaveCampaign(CampaignRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SaveTrial(CampaignRun& run, const TrialEntry& t)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishMetrics(CampaignRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the series of campaigns finished more than metrics_retention_ms
  // ago.
  void ExpireCampaignMetrics() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StatusOr<CampaignRun*> Find(const std::string& campaign_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StatusOr<v1::CreateCampaignResponse> DoCreate(
      const v1::CreateCampaignRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A trial's report applied to its campaign (scheduler_worker.cc).
  void ApplyEnd(CampaignRun& run, TrialEntry& t, const v1::WorkerMessage& m)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // scheduler_fits.cc
  // Hands the campaign's next FitJob to a fit thread, unless one is out or
  // there is nothing to fit (CampaignRun::NeedsFit). Before Start (Load) it
  // runs here and is applied at once.
  void StartFit(CampaignRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes the law version and answer a FitJob made, if the fit moved,
  // then starts the next FitJob or, with none left, Advances the campaign.
  void ApplyFit(CampaignRun& run, const FitOutcome& outcome)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Proposes `n` runs: on a fit thread when the proposer scores against a
  // law (ProposeJob::heavy), here otherwise.
  void StartPropose(CampaignRun& run, int n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues a ProposeJob's runs, as many as the campaign still wants; a batch
  // made before other trials were added is dropped and the campaign
  // Advanced again.
  void ApplyPropose(CampaignRun& run, const ProposeJob& job,
                    const StatusOr<std::vector<fitter::Candidate>>& batch,
                    double seconds) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // scheduler_validation.cc
  // The campaign stops as `next` says; when its spec asks for validation runs
  // and it has none yet, they are queued and it is VALIDATING instead (true).
  // A skipped validation says why in next.reason.
  bool StartValidation(CampaignRun& run, NextStep& next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // For a VALIDATING campaign (true): ends it in its after_validation_state
  // once no validation run is queued or running.
  bool AdvanceValidation(CampaignRun& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StatusOr<v1::ValidateCampaignResponse> DoValidate(
      const v1::ValidateCampaignRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A validation run was compared (ApplyEnd): its event and gauge.
  void PublishValidation(CampaignRun& run, const v1::Validation& v)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // scheduler_load.cc
  Status LoadCampaign(v1::Campaign campaign) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Fixed at construction.
  Store* const store_;
  Metrics* const metrics_;
  const ServerOptions options_;
  Clock* const clock_;  // options_.clock or RealClock()
  // Until then (Load + reconnect_grace_ms) a branch waits for the worker
  // holding its checkpoint to reconnect after a restart (Dispatch).
  int64_t holders_grace_until_ms_ ABSL_GUARDED_BY(mu_) = 0;
  LeaseTable leases_;
  int clock_waker_ = 0;

  // Tasks for the scheduler thread.
  absl::Mutex task_mu_;
  absl::CondVar task_cv_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(task_mu_);
  bool stopping_ ABSL_GUARDED_BY(task_mu_) = false;
  std::thread thread_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<CampaignRun>> campaigns_
      ABSL_GUARDED_BY(mu_);
  // Campaigns a restart could not rebuild: FAILED, shown, never run.
  std::map<std::string, v1::Campaign> quarantined_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Worker> workers_ ABSL_GUARDED_BY(mu_);
  std::set<WorkerStream*> gone_ ABSL_GUARDED_BY(mu_);  // to delete
  // Finished campaigns -> when their metrics go (clock ms); kForgotten once
  // they went, so a late PublishMetrics does not bring them back.
  static constexpr int64_t kForgotten = -1;
  std::map<std::string, int64_t> metrics_expiry_ ABSL_GUARDED_BY(mu_);
  // When the loop last published worker silence and expired metrics.
  int64_t metrics_swept_ms_ ABSL_GUARDED_BY(mu_) = 0;
  Outbox outbox_ ABSL_GUARDED_BY(mu_);
  int64_t next_campaign_ ABSL_GUARDED_BY(mu_) = 1;
  // What the next view must rebuild: campaign -> trial indexes changed.
  std::map<std::string, std::set<int32_t>> touched_ ABSL_GUARDED_BY(mu_);
  // The parts of the last views that later ones share.
  struct ViewParts {
    std::shared_ptr<const campaign::CampaignPlan> plan;
    std::vector<std::shared_ptr<const v1::Trial>> trials;
    std::vector<std::shared_ptr<const v1::LawEstimate>> laws;
    std::shared_ptr<const std::vector<v1::OutOfSampleError>> out_of_sample;
  };
  std::map<std::string, ViewParts> view_parts_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const ReadView> built_ ABSL_GUARDED_BY(mu_);
  // Set by Start: from then on fits and proposals go to executor_.
  bool started_ ABSL_GUARDED_BY(mu_) = false;

  // The read side, under its own short lock: the published view, and the
  // watchers with each campaign's stored events. Progress is published from
  // the store's writer thread, which must never wait for a fit.
  mutable absl::Mutex view_mu_;
  std::shared_ptr<const ReadView> view_ ABSL_GUARDED_BY(view_mu_);
  std::multimap<std::string, WatchStream*> watchers_ ABSL_GUARDED_BY(view_mu_);
  std::map<std::string, std::vector<v1::CampaignEvent>> event_log_
      ABSL_GUARDED_BY(view_mu_);
  // Watchers that asked for TrialProgress; none: progress is not built.
  std::atomic<int> progress_watchers_{0};
  mutable absl::Mutex stats_mu_;
  int64_t stale_refused_ ABSL_GUARDED_BY(stats_mu_) = 0;
  ServerStats stats_ ABSL_GUARDED_BY(stats_mu_);
  std::atomic<int64_t> workers_connected_{0};

  // Declared last, so it is stopped before the campaigns its jobs borrow
  // from go.
  FitExecutor executor_;
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_SCHEDULER_H_
