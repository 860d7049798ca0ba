// Helpers of the hostile tests (hostile_test.cc, hostile_restart_test.cc):
// a worker's stream spoken by hand, to send what an honest worker would not,
// and the campaign queries that check what the coordinator kept.

#ifndef MOESWEEP_TESTS_COORDINATOR_HOSTILE_UTIL_H_
#define MOESWEEP_TESTS_COORDINATOR_HOSTILE_UTIL_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/testing/coordinator_fixture.h"

namespace moesweep::testing {

namespace v1 = ::moesweep::v1;
using HostileTest = CoordinatorFixture;

using Stream =
    grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>;
inline v1::WorkerMessage Hello(const std::string& id) {
  v1::WorkerMessage m;
  m.mutable_hello()->set_worker_id(id);
  m.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
  m.mutable_hello()->mutable_capabilities()->set_max_concurrent_trials(1);
  return m;
}

inline v1::WorkerMessage ProgressOf(const std::string& trial_id,
                                    int32_t attempt, int64_t seq,
                                    int64_t step) {
  v1::WorkerMessage m;
  m.mutable_progress()->set_trial_id(trial_id);
  m.mutable_progress()->set_attempt(attempt);
  m.mutable_progress()->set_seq(seq);
  m.mutable_progress()->set_step(step);
  m.mutable_progress()->set_train_loss(3.5);
  return m;
}

inline v1::WorkerMessage DoneOf(const std::string& trial_id, int32_t attempt,
                                int64_t seq, double loss) {
  v1::WorkerMessage m;
  m.mutable_done()->set_trial_id(trial_id);
  m.mutable_done()->set_attempt(attempt);
  m.mutable_done()->set_seq(seq);
  m.mutable_done()->set_final_eval_loss(loss);
  m.mutable_done()->set_final_train_loss(loss);
  m.mutable_done()->set_trained_tokens(1000);
  m.mutable_done()->set_training_flops(1e12);
  return m;
}

inline bool ReadUntil(Stream* s, v1::CoordinatorMessage::KindCase kind,
                      v1::CoordinatorMessage* out) {
  while (s->Read(out)) {
    if (out->kind_case() == kind) return true;
  }
  return false;
}

// A worker's stream, with its context kept alive beside it.
struct Conn {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<Stream> stream;
  Conn() = default;
  Conn(Conn&&) = default;
  ~Conn() {
    if (context) context->TryCancel();
  }
};

inline Conn Connect(v1::WorkerService::Stub* stub, const std::string& id) {
  Conn c;
  c.context = AuthContext(kWorkerToken);
  c.stream = stub->Connect(c.context.get());
  EXPECT_TRUE(c.stream->Write(Hello(id)));
  return c;
}

inline std::vector<v1::Trial> ListTrials(v1::CampaignService::Stub* stub,
                                         const std::string& campaign_id) {
  v1::ListTrialsRequest q;
  q.set_campaign_id(campaign_id);
  q.set_page_size(1000);
  v1::ListTrialsResponse r;
  auto context = AuthContext(kViewerToken);
  grpc::Status s = stub->ListTrials(context.get(), q, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return {r.trials().begin(), r.trials().end()};
}

inline v1::Campaign GetCampaign(v1::CampaignService::Stub* stub,
                                const std::string& campaign_id) {
  v1::GetCampaignRequest q;
  q.set_campaign_id(campaign_id);
  v1::GetCampaignResponse r;
  auto context = AuthContext(kViewerToken);
  grpc::Status s = stub->Get(context.get(), q, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return r.campaign();
}

inline v1::Trial TrialOf(v1::CampaignService::Stub* stub,
                         const std::string& campaign_id,
                         const std::string& id) {
  for (const v1::Trial& t : ListTrials(stub, campaign_id)) {
    if (t.spec().trial_id() == id) return t;
  }
  ADD_FAILURE() << "no trial " << id;
  return {};
}

inline int CurvePoints(v1::CampaignService::Stub* stub,
                       const std::string& campaign, const std::string& trial) {
  v1::GetCurveRequest q;
  q.set_campaign_id(campaign);
  q.set_trial_id(trial);
  v1::GetCurveResponse r;
  auto context = AuthContext(kViewerToken);
  grpc::Status s = stub->GetCurve(context.get(), q, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return r.points_size();
}

}  // namespace moesweep::testing

#endif  // MOESWEEP_TESTS_COORDINATOR_HOSTILE_UTIL_H_
