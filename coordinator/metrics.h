// Metrics: the coordinator's Prometheus metrics, served on /metrics.
//
// Names follow Prometheus conventions: base units (seconds, FLOPs, bytes),
// `_total` on counters, and no per-trial labels, so the number of series grows
// with campaigns, connected workers and RPC methods only; the one exception is
// a validation run's gauge, at most 64 a campaign. Series stay bounded over
// time: a campaign's go with ForgetCampaign (the scheduler calls it a
// retention after the campaign finished), a worker's with ForgetWorker (when
// its stream ends), and at most kMaxWorkerSeries workers have series at once.
// Labels are drawn from campaign, worker, method, code, state, param, kind
// and trial. Internal to coordinator/ (not included by coordinator.h); the
// prometheus-cpp types stay in metrics.cc.

#ifndef MOESWEEP_COORDINATOR_METRICS_H_
#define MOESWEEP_COORDINATOR_METRICS_H_

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace moesweep::coordinator {

// Workers beyond this many connected at once get no per-worker series (the
// totals still count them): a bound on what a flood of worker ids can cost.
inline constexpr int kMaxWorkerSeries = 512;

// Thread-safe: every method may be called from any thread, concurrently with
// a scrape.
class Metrics {
 public:
  // Creates the registry and every metric family. When `listen` (host:port;
  // port 0 picks a free one) is non-empty, also serves the registry in the
  // text format on http://<listen>/metrics. Errors: UNAVAILABLE naming the
  // address when it cannot be bound (in use, bad host); INTERNAL if
  // prometheus-cpp rejects a family (a bug here).
  static StatusOr<std::unique_ptr<Metrics>> Start(const std::string& listen);

  // Stops serving (a scrape in progress is cut short), then frees the
  // registry.
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The bound TCP port of /metrics; 0 when not serving.
  int port() const;

  // The whole registry in the Prometheus text exposition format (version
  // 0.0.4), as /metrics serves it.
  std::string Render() const;

  // One finished RPC: moesweep_rpcs_total{method,code} (code as its canonical
  // name, "OK", "NOT_FOUND"; numbers outside 0..16 count as "UNKNOWN") and
  // moesweep_rpc_duration_seconds{method}. `method` is the short name
  // ("Connect", "CreateCampaign").
  void ObserveRpc(std::string_view method, int grpc_code, double seconds);

  // moesweep_trials{campaign,state}: trials of the campaign in `state`
  // ("queued", "running", "succeeded", "failed", "cancelled").
  void SetTrials(std::string_view campaign, std::string_view state,
                 double count);

  // moesweep_lease_expiries_total{campaign}: one more lease expired.
  void LeaseExpired(std::string_view campaign);

  // moesweep_stale_reports_refused_total{campaign}: one more report of a
  // fenced attempt refused with ABORTED.
  void StaleReportRefused(std::string_view campaign);

  // moesweep_workers_connected: open WorkerService.Connect streams.
  void SetWorkersConnected(double n);

  // moesweep_store_commit_duration_seconds: one synced WriteBatch, from
  // hand-over of its first report to the end of the sync.
  void ObserveStoreCommit(double seconds);

  // moesweep_fit_duration_seconds{kind}: one law update on the scheduler
  // thread; kind "warm" (the refit from the previous law when an observation
  // joins) or "uncertainty" (the new law's covariance and answer). Any label
  // value is accepted.
  void ObserveFit(std::string_view kind, double seconds);

  // moesweep_proposal_duration_seconds: choosing one next trial.
  void ObserveProposal(double seconds);

  // moesweep_law_parameter{campaign,param} = value, and
  // moesweep_law_parameter_lower / _upper{campaign,param} = the 95% interval.
  void SetLawParameter(std::string_view campaign, std::string_view param,
                       double value, double lower, double upper);

  // moesweep_law_parameter_at_bound{campaign,param} = 1 when the parameter
  // sits on its bound in the campaign's latest law (LawParameter.at_bound),
  // else 0: that law's intervals are not trustworthy, and the campaign does
  // not stop on it.
  void SetLawParameterAtBound(std::string_view campaign, std::string_view param,
                              bool at_bound);

  // moesweep_law_version{campaign}: the version of the campaign's latest fit.
  void SetLawVersion(std::string_view campaign, double version);

  // moesweep_answer{campaign} = value, moesweep_answer_lower / _upper = its
  // 95% interval, moesweep_answer_relative_width = (upper - lower) / |value|
  // (fitter::RelativeWidth, the stopping rule's; +Inf when value is 0), and
  // moesweep_answer_target_relative_width = the width at which the campaign
  // stops.
  void SetAnswer(std::string_view campaign, double value, double lower,
                 double upper, double target_relative_width);

  // moesweep_flops_spent{campaign} and moesweep_flops_budget{campaign}, in
  // FLOPs.
  void SetFlops(std::string_view campaign, double spent, double budget);

  // One held-out prediction: log(predicted loss) - log(observed loss).
  // Sets moesweep_out_of_sample_log_error{campaign} to it and observes its
  // absolute value in the histogram moesweep_out_of_sample_abs_log_error.
  void ObserveOutOfSampleError(std::string_view campaign, double log_error);

  // moesweep_validation_log_error{campaign,trial}: a validation run's
  // log(observed loss / predicted loss), from a law that never saw it (note
  // the sign: the opposite of the out-of-sample error's).
  void SetValidationLogError(std::string_view campaign, std::string_view trial,
                             double log_error);

  // moesweep_campaign_state{campaign,state}: 1 for the campaign's state
  // ("running", "paused", "validating", "succeeded", "budget_exhausted",
  // "cancelled", "failed"), 0 for each of the others, so a query can select
  // campaigns by state without a series appearing per change. Also creates
  // the campaign's counters at 0 (fit failures, lease expiries, stale
  // reports), so that an alert's increase() counts their first event.
  void SetCampaignState(std::string_view campaign, std::string_view state);

  // moesweep_fit_failures_total{campaign}: one more observation the fitter
  // could not take (its refit failed; the run stays out of the law).
  void FitFailed(std::string_view campaign);

  // Removes every series labelled with the campaign. A later Set* for it
  // creates them afresh.
  void ForgetCampaign(std::string_view campaign);

  // The worker's latest admitted Progress: moesweep_worker_tokens_per_second,
  // moesweep_worker_train_loss and moesweep_worker_peak_memory_bytes
  // {worker}. Ignored for a worker beyond kMaxWorkerSeries.
  void SetWorkerProgress(std::string_view worker, double tokens_per_second,
                         double train_loss, double peak_memory_bytes);

  // moesweep_worker_silent_seconds{worker}: seconds since the connected
  // worker's last message of any kind (its heartbeats come every few
  // seconds, so a large value is a hung or stopped worker whose stream is
  // still open). Ignored for a worker beyond kMaxWorkerSeries.
  void SetWorkerSilence(std::string_view worker, double seconds);

  // Removes the worker's series (its stream ended).
  void ForgetWorker(std::string_view worker);

 private:
  class Impl;
  explicit Metrics(std::unique_ptr<Impl> impl);
  const std::unique_ptr<Impl> impl_;
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_METRICS_H_
