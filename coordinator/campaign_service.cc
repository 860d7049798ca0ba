// CampaignService: auth, campaign lifecycle calls and Watch. The law,
// trial and curve queries are in campaign_queries.cc; Export in
// export_stream.cc.

#include "coordinator/campaign_service.h"

#include "coordinator/export_stream.h"
#include "coordinator/metrics.h"
#include "coordinator/scheduler.h"
#include "coordinator/watch_stream.h"

namespace moesweep::coordinator {
CampaignServiceImpl::CampaignServiceImpl(Scheduler* scheduler, Store* store,
                                         const TokenTable* tokens,
                                         Metrics* metrics)
    : scheduler_(scheduler),
      store_(store),
      tokens_(tokens),
      metrics_(metrics) {}

void CampaignServiceImpl::Record(const char* method, Clock::time_point start,
                                 const Status& status) {
  if (metrics_ == nullptr) return;
  metrics_->ObserveRpc(
      method, static_cast<int>(status.code()),
      std::chrono::duration<double>(Clock::now() - start).count());
}

CampaignServiceImpl::Unary* CampaignServiceImpl::Reply(Ctx* c,
                                                       const char* method,
                                                       Clock::time_point start,
                                                       const Status& status) {
  Record(method, start, status);
  Unary* reactor = c->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Mutations: checked here, run on the scheduler thread, finished there.
#define MOESWEEP_MUTATION(Name, Call, Field)                       \
  CampaignServiceImpl::Unary* CampaignServiceImpl::Name(           \
      Ctx* c, const v1::Name##CampaignRequest* q,                  \
      v1::Name##CampaignResponse* r) {                             \
    const Clock::time_point start = Clock::now();                  \
    Status auth = tokens_->Check(*c, Role::kAdmin);                \
    if (!auth.ok()) return Reply(c, #Name, start, auth);           \
    Unary* reactor = c->DefaultReactor();                          \
    scheduler_->Call(*q, [this, reactor, r, start](auto result) {  \
      Status s = result.ok() ? OkStatus() : result.status();       \
      if (result.ok()) *r->mutable_##Field() = std::move(*result); \
      Record(#Name, start, s);                                     \
      reactor->Finish(ToGrpcStatus(s));                            \
    });                                                            \
    return reactor;                                                \
  }
MOESWEEP_MUTATION(Cancel, Cancel, campaign)
MOESWEEP_MUTATION(Pause, Pause, campaign)
MOESWEEP_MUTATION(Resume, Resume, campaign)
MOESWEEP_MUTATION(Amend, Amend, campaign)
#undef MOESWEEP_MUTATION

CampaignServiceImpl::Unary* CampaignServiceImpl::Create(
    Ctx* c, const v1::CreateCampaignRequest* q, v1::CreateCampaignResponse* r) {
  const Clock::time_point start = Clock::now();
  Status auth = tokens_->Check(*c, Role::kAdmin);
  if (!auth.ok()) return Reply(c, "Create", start, auth);
  Unary* reactor = c->DefaultReactor();
  scheduler_->Create(
      *q, [this, reactor, r, start](StatusOr<v1::CreateCampaignResponse> out) {
        Status s = out.ok() ? OkStatus() : out.status();
        if (out.ok()) *r = std::move(*out);
        Record("Create", start, s);
        reactor->Finish(ToGrpcStatus(s));
      });
  return reactor;
}

CampaignServiceImpl::Unary* CampaignServiceImpl::Validate(
    Ctx* c, const v1::ValidateCampaignRequest* q,
    v1::ValidateCampaignResponse* r) {
  const Clock::time_point start = Clock::now();
  Status auth = tokens_->Check(*c, Role::kAdmin);
  if (!auth.ok()) return Reply(c, "Validate", start, auth);
  Unary* reactor = c->DefaultReactor();
  scheduler_->Validate(*q, [this, reactor, r,
                            start](StatusOr<v1::ValidateCampaignResponse> out) {
    Status s = out.ok() ? OkStatus() : out.status();
    if (out.ok()) *r = std::move(*out);
    Record("Validate", start, s);
    reactor->Finish(ToGrpcStatus(s));
  });
  return reactor;
}

CampaignServiceImpl::Unary* CampaignServiceImpl::Get(
    Ctx* c, const v1::GetCampaignRequest* q, v1::GetCampaignResponse* r) {
  const Clock::time_point start = Clock::now();
  Status s = tokens_->Check(*c, Role::kViewer);
  if (s.ok()) {
    StatusOr<v1::Campaign> got = scheduler_->Get(q->campaign_id());
    s = got.ok() ? OkStatus() : got.status();
    if (got.ok()) *r->mutable_campaign() = std::move(*got);
  }
  return Reply(c, "Get", start, s);
}

CampaignServiceImpl::Unary* CampaignServiceImpl::List(
    Ctx* c, const v1::ListCampaignsRequest* q, v1::ListCampaignsResponse* r) {
  const Clock::time_point start = Clock::now();
  Status s = tokens_->Check(*c, Role::kViewer);
  if (!s.ok()) return Reply(c, "List", start, s);
  StatusOr<size_t> first = PageOffset(q->page_token());
  if (!first.ok()) return Reply(c, "List", start, first.status());
  if (q->page_size() < 0 || q->page_size() > kMaxPageSize) {
    return Reply(c, "List", start,
                 InvalidArgumentError("page_size: must be in [0, " +
                                      std::to_string(kMaxPageSize) + "]"));
  }
  const size_t size = q->page_size() == 0 ? 100 : q->page_size();
  std::vector<v1::Campaign> all;
  for (v1::Campaign& campaign : scheduler_->List()) {
    bool wanted = q->states().empty();
    for (int st : q->states()) wanted |= campaign.state() == st;
    if (wanted) all.push_back(std::move(campaign));
  }
  const size_t end = FillPage(all, *first, size, r->mutable_campaigns());
  if (end < all.size()) r->set_next_page_token(std::to_string(end));
  return Reply(c, "List", start, OkStatus());
}

grpc::ServerWriteReactor<v1::CampaignEvent>* CampaignServiceImpl::Watch(
    Ctx* c, const v1::WatchCampaignRequest* q) {
  const Clock::time_point start = Clock::now();
  Status auth = tokens_->Check(*c, Role::kViewer);
  Record("Watch", start, auth);
  return new WatchStream(scheduler_, *q, auth);
}

grpc::ServerWriteReactor<v1::ExportChunk>* CampaignServiceImpl::Export(
    Ctx* c, const v1::ExportRequest* q) {
  const Clock::time_point start = Clock::now();
  Status s = tokens_->Check(*c, Role::kViewer);
  StatusOr<std::string> text =
      s.ok() ? ExportText(*scheduler_, *store_, *q) : StatusOr<std::string>(s);
  Record("Export", start, text.ok() ? OkStatus() : text.status());
  return new ExportStream(std::move(text));
}

}  // namespace moesweep::coordinator
