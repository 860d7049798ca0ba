// The wire API's contracts that storage and old peers rely on: stored enum
// numbers never change, and optional fields tell "absent" from zero.

#include <gtest/gtest.h>

#include "moesweep/v1/common.pb.h"
#include "moesweep/v1/worker.grpc.pb.h"

namespace moesweep::v1 {
namespace {

TEST(WireTest, StoredEnumNumbersNeverChange) {
  EXPECT_EQ(BACKEND_CPU, 1);
  EXPECT_EQ(BACKEND_CUDA, 2);
  EXPECT_EQ(FAILURE_KIND_DIVERGED, 1);
  EXPECT_EQ(FAILURE_KIND_OUT_OF_MEMORY, 2);
  EXPECT_EQ(FAILURE_KIND_PREEMPTED, 3);
  EXPECT_EQ(FAILURE_KIND_ERROR, 4);
  EXPECT_EQ(FAILURE_KIND_TIME_LIMIT, 5);
  EXPECT_EQ(FAILURE_KIND_CHECKPOINT_MISSING, 6);
  EXPECT_EQ(LR_SCHEDULE_COSINE, 1);
  EXPECT_EQ(LR_SCHEDULE_WARMUP_STABLE_DECAY, 2);
}

TEST(WireTest, ProgressRoundTripsAndKeepsEvalLossPresence) {
  WorkerMessage sent;
  Progress* progress = sent.mutable_progress();
  progress->set_trial_id("c1/t7");
  progress->set_attempt(2);
  progress->set_seq(41);
  progress->set_train_loss(3.25);
  std::string bytes;
  ASSERT_TRUE(sent.SerializeToString(&bytes));

  WorkerMessage got;
  ASSERT_TRUE(got.ParseFromString(bytes));
  ASSERT_EQ(got.kind_case(), WorkerMessage::kProgress);
  EXPECT_EQ(got.progress().trial_id(), "c1/t7");
  EXPECT_EQ(got.progress().attempt(), 2);
  EXPECT_EQ(got.progress().seq(), 41);
  EXPECT_FALSE(got.progress().has_eval_loss());  // no eval ran: absent, not 0

  progress->set_eval_loss(0.0);
  ASSERT_TRUE(sent.SerializeToString(&bytes));
  ASSERT_TRUE(got.ParseFromString(bytes));
  EXPECT_TRUE(got.progress().has_eval_loss());
}

TEST(WireTest, AckNamesTrialAttemptAndSeq) {
  CoordinatorMessage sent;
  Ack* ack = sent.mutable_ack();
  ack->set_trial_id("c1/t7");
  ack->set_attempt(3);
  ack->set_seq(9);
  CoordinatorMessage got;
  ASSERT_TRUE(got.ParseFromString(sent.SerializeAsString()));
  ASSERT_EQ(got.kind_case(), CoordinatorMessage::kAck);
  EXPECT_EQ(got.ack().attempt(), 3);
  EXPECT_EQ(got.ack().seq(), 9);
}

}  // namespace
}  // namespace moesweep::v1
