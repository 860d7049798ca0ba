// Scheduler: the read side. The scheduler thread publishes a ReadView after
// each durable write; reads and Watch registration use the published one and
// never take mu_.

#include <algorithm>

#include "coordinator/records.h"
#include "coordinator/scheduler.h"
#include "coordinator/watch_stream.h"
#include "coordinator/worker_input.h"

namespace moesweep::coordinator {
namespace {

// The campaign's view, or why there is none to read: NOT_FOUND, or
// FAILED_PRECONDITION for a quarantined campaign.
StatusOr<const CampaignView*> FindView(const ReadView& view,
                                       const std::string& campaign_id) {
  auto it = view.campaigns.find(campaign_id);
  if (it == view.campaigns.end()) {
    return NotFoundError("campaign '" + Prefix(campaign_id) + "' not found");
  }
  const CampaignView& c = *it->second;
  if (c.quarantined) {
    return FailedPreconditionError("campaign '" + campaign_id +
                                   "' is FAILED: " + c.campaign.state_reason());
  }
  return &c;
}

}  // namespace

void Scheduler::Touch(const std::string& campaign_id, int32_t trial_index) {
  std::set<int32_t>& trials = touched_[campaign_id];
  if (trial_index >= 0) trials.insert(trial_index);
}

std::shared_ptr<const CampaignView> Scheduler::BuildView(
    const std::string& campaign_id) {
  auto view = std::make_shared<CampaignView>();
  auto q = quarantined_.find(campaign_id);
  auto it = campaigns_.find(campaign_id);
  if (it == campaigns_.end()) {
    if (q == quarantined_.end()) return nullptr;
    view->campaign = q->second;
    view->quarantined = true;
    return view;
  }
  CampaignRun& run = *it->second;
  ViewParts& parts = view_parts_[campaign_id];
  if (parts.plan == nullptr) {
    parts.plan = std::make_shared<const campaign::CampaignPlan>(run.plan());
  }
  const std::set<int32_t>& changed = touched_[campaign_id];
  const size_t n = run.trials().size();
  const size_t known = std::min(parts.trials.size(), n);
  parts.trials.resize(n);
  for (int32_t i : changed) {
    if (i >= 0 && static_cast<size_t>(i) < known) {
      parts.trials[i] =
          std::make_shared<const v1::Trial>(run.trials()[i].trial);
    }
  }
  for (size_t i = known; i < n; ++i) {
    parts.trials[i] = std::make_shared<const v1::Trial>(run.trials()[i].trial);
  }
  const std::vector<v1::LawEstimate>& laws = run.laws();
  if (parts.laws.size() != laws.size() || parts.out_of_sample == nullptr) {
    for (size_t i = parts.laws.size(); i < laws.size(); ++i) {
      parts.laws.push_back(std::make_shared<const v1::LawEstimate>(laws[i]));
    }
    parts.out_of_sample =
        std::make_shared<const std::vector<v1::OutOfSampleError>>(
            run.OutOfSampleErrors());
  }
  view->campaign = run.campaign();
  view->trials = parts.trials;
  view->laws = parts.laws;
  view->out_of_sample = parts.out_of_sample;
  view->plan = parts.plan;
  view->uncertainty = run.uncertainty();
  return view;
}

void Scheduler::PublishViews(
    const std::vector<v1::CampaignEvent>& stored_events) {
  if (!touched_.empty()) {
    auto next = std::make_shared<ReadView>(*built_);
    for (const auto& [id, trials] : touched_) {
      std::shared_ptr<const CampaignView> v = BuildView(id);
      if (v != nullptr) next->campaigns[id] = std::move(v);
    }
    touched_.clear();
    built_ = std::move(next);
  }
  absl::MutexLock lock(&view_mu_);
  view_ = built_;
  for (const v1::CampaignEvent& e : stored_events) {
    event_log_[e.campaign_id()].push_back(e);
    auto [begin, end] = watchers_.equal_range(e.campaign_id());
    for (auto it = begin; it != end; ++it) it->second->Push(e);
  }
}

std::shared_ptr<const ReadView> Scheduler::view() const {
  absl::MutexLock lock(&view_mu_);
  return view_;
}

StatusOr<v1::Campaign> Scheduler::Get(const std::string& campaign_id) const {
  std::shared_ptr<const ReadView> view = this->view();
  auto it = view->campaigns.find(campaign_id);
  if (it == view->campaigns.end()) {
    return NotFoundError("campaign '" + Prefix(campaign_id) + "' not found");
  }
  return it->second->campaign;
}

std::vector<v1::Campaign> Scheduler::List() const {
  std::shared_ptr<const ReadView> view = this->view();
  std::vector<v1::Campaign> out;
  for (auto it = view->campaigns.rbegin(); it != view->campaigns.rend(); ++it) {
    out.push_back(it->second->campaign);
  }
  return out;
}

StatusOr<std::vector<v1::Trial>> Scheduler::Trials(
    const std::string& campaign_id) const {
  std::shared_ptr<const ReadView> view = this->view();
  MOESWEEP_ASSIGN_OR_RETURN(const CampaignView* c,
                            FindView(*view, campaign_id));
  std::vector<v1::Trial> out;
  out.reserve(c->trials.size());
  for (const auto& t : c->trials) out.push_back(*t);
  return out;
}

StatusOr<v1::GetLawResponse> Scheduler::GetLaw(
    const v1::GetLawRequest& request) const {
  std::shared_ptr<const ReadView> view = this->view();
  MOESWEEP_ASSIGN_OR_RETURN(const CampaignView* c,
                            FindView(*view, request.campaign_id()));
  if (c->laws.empty()) {
    return FailedPreconditionError("campaign '" + request.campaign_id() +
                                   "': the law is not identifiable yet");
  }
  v1::GetLawResponse out;
  if (request.version() == 0) {
    *out.mutable_law() = *c->laws.back();
  } else {
    auto it = std::find_if(c->laws.begin(), c->laws.end(), [&](const auto& l) {
      return l->version() == request.version();
    });
    if (it == c->laws.end()) {
      return NotFoundError("law version " + std::to_string(request.version()) +
                           " not found");
    }
    *out.mutable_law() = **it;
  }
  for (const v1::OutOfSampleError& e : *c->out_of_sample) {
    *out.add_out_of_sample() = e;
  }
  if (c->campaign.has_answer()) *out.mutable_answer() = c->campaign.answer();
  for (const auto& t : c->trials) {
    if (t->has_validation()) *out.add_validations() = t->validation();
  }
  return out;
}

StatusOr<Scheduler::LawView> Scheduler::LawFor(const std::string& campaign_id,
                                               int64_t version) const {
  std::shared_ptr<const ReadView> view = this->view();
  MOESWEEP_ASSIGN_OR_RETURN(const CampaignView* c,
                            FindView(*view, campaign_id));
  auto it = c->laws.rbegin();
  if (version != 0) {
    it = std::find_if(c->laws.rbegin(), c->laws.rend(),
                      [&](const auto& l) { return l->version() == version; });
    if (it == c->laws.rend()) {
      return NotFoundError("law version " + std::to_string(version) +
                           " not found");
    }
  }
  if (it == c->laws.rend() || (*it)->covariance().empty()) {
    return FailedPreconditionError("campaign '" + campaign_id +
                                   "': the law is not identifiable yet");
  }
  LawView out;
  out.plan = *c->plan;
  out.law = LawOf(**it, c->plan->shape);
  out.uncertainty.covariance.assign((*it)->covariance().begin(),
                                    (*it)->covariance().end());
  if (c->uncertainty) {
    out.uncertainty.residual_sigma = c->uncertainty->residual_sigma;
    out.uncertainty.inliers = c->uncertainty->inliers;
  }
  out.version = (*it)->version();
  return out;
}

Status Scheduler::Subscribe(const std::string& campaign_id,
                            int64_t after_event_seq, bool include_progress,
                            WatchStream* stream) {
  // The view and the event log change together under view_mu_
  // (PublishViews), so the snapshot and the events above it line up.
  absl::MutexLock lock(&view_mu_);
  MOESWEEP_ASSIGN_OR_RETURN(const CampaignView* c,
                            FindView(*view_, campaign_id));
  v1::CampaignEvent snapshot;
  snapshot.set_time_unix_ms(NowUnixMs());
  snapshot.set_campaign_id(campaign_id);
  *snapshot.mutable_snapshot() = c->campaign;
  stream->Push(snapshot);
  if (after_event_seq != 0) {  // -1: every stored event
    for (const v1::CampaignEvent& e : event_log_[campaign_id]) {
      if (e.event_seq() > after_event_seq) stream->Push(e);
    }
  }
  watchers_.emplace(campaign_id, stream);
  if (include_progress) ++progress_watchers_;
  return OkStatus();
}

void Scheduler::Unsubscribe(const std::string& campaign_id,
                            bool include_progress, WatchStream* stream) {
  absl::MutexLock lock(&view_mu_);
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
