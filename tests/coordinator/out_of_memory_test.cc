// Out-of-memory trials over loopback: retried only on a worker with more
// memory than the one that reported it (Trial.min_memory_bytes), failed at
// once where none is connected; and a failure that once left its trial
// running forever.

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/coordinator/hostile_util.h"

namespace moesweep::testing {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

Conn ConnectWithMemory(v1::WorkerService::Stub* stub, const std::string& id,
                       v1::Backend backend, int64_t memory_bytes) {
  Conn c;
  c.context = AuthContext(kWorkerToken);
  // A wrong assignment shows as a read that never comes: end it.
  c.context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(30));
  c.stream = stub->Connect(c.context.get());
  v1::WorkerMessage hello = Hello(id);
  v1::WorkerCapabilities* caps = hello.mutable_hello()->mutable_capabilities();
  caps->set_backend(backend);
  if (backend == v1::BACKEND_CUDA) {
    caps->set_gpu_count(1);
    caps->set_gpu_model("NVIDIA H100 80GB HBM3");
    caps->set_device_memory_bytes(memory_bytes);
    caps->set_host_memory_bytes(512 * kGiB);  // not what a CUDA trial uses
  } else {
    caps->set_host_memory_bytes(memory_bytes);
  }
  EXPECT_TRUE(c.stream->Write(hello));
  return c;
}

v1::WorkerMessage FailedOf(const v1::TrialSpec& spec, v1::FailureKind kind,
                           int64_t needed_memory_bytes = 0) {
  v1::WorkerMessage m;
  v1::Failed* f = m.mutable_failed();
  f->set_trial_id(spec.trial_id());
  f->set_attempt(spec.attempt());
  f->set_seq(1);
  f->set_kind(kind);
  f->set_message("the model needs more than this worker has");
  f->set_needed_memory_bytes(needed_memory_bytes);
  return m;
}

// Polls (over RPC, no sleeps) until the trial leaves attempt `attempt`'s
// RUNNING state, or gives up.
v1::Trial TrialAfter(v1::CampaignService::Stub* stub,
                     const std::string& campaign, const v1::TrialSpec& spec) {
  v1::Trial t;
  for (int i = 0; i < 2000; ++i) {
    t = TrialOf(stub, campaign, spec.trial_id());
    if (t.spec().attempt() != spec.attempt() ||
        t.state() != v1::TRIAL_STATE_RUNNING) {
      break;
    }
  }
  return t;
}

TEST_F(HostileTest, OutOfMemoryTrialGoesOnlyToAWorkerWithMoreMemory) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("oom-moves", 1));
  auto workers = WorkerStub();
  auto campaigns = CampaignStub();
  // "a-small" comes first in the coordinator's worker order: with its slot
  // free again, only the memory rule keeps the trial from it.
  Conn small =
      ConnectWithMemory(workers.get(), "a-small", v1::BACKEND_CUDA, 16 * kGiB);
  v1::CoordinatorMessage m;
  ASSERT_TRUE(
      ReadUntil(small.stream.get(), v1::CoordinatorMessage::kAssign, &m));
  const v1::TrialSpec spec = m.assign().spec();
  Conn big =
      ConnectWithMemory(workers.get(), "b-big", v1::BACKEND_CUDA, 80 * kGiB);
  ASSERT_TRUE(
      ReadUntil(big.stream.get(), v1::CoordinatorMessage::kWelcome, &m));
  ASSERT_TRUE(small.stream->Write(
      FailedOf(spec, v1::FAILURE_KIND_OUT_OF_MEMORY, 20 * kGiB)));
  ASSERT_TRUE(ReadUntil(big.stream.get(), v1::CoordinatorMessage::kAssign, &m));
  EXPECT_EQ(m.assign().spec().trial_id(), spec.trial_id());
  EXPECT_EQ(m.assign().spec().attempt(), spec.attempt() + 1);

  const v1::Trial t =
      TrialOf(campaigns.get(), c.campaign_id(), spec.trial_id());
  EXPECT_EQ(t.worker_id(), "b-big");
  EXPECT_EQ(t.last_failure_kind(), v1::FAILURE_KIND_OUT_OF_MEMORY);
  EXPECT_EQ(t.min_memory_bytes(), 20 * kGiB);  // the measured need
  EXPECT_EQ(t.charged_failures(), 1);          // one try spent, not all
  // The small worker was never offered it again.
  small.context->TryCancel();
  while (small.stream->Read(&m)) {
    if (m.has_assign()) {
      EXPECT_NE(m.assign().spec().trial_id(), spec.trial_id());
    }
  }
}

TEST_F(HostileTest, OutOfMemoryNeedsMoreThanTheReportingWorkerHad) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("oom-more", 1));
  auto workers = WorkerStub();
  auto campaigns = CampaignStub();
  Conn small =
      ConnectWithMemory(workers.get(), "a-small", v1::BACKEND_CPU, 8 * kGiB);
  v1::CoordinatorMessage m;
  ASSERT_TRUE(
      ReadUntil(small.stream.get(), v1::CoordinatorMessage::kAssign, &m));
  const v1::TrialSpec spec = m.assign().spec();
  // Same memory as the one that failed: no use. More: takes it.
  Conn same =
      ConnectWithMemory(workers.get(), "b-same", v1::BACKEND_CPU, 8 * kGiB);
  Conn more =
      ConnectWithMemory(workers.get(), "c-more", v1::BACKEND_CPU, 9 * kGiB);
  ASSERT_TRUE(
      ReadUntil(more.stream.get(), v1::CoordinatorMessage::kWelcome, &m));
  // A failed allocation mid-run: the worker could not say what it needs.
  ASSERT_TRUE(
      small.stream->Write(FailedOf(spec, v1::FAILURE_KIND_OUT_OF_MEMORY)));
  ASSERT_TRUE(
      ReadUntil(more.stream.get(), v1::CoordinatorMessage::kAssign, &m));
  EXPECT_EQ(m.assign().spec().trial_id(), spec.trial_id());
  const v1::Trial t =
      TrialOf(campaigns.get(), c.campaign_id(), spec.trial_id());
  EXPECT_EQ(t.min_memory_bytes(), 8 * kGiB + 1);
  EXPECT_EQ(t.worker_id(), "c-more");
}

TEST_F(HostileTest, OutOfMemoryWithNoBiggerWorkerFailsTheTrial) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("oom-fails", 1));
  auto workers = WorkerStub();
  auto campaigns = CampaignStub();
  Conn only =
      ConnectWithMemory(workers.get(), "only", v1::BACKEND_CUDA, 80 * kGiB);
  v1::CoordinatorMessage m;
  ASSERT_TRUE(
      ReadUntil(only.stream.get(), v1::CoordinatorMessage::kAssign, &m));
  const v1::TrialSpec spec = m.assign().spec();
  ASSERT_TRUE(only.stream->Write(
      FailedOf(spec, v1::FAILURE_KIND_OUT_OF_MEMORY, 90 * kGiB)));
  const v1::Trial t = TrialAfter(campaigns.get(), c.campaign_id(), spec);
  EXPECT_EQ(t.state(), v1::TRIAL_STATE_FAILED);
  EXPECT_EQ(t.last_failure_kind(), v1::FAILURE_KIND_OUT_OF_MEMORY);
  EXPECT_EQ(t.min_memory_bytes(), 90 * kGiB);
  EXPECT_NE(t.last_failure_message().find("no connected worker has"),
            std::string::npos)
      << t.last_failure_message();
}

// A worker that cannot find a checkpoint for a run that needs none erred:
// the attempt is charged and the trial retried. It was once left RUNNING
// with its lease released, so nothing ever moved it again.
TEST_F(HostileTest, CheckpointMissingOnAFreshRunIsRetried) {
  StartServer();
  const v1::Campaign c = CreateCampaign(SmallCampaignYaml("fresh", 1));
  auto workers = WorkerStub();
  auto campaigns = CampaignStub();
  Conn w = Connect(workers.get(), "w");
  v1::CoordinatorMessage m;
  ASSERT_TRUE(ReadUntil(w.stream.get(), v1::CoordinatorMessage::kAssign, &m));
  const v1::TrialSpec spec = m.assign().spec();
  ASSERT_EQ(spec.resume_from_tokens(), 0);
  ASSERT_TRUE(
      w.stream->Write(FailedOf(spec, v1::FAILURE_KIND_CHECKPOINT_MISSING)));
  const v1::Trial t = TrialAfter(campaigns.get(), c.campaign_id(), spec);
  ASSERT_EQ(t.spec().attempt(), spec.attempt() + 1);
  EXPECT_EQ(t.charged_failures(), 1);
  EXPECT_EQ(t.last_failure_kind(), v1::FAILURE_KIND_CHECKPOINT_MISSING);
  ASSERT_TRUE(ReadUntil(w.stream.get(), v1::CoordinatorMessage::kAssign, &m));
  EXPECT_EQ(m.assign().spec().trial_id(), spec.trial_id());
  EXPECT_EQ(m.assign().spec().attempt(), spec.attempt() + 1);
}

TEST_F(HostileTest, MemoryFiguresOutOfRangeAreRefusedNamingTheField) {
  StartServer();
  auto workers = WorkerStub();
  for (const char* field : {"device_memory_bytes", "host_memory_bytes"}) {
    SCOPED_TRACE(field);
    auto context = AuthContext(kWorkerToken);
    auto stream = workers->Connect(context.get());
    v1::WorkerMessage hello = Hello("w");
    v1::WorkerCapabilities* caps =
        hello.mutable_hello()->mutable_capabilities();
    if (std::string(field) == "device_memory_bytes") {
      caps->set_device_memory_bytes(-1);
    } else {
      caps->set_host_memory_bytes(int64_t{1} << 62);
    }
    ASSERT_TRUE(stream->Write(hello));
    v1::CoordinatorMessage m;
    EXPECT_FALSE(stream->Read(&m));
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(
        s.error_message().find(std::string("hello.capabilities.") + field),
        std::string::npos)
        << s.error_message();
  }
}

}  // namespace
}  // namespace moesweep::testing
