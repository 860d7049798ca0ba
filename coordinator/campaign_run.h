// CampaignRun: one campaign's trials, law and answer, and the decisions
// that move it on (propose, stop). The Scheduler owns every CampaignRun and
// guards it with its lock; the wire messages it keeps are what users see.
// Internal to coordinator/.

#ifndef MOESWEEP_COORDINATOR_CAMPAIGN_RUN_H_
#define MOESWEEP_COORDINATOR_CAMPAIGN_RUN_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "campaign/campaign.h"
#include "common/status.h"
#include "coordinator/convert.h"
#include "fitter/fitter.h"

namespace moesweep::coordinator {

using campaign::kWsdDecayFraction;

struct TrialEntry {
  int32_t index = 0;
  v1::Trial trial;           // spec.attempt is the current attempt
  fitter::Observation at;    // law features (loss unused)
  double planned_flops = 0;  // under the law's cost model
};

// What a campaign needs next (CampaignRun::Next).
struct NextStep {
  v1::CampaignState final_state = v1::CAMPAIGN_STATE_UNSPECIFIED;  // stop
  std::string reason;  // why it stops
  int propose = 0;     // trials to propose now
};

// One step of a campaign's fit, run off the scheduler thread
// (CampaignRun::RunFit): the observation that joins the fit, then the
// covariance and the question's interval of the law that results. Made by
// CampaignRun::TakeFitJob; borrows from the CampaignRun, which outlives it.
struct FitJob {
  fitter::IncrementalFitter* fitter = nullptr;     // thread-safe
  const fitter::Question* question = nullptr;      // the plan's
  std::optional<fitter::Observation> observation;  // none: refresh only
  int64_t since_version = 0;  // the fitter version applied last
  double huber_delta = 1e-3;
};

// What a FitJob found, for CampaignRun::ApplyFit.
struct FitOutcome {
  bool observed = false;      // the job had an observation
  Status added = OkStatus();  // its Add
  double warm_seconds = 0;    // the Add (a warm refit, or the first fit)
  double uncertainty_seconds = 0;
  std::vector<fitter::OutOfSample> out_of_sample;
  // Set when the fitter's version moved past since_version.
  std::optional<fitter::LawSnapshot> law;
  std::optional<fitter::LawUncertainty> uncertainty;
  std::optional<fitter::Interval> interval;  // the question's, 95%
  int runs = 0;                              // the law's runs
};

// Proposals scored off the scheduler thread (CampaignRun::RunPropose): the
// request with copies of the law and covariance it scores against.
struct ProposeJob {
  const campaign::CampaignPlan* plan = nullptr;  // the run's; outlives it
  fitter::ProposeRequest request;  // law, uncertainty, pending: set by Run
  std::vector<fitter::Observation> pending;
  std::optional<fitter::Law> law;
  std::optional<fitter::LawUncertainty> uncertainty;
  std::string proposer;     // the trials' `proposer`
  int proposed_before = 0;  // trials() size when it was made
  // Branching campaigns: the stable runs proposals may branch from
  // (CampaignRun::StableRuns), and the index of each one's first trial.
  std::vector<fitter::StableRun> stable_runs;
  std::vector<int32_t> stable_roots;
  int64_t law_version = 0;  // laws() version it scores against
  // Active scoring against a law: worth a fit thread. The rest (a
  // space-filling or fixed design) costs less than posting it.
  bool heavy() const { return law.has_value() && uncertainty.has_value(); }
};

// Not thread-safe: the Scheduler calls it under its lock. The static Run*
// functions are thread-safe and run on the fit threads.
class CampaignRun {
 public:
  // A campaign from its record; the spec is parsed from spec_yaml.
  // INVALID_ARGUMENT for a spec that no longer validates.
  static StatusOr<std::unique_ptr<CampaignRun>> Create(v1::Campaign campaign);

  const std::string& id() const { return campaign_.campaign_id(); }
  v1::Campaign& campaign() { return campaign_; }
  const campaign::CampaignSpec& spec() const { return spec_; }
  const campaign::CampaignPlan& plan() const { return plan_; }

  std::vector<TrialEntry>& trials() { return trials_; }
  TrialEntry* Find(std::string_view trial_id);
  std::deque<int32_t>& queue() { return queue_; }
  // Adds a trial loaded from the store (index order); sets its planned FLOPs
  // and the lineage its observation joins.
  void AddLoadedTrial(TrialEntry entry);

  // The observed final loss of a trial waits for the next FitJob, which
  // adds it to the fit. INVALID_ARGUMENT (nothing queued) for a
  // non-positive or non-finite loss.
  Status Observe(const TrialEntry& trial, double loss);

  // ---- The fit, off the scheduler thread (scheduler_fits.cc) ----
  // Observations queued or a FitJob out: the law is about to move, so
  // stopping and proposing wait for it.
  bool fit_busy() const { return fit_in_flight_ || !pending_.empty(); }
  bool fit_in_flight() const { return fit_in_flight_; }
  // Work for a FitJob: an observation queued, or a law the fitter replaced
  // (a background full refit) not yet applied.
  bool NeedsFit() const;
  // The next FitJob (the oldest queued observation, if any); until
  // ApplyFit or FitAbandoned, fit_in_flight().
  FitJob TakeFitJob();
  static FitOutcome RunFit(const FitJob& job);
  // Brings law, answer and trial counts up to date with a FitJob's outcome.
  // Returns the new law version (to publish) when the fit changed, with the
  // out-of-sample error of the run that caused it.
  struct Refreshed {
    std::optional<v1::LawEstimate> law;
    std::optional<v1::OutOfSampleError> out_of_sample;
    bool answer_changed = false;
  };
  Refreshed ApplyFit(const FitOutcome& outcome, int64_t now_unix_ms);
  // The FitJob taken never ran (shutting down).
  void FitAbandoned() { fit_in_flight_ = false; }
  // After a restart: the succeeded trials (in the order they finished) join
  // the fit as they were, and the last stored law (AddLoadedLaw) and
  // out-of-sample series (events()) become current again without a refit,
  // so the restart publishes nothing new (campaign_restore.cc). Call once,
  // after loading trials, laws and events, before any Observe.
  Status Restore(const std::vector<const TrialEntry*>& succeeded);
  // Counts trials by state and sums spent FLOPs into campaign().
  void Recount();

  NextStep Next(int max_parallel_override = 0) const;
  // Proposals of `n` runs against the law applied last, for RunPropose;
  // until ProposalDone, proposal_in_flight().
  ProposeJob TakeProposeJob(int n);
  bool proposal_in_flight() const { return proposal_in_flight_; }
  void ProposalDone() { proposal_in_flight_ = false; }
  static StatusOr<std::vector<fitter::Candidate>> RunPropose(
      const ProposeJob& job);
  // The first `n` of `batch` (RunPropose's for `job`) as new QUEUED trials,
  // appended to trials() and the queue. REQUIRES: trials().size() ==
  // job.proposed_before.
  StatusOr<std::vector<int32_t>> AddProposed(
      const ProposeJob& job, const std::vector<fitter::Candidate>& batch, int n,
      int64_t now_unix_ms);

  // ---- Validation runs (campaign_validation.cc) ----
  // Queues a validation run: the law's compute-optimal architecture of the
  // design space at `flops` training FLOPs, with the law's 95% interval for
  // a new run there. Returns its index. FAILED_PRECONDITION while the law is
  // not identifiable; INVALID_ARGUMENT when no architecture of the space can
  // train a run of that size.
  StatusOr<int32_t> AddValidationTrial(double flops, bool requested,
                                       int64_t now_unix_ms);
  // A validation trial's observed loss against its prediction; the fit does
  // not see it. INVALID_ARGUMENT for a non-positive loss.
  Status RecordValidation(TrialEntry& t, double loss, int64_t now_unix_ms);
  // Training FLOPs (the law's cost model) of the largest run the fit has
  // seen, from scratch even for a branch; 0 before any.
  double LargestFittedFlops() const;
  // Validation trials asked for by Validate (`requested`) or by the spec.
  int ValidationTrials(bool requested) const;
  // Every validation trial's record, in proposal order.
  std::vector<v1::Validation> Validations() const;

  // ---- Branching runs (lineages.cc; training.branching) ----
  // The lineages a proposal may branch from, oldest first (at most
  // fitter::kMaxStableRuns, the latest): each with the checkpoints its
  // succeeded trials saved and the token counts of its live trials. `roots`
  // gets the index of each lineage's first trial.
  std::vector<fitter::StableRun> StableRuns(std::vector<int32_t>* roots) const;
  // The worker holding the checkpoint a queued branch resumes from (the one
  // that ran the lineage's latest succeeded trial saving it); empty for a
  // trial that resumes from nothing.
  std::string CheckpointHolder(const TrialEntry& t) const;
  // A branch whose checkpoint was lost becomes a fresh run of the same spec,
  // charged in full, which saves that checkpoint again.
  void ReplanFresh(TrialEntry& t);

  // The spec of the trial's current attempt.
  const v1::TrialSpec& SpecOf(const TrialEntry& t) const {
    return t.trial.spec();
  }

  const std::vector<v1::LawEstimate>& laws() const { return laws_; }
  void AddLoadedLaw(v1::LawEstimate law) { laws_.push_back(std::move(law)); }
  std::vector<v1::OutOfSampleError> OutOfSampleErrors() const;
  // The latest law as the fitter sees it, with its covariance; nullopt until
  // the law is identifiable.
  std::optional<fitter::Law> CurrentLaw() const;
  const std::optional<fitter::LawUncertainty>& uncertainty() const {
    return uncertainty_;
  }

  // Stored events, in order; next_event_seq() numbers the next one.
  std::vector<v1::CampaignEvent>& events() { return events_; }
  int64_t next_event_seq() const {
    return events_.empty() ? 1 : events_.back().event_seq() + 1;
  }

 private:
  CampaignRun(v1::Campaign campaign, campaign::CampaignSpec spec,
              campaign::CampaignPlan plan,
              std::unique_ptr<fitter::IncrementalFitter> fitter);
  StatusOr<v1::TrialSpec> MakeSpec(const fitter::Architecture& arch,
                                   double tokens, int32_t index) const;
  // A run of `root`'s lineage to about `tokens` from its checkpoint at
  // `resume` tokens; `extension` (past the lineage's stable end) saves
  // checkpoints of its own stable phase (lineages.cc).
  StatusOr<v1::TrialSpec> BranchSpec(const TrialEntry& root, double tokens,
                                     double resume, bool extension,
                                     int32_t index) const;
  // FLOPs a trial adds under the law's cost model: from its resume point.
  double PlannedFlops(const TrialEntry& t) const;
  // Makes `s` (a fresh run) the first of a lineage: it saves checkpoints
  // along its stable phase.
  void StartLineage(v1::TrialSpec& s) const;
  // Sets t.at.lineage from its spec's lineage (its first trial's index + 1).
  void SetLineage(TrialEntry& t) const;
  void UpdateAnswer(const FitOutcome& outcome, int64_t version);
  // FLOPs of the largest run the space allows (cached).
  double ScaleFlops() const;

  v1::Campaign campaign_;
  const campaign::CampaignSpec spec_;
  const campaign::CampaignPlan plan_;
  const std::unique_ptr<fitter::IncrementalFitter> fitter_;

  std::vector<TrialEntry> trials_;
  std::unordered_map<std::string, int32_t> by_id_;
  std::deque<int32_t> queue_;
  // Observations not yet handed to a FitJob, oldest first.
  struct Pending {
    fitter::Observation at;  // loss set
    std::string trial_id;
    int64_t finished_unix_ms = 0;
  };
  std::deque<Pending> pending_;
  bool fit_in_flight_ = false;
  bool proposal_in_flight_ = false;
  std::vector<std::string> observed_ids_;  // fitter run order
  std::vector<int64_t> observed_unix_ms_;
  int64_t fitter_version_ = 0;  // last fitter version published
  // The law applied last and its covariance: what proposals, validation
  // runs and views use, while the fitter may be ahead of them.
  std::optional<fitter::LawSnapshot> law_;
  std::optional<fitter::LawUncertainty> uncertainty_;
  std::vector<fitter::OutOfSample> out_of_sample_;  // as of law_
  std::vector<v1::LawEstimate> laws_;
  std::vector<v1::CampaignEvent> events_;
  mutable double scale_flops_ = 0;
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_CAMPAIGN_RUN_H_
