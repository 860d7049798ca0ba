// CampaignService: what users ask the coordinator (campaign.proto). Each
// call checks its token first; mutations run on the Scheduler's thread and
// finish from there, reads answer from the Scheduler's state at once.
// Internal to coordinator/.

#ifndef MOESWEEP_COORDINATOR_CAMPAIGN_SERVICE_H_
#define MOESWEEP_COORDINATOR_CAMPAIGN_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "coordinator/auth.h"
#include "moesweep/v1/campaign.grpc.pb.h"

namespace moesweep::coordinator {

class Metrics;
class Scheduler;
class Store;

// Thread-safe. Everything it points to must outlive it.
class CampaignServiceImpl final
    : public ::moesweep::v1::CampaignService::CallbackService {
 public:
  CampaignServiceImpl(Scheduler* scheduler, Store* store,
                      const TokenTable* tokens, Metrics* metrics);

  using Ctx = grpc::CallbackServerContext;
  using Unary = grpc::ServerUnaryReactor;
  Unary* Create(Ctx* c, const v1::CreateCampaignRequest* q,
                v1::CreateCampaignResponse* r) override;
  Unary* Get(Ctx* c, const v1::GetCampaignRequest* q,
             v1::GetCampaignResponse* r) override;
  Unary* List(Ctx* c, const v1::ListCampaignsRequest* q,
              v1::ListCampaignsResponse* r) override;
  Unary* Cancel(Ctx* c, const v1::CancelCampaignRequest* q,
                v1::CancelCampaignResponse* r) override;
  Unary* Pause(Ctx* c, const v1::PauseCampaignRequest* q,
               v1::PauseCampaignResponse* r) override;
  Unary* Resume(Ctx* c, const v1::ResumeCampaignRequest* q,
                v1::ResumeCampaignResponse* r) override;
  Unary* Amend(Ctx* c, const v1::AmendCampaignRequest* q,
               v1::AmendCampaignResponse* r) override;
  Unary* Validate(Ctx* c, const v1::ValidateCampaignRequest* q,
                  v1::ValidateCampaignResponse* r) override;
  grpc::ServerWriteReactor<v1::CampaignEvent>* Watch(
      Ctx* c, const v1::WatchCampaignRequest* q) override;
  Unary* GetLaw(Ctx* c, const v1::GetLawRequest* q,
                v1::GetLawResponse* r) override;
  Unary* Predict(Ctx* c, const v1::PredictRequest* q,
                 v1::PredictResponse* r) override;
  Unary* Optimal(Ctx* c, const v1::OptimalRequest* q,
                 v1::OptimalResponse* r) override;
  Unary* ListTrials(Ctx* c, const v1::ListTrialsRequest* q,
                    v1::ListTrialsResponse* r) override;
  Unary* GetCurve(Ctx* c, const v1::GetCurveRequest* q,
                  v1::GetCurveResponse* r) override;
  grpc::ServerWriteReactor<v1::ExportChunk>* Export(
      Ctx* c, const v1::ExportRequest* q) override;

 private:
  using Clock = std::chrono::steady_clock;
  // A unary reactor finished with `status`; the call's metrics recorded.
  Unary* Reply(Ctx* c, const char* method, Clock::time_point start,
               const Status& status);
  void Record(const char* method, Clock::time_point start,
              const Status& status);

  Scheduler* const scheduler_;
  Store* const store_;
  const TokenTable* const tokens_;
  Metrics* const metrics_;
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_CAMPAIGN_SERVICE_H_
