// CampaignService: the law, predictions, the optimum, trials and curves.

#include <cmath>

#include "coordinator/campaign_service.h"
#include "coordinator/metrics.h"
#include "coordinator/scheduler.h"

namespace moesweep::coordinator {
namespace {

// The prediction at `at` (features complete) under `view`.
StatusOr<v1::Prediction> PredictAt(const Scheduler::LawView& view,
                                   const fitter::Observation& at,
                                   double level) {
  v1::Prediction p;
  *p.mutable_features() = ToRunFeatures(at);
  MOESWEEP_ASSIGN_OR_RETURN(double loss, fitter::PredictLoss(view.law, at));
  p.set_loss(loss);
  StatusOr<fitter::Interval> mean = fitter::PredictionInterval(
      view.law, view.uncertainty, at, level, /*include_noise=*/false);
  if (mean.ok()) *p.mutable_confidence_interval() = ToInterval(*mean, level);
  StatusOr<fitter::Interval> run = fitter::PredictionInterval(
      view.law, view.uncertainty, at, level, /*include_noise=*/true);
  if (run.ok()) *p.mutable_prediction_interval() = ToInterval(*run, level);
  StatusOr<double> flops = fitter::RunFlops(view.law, at);
  if (flops.ok()) p.set_training_flops(*flops);
  return p;
}

double Level(double requested) { return requested == 0 ? 0.95 : requested; }

Status CheckLevel(double level) {
  if (!(level > 0 && level < 1)) {
    return InvalidArgumentError("confidence_level: must be in (0, 1)");
  }
  return OkStatus();
}

// Most points of one GetCurve reply: 10,000 points stay far below gRPC's
// 4 MiB default message limit, whatever a curve's length.
constexpr int kMaxCurvePage = 10'000;

// Parses a GetCurve page token, "ATTEMPT.SEQ": the next page starts after
// that seq of that attempt, which must lie in [from, to].
Status CurvePageToken(const std::string& token, int32_t from, int32_t to,
                      int32_t* attempt, int64_t* after_seq) {
  if (token.empty()) return OkStatus();
  const size_t dot = token.find('.');
  StatusOr<size_t> a = PageOffset(token.substr(0, dot));
  StatusOr<size_t> seq = dot == std::string::npos
                             ? StatusOr<size_t>(InvalidArgumentError(""))
                             : PageOffset(token.substr(dot + 1));
  if (dot == 0 || !a.ok() || !seq.ok() || *a < static_cast<size_t>(from) ||
      *a > static_cast<size_t>(to)) {
    return InvalidArgumentError("page_token: not a token this server gave");
  }
  *attempt = static_cast<int32_t>(*a);
  *after_seq = static_cast<int64_t>(*seq);
  return OkStatus();
}

}  // namespace

CampaignServiceImpl::Unary* CampaignServiceImpl::GetLaw(
    Ctx* c, const v1::GetLawRequest* q, v1::GetLawResponse* r) {
  const Clock::time_point start = Clock::now();
  Status s = tokens_->Check(*c, Role::kViewer);
  if (s.ok()) {
    StatusOr<v1::GetLawResponse> got = scheduler_->GetLaw(*q);
    s = got.ok() ? OkStatus() : got.status();
    if (got.ok()) *r = std::move(*got);
  }
  return Reply(c, "GetLaw", start, s);
}

CampaignServiceImpl::Unary* CampaignServiceImpl::Predict(
    Ctx* c, const v1::PredictRequest* q, v1::PredictResponse* r) {
  const Clock::time_point start = Clock::now();
  auto run = [&]() -> Status {
    MOESWEEP_RETURN_IF_ERROR(tokens_->Check(*c, Role::kViewer));
    const double level = Level(q->confidence_level());
    MOESWEEP_RETURN_IF_ERROR(CheckLevel(level));
    MOESWEEP_ASSIGN_OR_RETURN(
        Scheduler::LawView view,
        scheduler_->LawFor(q->campaign_id(), q->law_version()));
    for (int i = 0; i < q->inputs_size(); ++i) {
      const v1::PredictionInput& in = q->inputs(i);
      const std::string where = "inputs[" + std::to_string(i) + "]: ";
      fitter::Observation at;
      if (in.has_architecture()) {
        fitter::Architecture arch = FromArchitectureSpec(in.architecture());
        Status valid = arch.Validate();
        if (!valid.ok())
          return InvalidArgumentError(where + std::string(valid.message()));
        if (in.train_tokens() <= 0) {
          return InvalidArgumentError(where + "train_tokens: must be > 0");
        }
        at = fitter::FeaturesOf(arch, static_cast<double>(in.train_tokens()));
      } else if (in.has_features()) {
        at = FromRunFeatures(in.features());
      } else {
        return InvalidArgumentError(where + "set architecture or features");
      }
      StatusOr<v1::Prediction> p = PredictAt(view, at, level);
      if (!p.ok())
        return InvalidArgumentError(where + std::string(p.status().message()));
      *r->add_predictions() = std::move(*p);
    }
    r->set_law_version(view.version);
    return OkStatus();
  };
  return Reply(c, "Predict", start, run());
}

CampaignServiceImpl::Unary* CampaignServiceImpl::Optimal(
    Ctx* c, const v1::OptimalRequest* q, v1::OptimalResponse* r) {
  const Clock::time_point start = Clock::now();
  auto run = [&]() -> Status {
    MOESWEEP_RETURN_IF_ERROR(tokens_->Check(*c, Role::kViewer));
    const double level = Level(q->confidence_level());
    MOESWEEP_RETURN_IF_ERROR(CheckLevel(level));
    // Past 1e30 FLOPs the tokens overflow their int64 field and every
    // extrapolation is fiction; caps must be finite where set.
    if (!(q->budget_flops() > 0 && q->budget_flops() <= 1e30)) {
      return InvalidArgumentError("budget_flops: must be in (0, 1e30]");
    }
    for (auto [name, v] :
         {std::pair{"max_total_params", q->max_total_params()},
          std::pair{"max_active_params", q->max_active_params()},
          std::pair{"max_memory_bytes",
                    static_cast<double>(q->max_memory_bytes())},
          std::pair{"max_flops_per_token", q->max_flops_per_token()}}) {
      if (!std::isfinite(v) || v < 0) {
        return InvalidArgumentError(std::string(name) +
                                    ": must be finite and >= 0 (0: no cap)");
      }
    }
    MOESWEEP_ASSIGN_OR_RETURN(
        Scheduler::LawView view,
        scheduler_->LawFor(q->campaign_id(), q->law_version()));
    fitter::OptimalOptions options = view.plan.question.optimal;
    options.flops = q->budget_flops();
    options.profile_points = 41;
    if (q->max_total_params() > 0)
      options.max_total_params = q->max_total_params();
    if (q->max_active_params() > 0)
      options.max_active_params = q->max_active_params();
    if (q->max_memory_bytes() > 0)
      options.max_memory_bytes = q->max_memory_bytes();
    if (q->max_flops_per_token() > 0) {
      options.max_flops_per_token = q->max_flops_per_token();
    }
    StatusOr<fitter::OptimalResult> best =
        fitter::SolveOptimal(view.law, options);
    if (!best.ok()) {
      // No architecture meets the caps: the request must change.
      return InvalidArgumentError(std::string(best.status().message()));
    }
    const fitter::OptimalPoint& b = best->best;
    fitter::Observation at;
    at.params = b.params;
    at.active_params = b.active_params;
    // The sizes in the family's own convention, so that the answer's
    // features fed back to Predict give the same point (n_embed 0): before,
    // n_total_ne and n_active_ne were 0 and a joint law read n_embed alone.
    at.n_total_ne = b.params;
    at.n_active_ne = b.active_params;
    at.tokens = b.tokens;
    at.unique_tokens = b.tokens;
    at.num_experts = b.num_experts;
    at.granularity = b.granularity;
    at.active_experts = b.active_experts;
    at.shared_ratio = b.shared_ratio;
    StatusOr<v1::Prediction> p = PredictAt(view, at, level);
    if (p.ok()) *r->mutable_prediction() = std::move(*p);
    r->mutable_prediction()->set_loss(b.loss);
    r->mutable_prediction()->set_training_flops(q->budget_flops());
    // The law fixes the expert counts; widths at this scale lie outside the
    // campaign's space, so only those fields of the architecture are set.
    r->mutable_architecture()->set_num_experts(
        static_cast<int32_t>(std::lround(b.num_experts)));
    r->mutable_architecture()->set_granularity(
        static_cast<int32_t>(std::lround(b.granularity)));
    if (!(b.tokens >= 0 && b.tokens < 9e18)) {
      return InvalidArgumentError(
          "budget_flops: the optimum's tokens do not fit an int64");
    }
    r->set_train_tokens(static_cast<int64_t>(b.tokens));
    r->set_law_version(view.version);
    return OkStatus();
  };
  return Reply(c, "Optimal", start, run());
}

CampaignServiceImpl::Unary* CampaignServiceImpl::ListTrials(
    Ctx* c, const v1::ListTrialsRequest* q, v1::ListTrialsResponse* r) {
  const Clock::time_point start = Clock::now();
  auto run = [&]() -> Status {
    MOESWEEP_RETURN_IF_ERROR(tokens_->Check(*c, Role::kViewer));
    MOESWEEP_ASSIGN_OR_RETURN(size_t first, PageOffset(q->page_token()));
    if (q->page_size() < 0 || q->page_size() > kMaxPageSize) {
      return InvalidArgumentError("page_size: must be in [0, " +
                                  std::to_string(kMaxPageSize) + "]");
    }
    const size_t size = q->page_size() == 0 ? 100 : q->page_size();
    MOESWEEP_ASSIGN_OR_RETURN(std::vector<v1::Trial> trials,
                              scheduler_->Trials(q->campaign_id()));
    std::vector<v1::Trial> wanted;
    for (v1::Trial& t : trials) {
      bool keep = q->states().empty();
      for (int st : q->states()) keep |= t.state() == st;
      if (keep) wanted.push_back(std::move(t));
    }
    const size_t end = FillPage(wanted, first, size, r->mutable_trials());
    if (end < wanted.size()) r->set_next_page_token(std::to_string(end));
    return OkStatus();
  };
  return Reply(c, "ListTrials", start, run());
}

CampaignServiceImpl::Unary* CampaignServiceImpl::GetCurve(
    Ctx* c, const v1::GetCurveRequest* q, v1::GetCurveResponse* r) {
  const Clock::time_point start = Clock::now();
  auto run = [&]() -> Status {
    MOESWEEP_RETURN_IF_ERROR(tokens_->Check(*c, Role::kViewer));
    MOESWEEP_ASSIGN_OR_RETURN(std::vector<v1::Trial> trials,
                              scheduler_->Trials(q->campaign_id()));
    bool known = false;
    for (const v1::Trial& t : trials)
      known |= t.spec().trial_id() == q->trial_id();
    if (!known) {
      return NotFoundError("trial '" + q->trial_id() +
                           "' not found in campaign '" + q->campaign_id() +
                           "'");
    }
    MOESWEEP_ASSIGN_OR_RETURN(int32_t current,
                              store_->CurrentAttempt(q->trial_id()));
    if (q->attempt() < 0 || q->attempt() > current) {
      return NotFoundError("attempt " + std::to_string(q->attempt()) +
                           " not found");
    }
    if (q->page_size() < 0 || q->page_size() > kMaxCurvePage) {
      return InvalidArgumentError("page_size: must be in [0, " +
                                  std::to_string(kMaxCurvePage) + "]");
    }
    const size_t page = q->page_size() == 0 ? kMaxCurvePage : q->page_size();
    r->set_trial_id(q->trial_id());
    int32_t from = q->attempt() == 0 ? 1 : q->attempt();
    const int32_t to = q->attempt() == 0 ? current : q->attempt();
    int64_t after_seq = 0;
    MOESWEEP_RETURN_IF_ERROR(
        CurvePageToken(q->page_token(), from, to, &from, &after_seq));
    size_t read = 0;  // reports read, Failed ones included
    for (int32_t a = from; a <= to; ++a, after_seq = 0) {
      MOESWEEP_ASSIGN_OR_RETURN(
          std::vector<CurvePoint> points,
          store_->ReadCurve(q->trial_id(), a, after_seq, page - read + 1));
      for (const CurvePoint& p : points) {
        if (read == page) {  // one more exists: the next page starts here
          r->set_next_page_token(std::to_string(a) + "." +
                                 std::to_string(after_seq));
          return OkStatus();
        }
        v1::WorkerMessage m;
        if (!m.ParseFromString(p.payload)) {
          return DataLossError("store: a report of " + q->trial_id() +
                               " does not parse");
        }
        // A Failed report ends an attempt without a loss: not a point.
        if (!m.has_failed()) *r->add_points() = LossPointOf(m);
        after_seq = p.seq;
        ++read;
      }
    }
    return OkStatus();
  };
  return Reply(c, "GetCurve", start, run());
}

}  // namespace moesweep::coordinator
