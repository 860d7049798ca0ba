// Metrics on prometheus-cpp. Every family is registered once, in Impl's
// constructor, and never removed, so the references Impl holds stay valid
// for its life. Children are found with Family::Add, which returns the
// existing child for the same labels and locks inside the family; Counter,
// Gauge and Histogram update themselves atomically or under their own lock.
// Children labelled with a campaign or a worker can be removed (Forget*), so
// those are reached only under Impl::mu, which also holds the list of what
// each campaign and worker owns: a Set racing a Forget never touches a
// removed child. The rest (RPCs, commits, fits, proposals) need no lock.
// A labelled family shows in the exposition only once it has a child, that
// is after its first use; the three unlabelled series exist from the start.

#include "coordinator/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/metrics_http.h"
#include "fitter/fitter.h"

namespace moesweep::coordinator {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Registry;

// Upper bounds in seconds. RPCs span 100us unary calls to streams that stay
// open for hours; fits span millisecond warm starts to minutes-long
// multistarts.
const Histogram::BucketBoundaries kRpcSeconds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,   0.5,     1,      2.5,   5,      10,    60,   600,   3600};
const Histogram::BucketBoundaries kCommitSeconds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,  0.05,    0.1,    0.25,  0.5,    1};
const Histogram::BucketBoundaries kFitSeconds = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1,     2.5,    5,     10,   30,    60,   120, 300,  600};
const Histogram::BucketBoundaries kProposalSeconds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
// |log(predicted) - log(observed)|: 0.01 is a 1% miss.
const Histogram::BucketBoundaries kAbsLogError = {
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1};

Family<Counter>& Counters(Registry& registry, const char* name,
                          const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}
Family<Gauge>& Gauges(Registry& registry, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}
Family<Histogram>& Histograms(Registry& registry, const char* name,
                              const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

std::string_view CodeName(int grpc_code) {
  if (grpc_code < 0 ||
      grpc_code > static_cast<int>(StatusCode::kUnauthenticated)) {
    return StatusCodeName(StatusCode::kUnknown);
  }
  return StatusCodeName(static_cast<StatusCode>(grpc_code));
}

prometheus::Labels Campaign(std::string_view campaign) {
  return {{"campaign", std::string(campaign)}};
}

prometheus::Labels Worker(std::string_view worker) {
  return {{"worker", std::string(worker)}};
}

const char* const kCampaignStates[] = {
    "running",          "paused",    "validating", "succeeded",
    "budget_exhausted", "cancelled", "failed"};

// Owner (a campaign or worker id) -> a removal for each child it has, keyed
// by family and labels so that a child is listed once.
using Owned =
    std::map<std::string, std::map<std::string, std::function<void()>>,
             std::less<>>;

}  // namespace

class Metrics::Impl {
 public:
  // Throws what prometheus-cpp throws for a bad name (a bug here).
  Impl()
      : registry(std::make_shared<Registry>()),
        rpcs(Counters(*registry, "moesweep_rpcs_total",
                      "RPCs finished, by method and status code.")),
        rpc_seconds(Histograms(*registry, "moesweep_rpc_duration_seconds",
                               "RPC duration from start to finish, in "
                               "seconds; for streams, the stream's life.")),
        trials(Gauges(*registry, "moesweep_trials",
                      "Trials of a campaign, by state.")),
        lease_expiries(Counters(*registry, "moesweep_lease_expiries_total",
                                "Leases that expired without renewal.")),
        stale_reports(
            Counters(*registry, "moesweep_stale_reports_refused_total",
                     "Reports of a fenced attempt, refused with ABORTED.")),
        workers(Gauges(*registry, "moesweep_workers_connected",
                       "Workers with an open WorkerService.Connect stream.")),
        commit_seconds(
            Histograms(*registry, "moesweep_store_commit_duration_seconds",
                       "Duration of one synced store WriteBatch, in seconds.")),
        fit_seconds(Histograms(*registry, "moesweep_fit_duration_seconds",
                               "Duration of one law update, by kind (warm: "
                               "the warm refit of a new observation; "
                               "uncertainty: its covariance and answer), in "
                               "seconds.")),
        proposal_seconds(
            Histograms(*registry, "moesweep_proposal_duration_seconds",
                       "Duration of choosing one next trial, in seconds.")),
        law(Gauges(*registry, "moesweep_law_parameter",
                   "Fitted value of a scaling-law parameter.")),
        law_lower(Gauges(*registry, "moesweep_law_parameter_lower",
                         "Lower end of a law parameter's 95% interval.")),
        law_upper(Gauges(*registry, "moesweep_law_parameter_upper",
                         "Upper end of a law parameter's 95% interval.")),
        law_at_bound(Gauges(*registry, "moesweep_law_parameter_at_bound",
                            "1 when a law parameter sits on its bound (its "
                            "interval is not trustworthy and the campaign "
                            "does not stop on the law), else 0.")),
        law_version(Gauges(*registry, "moesweep_law_version",
                           "Version of the campaign's latest law fit.")),
        answer(Gauges(*registry, "moesweep_answer",
                      "The campaign's current answer (its objective).")),
        answer_lower(Gauges(*registry, "moesweep_answer_lower",
                            "Lower end of the answer's 95% interval.")),
        answer_upper(Gauges(*registry, "moesweep_answer_upper",
                            "Upper end of the answer's 95% interval.")),
        answer_width(
            Gauges(*registry, "moesweep_answer_relative_width",
                   "Width of the answer's 95% interval over |answer|.")),
        answer_target(Gauges(*registry, "moesweep_answer_target_relative_width",
                             "Relative interval width at which the campaign "
                             "stops.")),
        flops_spent(Gauges(*registry, "moesweep_flops_spent",
                           "Training FLOPs spent by the campaign's trials.")),
        flops_budget(Gauges(*registry, "moesweep_flops_budget",
                            "The campaign's training FLOP budget.")),
        oos_error(Gauges(*registry, "moesweep_out_of_sample_log_error",
                         "Latest held-out log(predicted) - log(observed) "
                         "loss.")),
        oos_abs_error(Histograms(*registry,
                                 "moesweep_out_of_sample_abs_log_error",
                                 "Held-out |log(predicted) - log(observed)| "
                                 "loss.")),
        validation_error(
            Gauges(*registry, "moesweep_validation_log_error",
                   "log(observed) - log(predicted) loss of a validation run, "
                   "a run the law was not fitted on.")),
        campaign_state(Gauges(*registry, "moesweep_campaign_state",
                              "1 for the campaign's current state, 0 for the "
                              "others.")),
        fit_failures(Counters(*registry, "moesweep_fit_failures_total",
                              "Observations the fitter could not take (the "
                              "refit failed).")),
        worker_tokens(Gauges(*registry, "moesweep_worker_tokens_per_second",
                             "Training throughput in the worker's latest "
                             "progress report.")),
        worker_loss(Gauges(*registry, "moesweep_worker_train_loss",
                           "Training loss in the worker's latest progress "
                           "report.")),
        worker_memory(Gauges(*registry, "moesweep_worker_peak_memory_bytes",
                             "Peak memory in the worker's latest progress "
                             "report, in bytes.")),
        worker_silent(Gauges(*registry, "moesweep_worker_silent_seconds",
                             "Seconds since the connected worker's last "
                             "message.")),
        workers_now(workers.Add({})),
        commit_histogram(commit_seconds.Add({}, kCommitSeconds)),
        proposal_histogram(proposal_seconds.Add({}, kProposalSeconds)) {}

  // Constant after construction. The families live as long as `registry`.
  const std::shared_ptr<Registry> registry;
  Family<Counter>& rpcs;
  Family<Histogram>& rpc_seconds;
  Family<Gauge>& trials;
  Family<Counter>& lease_expiries;
  Family<Counter>& stale_reports;
  Family<Gauge>& workers;
  Family<Histogram>& commit_seconds;
  Family<Histogram>& fit_seconds;
  Family<Histogram>& proposal_seconds;
  Family<Gauge>& law;
  Family<Gauge>& law_lower;
  Family<Gauge>& law_upper;
  Family<Gauge>& law_at_bound;
  Family<Gauge>& law_version;
  Family<Gauge>& answer;
  Family<Gauge>& answer_lower;
  Family<Gauge>& answer_upper;
  Family<Gauge>& answer_width;
  Family<Gauge>& answer_target;
  Family<Gauge>& flops_spent;
  Family<Gauge>& flops_budget;
  Family<Gauge>& oos_error;
  Family<Histogram>& oos_abs_error;
  Family<Gauge>& validation_error;
  Family<Gauge>& campaign_state;
  Family<Counter>& fit_failures;
  Family<Gauge>& worker_tokens;
  Family<Gauge>& worker_loss;
  Family<Gauge>& worker_memory;
  Family<Gauge>& worker_silent;
  // The unlabelled series, created with their families so that a scrape
  // shows them (at 0) before their first use.
  Gauge& workers_now;
  Histogram& commit_histogram;
  Histogram& proposal_histogram;

  // The child of `family` for `labels`, listed under `owner` in `owned` so
  // that Forget removes it. Extra arguments (a histogram's buckets) go to
  // Family::Add.
  template <typename T, typename... Args>
  T& Child(Family<T>& family, Owned& owned, std::string_view owner,
           const prometheus::Labels& labels, const Args&... args)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    T& child = family.Add(labels, args...);
    std::string key = family.GetName();
    for (const auto& [name, value] : labels) {
      key += '\x1f' + name + '=' + value;
    }
    auto it = owned.find(owner);
    if (it == owned.end()) it = owned.try_emplace(std::string(owner)).first;
    it->second.try_emplace(std::move(key),
                           [&family, &child] { family.Remove(&child); });
    return child;
  }
  void Forget(Owned& owned, std::string_view owner)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = owned.find(owner);
    if (it == owned.end()) return;
    for (auto& [key, remove] : it->second) remove();
    owned.erase(it);
  }
  // False for a worker with no series yet when kMaxWorkerSeries have some.
  bool WorkerFits(std::string_view worker) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return workers_owned.size() < static_cast<size_t>(kMaxWorkerSeries) ||
           workers_owned.find(worker) != workers_owned.end();
  }

  absl::Mutex mu;
  Owned campaigns_owned ABSL_GUARDED_BY(mu);
  Owned workers_owned ABSL_GUARDED_BY(mu);

  // Set once by Start. Declared last, so it stops serving before the
  // registry goes.
  int port = 0;
  std::unique_ptr<MetricsHttpServer> http;
};

namespace {

// A single host:port: no lists ("a:1,b:2") or civetweb-style flags
// ("8080s"), which other exporters accept.
bool IsHostPort(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  const std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return std::stoi(port) <= 65535 &&
         listen.find_first_of(", ") == std::string::npos;
}

}  // namespace

StatusOr<std::unique_ptr<Metrics>> Metrics::Start(const std::string& listen) {
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>();
  } catch (const std::exception& e) {
    return InternalError(std::string("metrics: registering families: ") +
                         e.what());
  }
  if (listen.empty()) {
    return std::unique_ptr<Metrics>(new Metrics(std::move(impl)));
  }
  if (!IsHostPort(listen)) {
    return InvalidArgumentError(
        "metrics listen address: want host:port, got '" + listen + "'");
  }
  Impl* raw = impl.get();
  MOESWEEP_ASSIGN_OR_RETURN(
      impl->http, MetricsHttpServer::Start(listen, [raw] {
        return prometheus::TextSerializer().Serialize(raw->registry->Collect());
      }));
  impl->port = impl->http->port();
  return std::unique_ptr<Metrics>(new Metrics(std::move(impl)));
}

Metrics::Metrics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Metrics::~Metrics() = default;

int Metrics::port() const { return impl_->port; }

std::string Metrics::Render() const {
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

void Metrics::ObserveRpc(std::string_view method, int grpc_code,
                         double seconds) {
  const std::string m(method);
  impl_->rpcs.Add({{"method", m}, {"code", std::string(CodeName(grpc_code))}})
      .Increment();
  impl_->rpc_seconds.Add({{"method", m}}, kRpcSeconds).Observe(seconds);
}

void Metrics::SetTrials(std::string_view campaign, std::string_view state,
                        double count) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.Child(m.trials, m.campaigns_owned, campaign,
          {{"campaign", std::string(campaign)}, {"state", std::string(state)}})
      .Set(count);
}

void Metrics::LeaseExpired(std::string_view campaign) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.Child(m.lease_expiries, m.campaigns_owned, campaign, Campaign(campaign))
      .Increment();
}

void Metrics::StaleReportRefused(std::string_view campaign) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.Child(m.stale_reports, m.campaigns_owned, campaign, Campaign(campaign))
      .Increment();
}

void Metrics::SetWorkersConnected(double n) { impl_->workers_now.Set(n); }

void Metrics::ObserveStoreCommit(double seconds) {
  impl_->commit_histogram.Observe(seconds);
}

void Metrics::ObserveFit(std::string_view kind, double seconds) {
  impl_->fit_seconds.Add({{"kind", std::string(kind)}}, kFitSeconds)
      .Observe(seconds);
}

void Metrics::ObserveProposal(double seconds) {
  impl_->proposal_histogram.Observe(seconds);
}

void Metrics::SetLawParameter(std::string_view campaign, std::string_view param,
                              double value, double lower, double upper) {
  const prometheus::Labels labels = {{"campaign", std::string(campaign)},
                                     {"param", std::string(param)}};
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.Child(m.law, m.campaigns_owned, campaign, labels).Set(value);
  m.Child(m.law_lower, m.campaigns_owned, campaign, labels).Set(lower);
  m.Child(m.law_upper, m.campaigns_owned, campaign, labels).Set(upper);
}

void Metrics::SetLawParameterAtBound(std::string_view campaign,
                                     std::string_view param, bool at_bound) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.Child(m.law_at_bound, m.campaigns_owned, campaign,
          {{"campaign", std::string(campaign)}, {"param", std::string(param)}})
      .Set(at_bound ? 1 : 0);
}

void Metrics::SetLawVersion(std::string_view campaign, double version) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.Child(m.law_version, m.campaigns_owned, campaign, Campaign(campaign))
      .Set(version);
}

void Metrics::SetAnswer(std::string_view campaign, double value, double lower,
                        double upper, double target_relative_width) {
  const prometheus::Labels labels = Campaign(campaign);
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.Child(m.answer, m.campaigns_owned, campaign, labels).Set(value);
  m.Child(m.answer_lower, m.campaigns_owned, campaign, labels).Set(lower);
  m.Child(m.answer_upper, m.campaigns_owned, campaign, labels).Set(upper);
  m.Child(m.answer_width, m.campaigns_owned, campaign, labels)
      .Set(fitter::RelativeWidth({value, lower, upper}));
  m.Child(m.answer_target, m.campaigns_owned, campaign, labels)
      .Set(target_relative_width);
}

void Metrics::SetFlops(std::string_view campaign, double spent, double budget) {
  const prometheus::Labels labels = Campaign(campaign);
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.Child(m.flops_spent, m.campaigns_owned, campaign, labels).Set(spent);
  m.Child(m.flops_budget, m.campaigns_owned, campaign, labels).Set(budget);
}

void Metrics::ObserveOutOfSampleError(std::string_view campaign,
                                      double log_error) {
  const prometheus::Labels labels = Campaign(campaign);
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.Child(m.oos_error, m.campaigns_owned, campaign, labels).Set(log_error);
  m.Child(m.oos_abs_error, m.campaigns_owned, campaign, labels, kAbsLogError)
      .Observe(std::abs(log_error));
}

void Metrics::SetValidationLogError(std::string_view campaign,
                                    std::string_view trial, double log_error) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.Child(m.validation_error, m.campaigns_owned, campaign,
          {{"campaign", std::string(campaign)}, {"trial", std::string(trial)}})
      .Set(log_error);
}

void Metrics::SetCampaignState(std::string_view campaign,
                               std::string_view state) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  for (const char* s : kCampaignStates) {
    m.Child(m.campaign_state, m.campaigns_owned, campaign,
            {{"campaign", std::string(campaign)}, {"state", s}})
        .Set(state == s ? 1 : 0);
  }
  // The campaign's counters start at 0 before their first event, so that
  // increase() over a window sees that first event too.
  const prometheus::Labels labels = Campaign(campaign);
  m.Child(m.fit_failures, m.campaigns_owned, campaign, labels);
  m.Child(m.lease_expiries, m.campaigns_owned, campaign, labels);
  m.Child(m.stale_reports, m.campaigns_owned, campaign, labels);
}

void Metrics::FitFailed(std::string_view campaign) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.Child(m.fit_failures, m.campaigns_owned, campaign, Campaign(campaign))
      .Increment();
}

void Metrics::ForgetCampaign(std::string_view campaign) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.Forget(m.campaigns_owned, campaign);
}

void Metrics::SetWorkerProgress(std::string_view worker,
                                double tokens_per_second, double train_loss,
                                double peak_memory_bytes) {
  const prometheus::Labels labels = Worker(worker);
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  if (!m.WorkerFits(worker)) return;
  m.Child(m.worker_tokens, m.workers_owned, worker, labels)
      .Set(tokens_per_second);
  m.Child(m.worker_loss, m.workers_owned, worker, labels).Set(train_loss);
  m.Child(m.worker_memory, m.workers_owned, worker, labels)
      .Set(peak_memory_bytes);
}

void Metrics::SetWorkerSilence(std::string_view worker, double seconds) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  if (!m.WorkerFits(worker)) return;
  m.Child(m.worker_silent, m.workers_owned, worker, Worker(worker))
      .Set(seconds);
}

void Metrics::ForgetWorker(std::string_view worker) {
  Impl& m = *impl_;
  absl::MutexLock lock(&m.mu);
  m.Forget(m.workers_owned, worker);
}

}  // namespace moesweep::coordinator
