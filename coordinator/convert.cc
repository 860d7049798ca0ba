// Conversions between the fitter's structs and the wire messages.

#include "coordinator/convert.h"

#include <cctype>
#include <chrono>
#include <cmath>

namespace moesweep::coordinator {

grpc::Status ToGrpcStatus(const Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

std::string CampaignStateLabel(v1::CampaignState state) {
  std::string name = v1::CampaignState_Name(state);
  constexpr std::string_view kPrefix = "CAMPAIGN_STATE_";
  if (name.starts_with(kPrefix)) name.erase(0, kPrefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(c));
  return name;
}

bool IsFinalState(v1::CampaignState s) {
  return s == v1::CAMPAIGN_STATE_SUCCEEDED ||
         s == v1::CAMPAIGN_STATE_BUDGET_EXHAUSTED ||
         s == v1::CAMPAIGN_STATE_CANCELLED || s == v1::CAMPAIGN_STATE_FAILED;
}

StatusOr<size_t> PageOffset(const std::string& token) {
  if (token.empty()) return size_t{0};
  size_t n = 0;
  for (char c : token) {
    if (c < '0' || c > '9' || n > (size_t{1} << 40)) {
      return InvalidArgumentError("page_token: not a token this server gave");
    }
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  return n;
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

v1::RunFeatures ToRunFeatures(const fitter::Observation& at) {
  v1::RunFeatures f;
  f.set_n_total_ne(at.n_total_ne);
  f.set_n_active_ne(at.n_active_ne);
  f.set_n_embed(at.params - at.n_total_ne);
  f.set_tokens(at.tokens);
  f.set_granularity(at.granularity);
  f.set_expansion(at.granularity > 0 ? at.num_experts / at.granularity : 0);
  f.set_num_experts(at.num_experts);
  f.set_top_k(at.top_k);
  f.set_num_shared(at.num_shared);
  f.set_active_experts(at.active_experts);
  f.set_shared_ratio(at.shared_ratio);
  return f;
}

fitter::Observation FromRunFeatures(const v1::RunFeatures& f) {
  fitter::Observation at;
  at.n_total_ne = f.n_total_ne();
  at.n_active_ne = f.n_active_ne();
  at.params = f.n_total_ne() + f.n_embed();
  at.active_params = f.n_active_ne() + f.n_embed();
  at.tokens = f.tokens();
  at.unique_tokens = f.tokens();
  at.granularity = f.granularity();
  at.num_experts = f.num_experts();
  at.top_k = f.top_k();
  at.num_shared = f.num_shared();
  at.active_experts = f.active_experts();
  at.shared_ratio = f.shared_ratio();
  return at;
}

v1::ArchitectureSpec ToArchitectureSpec(const fitter::Architecture& a) {
  v1::ArchitectureSpec s;
  s.set_vocab_size(static_cast<int32_t>(a.vocab_size));
  s.set_seq_len(static_cast<int32_t>(a.seq_len));
  s.set_d_model(static_cast<int32_t>(a.d_model));
  s.set_num_layers(static_cast<int32_t>(a.num_layers));
  s.set_num_heads(static_cast<int32_t>(a.num_heads));
  s.set_num_experts(static_cast<int32_t>(a.num_experts));
  s.set_top_k(static_cast<int32_t>(a.top_k));
  s.set_granularity(static_cast<int32_t>(a.granularity));
  s.set_num_shared_experts(static_cast<int32_t>(a.num_shared));
  s.set_expert_hidden_dim(static_cast<int32_t>(
      a.expert_hidden > 0
          ? a.expert_hidden
          : a.ffn_hidden / std::max<int64_t>(a.granularity, 1)));
  s.set_tied_embeddings(a.tied_embeddings);
  return s;
}

fitter::Architecture FromArchitectureSpec(const v1::ArchitectureSpec& s) {
  fitter::Architecture a;
  a.vocab_size = s.vocab_size();
  a.seq_len = s.seq_len();
  a.d_model = s.d_model();
  a.num_layers = s.num_layers();
  a.num_heads = s.num_heads();
  a.num_experts = s.num_experts();
  a.top_k = s.top_k();
  a.granularity = s.granularity();
  a.num_shared = s.num_shared_experts();
  a.expert_hidden = s.expert_hidden_dim();
  a.ffn_hidden = int64_t{s.expert_hidden_dim()} * s.granularity();
  a.tied_embeddings = s.tied_embeddings();
  return a;
}

v1::Interval ToInterval(const fitter::Interval& interval, double level) {
  v1::Interval out;
  out.set_lower(interval.lower);
  out.set_upper(interval.upper);
  out.set_confidence_level(level);
  return out;
}

StatusOr<v1::LawEstimate> ToLawEstimate(
    const std::string& campaign_id, const fitter::LawSnapshot& snapshot,
    const fitter::LawUncertainty* uncertainty, double huber_delta,
    int64_t now_unix_ms) {
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<std::string> names,
                            fitter::ThetaNames(snapshot.law));
  v1::LawEstimate out;
  out.set_campaign_id(campaign_id);
  out.set_version(snapshot.version);
  out.set_family(snapshot.law.family);
  out.set_expression(snapshot.law.expr.expression);
  const size_t p = snapshot.law.theta.size();
  const double z = fitter::TwoSidedZ(0.95);
  for (size_t i = 0; i < p; ++i) {
    v1::LawParameter* param = out.add_parameters();
    param->set_name(i < names.size() ? names[i] : "theta" + std::to_string(i));
    const double value = snapshot.law.theta[i];
    param->set_value(value);
    if (uncertainty != nullptr && uncertainty->covariance.size() == p * p) {
      const double se =
          std::sqrt(std::max(uncertainty->covariance[i * p + i], 0.0));
      param->set_std_error(se);
      *param->mutable_interval() =
          ToInterval({value, value - z * se, value + z * se}, 0.95);
    }
  }
  // A parameter on its bound is flagged, and said in a warning: its standard
  // error describes the box, not the data.
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<fitter::ParameterAtBound> at_bound,
                            fitter::ParametersAtBound(snapshot.law));
  for (const fitter::ParameterAtBound& b : at_bound) {
    out.mutable_parameters(b.index)->set_at_bound(true);
    out.add_warnings(fitter::AtBoundWarning(b));
  }
  if (uncertainty != nullptr) {
    for (double c : uncertainty->covariance) out.add_covariance(c);
  }
  out.set_num_observations(snapshot.runs);
  out.set_objective(snapshot.objective);
  out.set_huber_delta(huber_delta);
  out.set_full_refit(snapshot.full_refits > 0);
  if (uncertainty == nullptr) {
    out.add_warnings("no covariance yet: the law is not identifiable");
  }
  out.set_fitted_unix_ms(now_unix_ms);
  return out;
}

v1::LossPoint LossPointOf(const v1::WorkerMessage& m) {
  v1::LossPoint p;
  if (m.has_progress()) {
    const v1::Progress& r = m.progress();
    p.set_attempt(r.attempt());
    p.set_step(r.step());
    p.set_trained_tokens(r.trained_tokens());
    p.set_train_loss(r.train_loss());
    if (r.has_eval_loss()) p.set_eval_loss(r.eval_loss());
    p.set_learning_rate(r.learning_rate());
    p.set_elapsed_seconds(r.elapsed_seconds());
  } else if (m.has_done()) {
    const v1::Done& r = m.done();
    p.set_attempt(r.attempt());
    p.set_step(r.steps());
    p.set_trained_tokens(r.trained_tokens());
    p.set_train_loss(r.final_train_loss());
    p.set_eval_loss(r.final_eval_loss());
    p.set_elapsed_seconds(r.elapsed_seconds());
  } else if (m.has_failed()) {
    const v1::Failed& r = m.failed();
    p.set_attempt(r.attempt());
    p.set_step(r.step());
    p.set_trained_tokens(r.trained_tokens());
    p.set_elapsed_seconds(r.elapsed_seconds());
  }
  return p;
}

fitter::Law LawOf(const v1::LawEstimate& estimate, const fitter::Law& shape) {
  fitter::Law law = shape;
  law.theta.clear();
  for (const v1::LawParameter& p : estimate.parameters()) {
    law.theta.push_back(p.value());
  }
  return law;
}

}  // namespace moesweep::coordinator
