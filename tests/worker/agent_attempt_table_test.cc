// worker/agent/attempt_table.cc: seq numbering, cumulative acks, drops and the
// resumption of held leases after a reconnect (worker.proto).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "worker/agent/attempt_table.h"

namespace moesweep::worker::agent {
namespace {

v1::TrialSpec Spec(const std::string& trial, int32_t attempt) {
  v1::TrialSpec s;
  s.set_trial_id(trial);
  s.set_attempt(attempt);
  return s;
}

v1::Lease LeaseOf(const std::string& trial, int32_t attempt) {
  v1::Lease l;
  l.set_lease_id("lease-" + trial + "-" + std::to_string(attempt));
  l.set_trial_id(trial);
  l.set_attempt(attempt);
  l.set_deadline_unix_ms(1000);
  return l;
}

v1::WorkerMessage Progress(const std::string& trial, int32_t attempt,
                           int64_t step) {
  v1::WorkerMessage m;
  m.mutable_progress()->set_trial_id(trial);
  m.mutable_progress()->set_attempt(attempt);
  m.mutable_progress()->set_step(step);
  return m;
}

v1::WorkerMessage DoneOf(const std::string& trial, int32_t attempt) {
  v1::WorkerMessage m;
  m.mutable_done()->set_trial_id(trial);
  m.mutable_done()->set_attempt(attempt);
  return m;
}

v1::Ack AckOf(const std::string& trial, int32_t attempt, int64_t seq) {
  v1::Ack a;
  a.set_trial_id(trial);
  a.set_attempt(attempt);
  a.set_seq(seq);
  a.set_lease_deadline_unix_ms(5000);
  return a;
}

// The seqs of the reports an attempt still holds.
std::vector<int64_t> Unacked(AttemptTable& t, const AttemptKey& key) {
  std::vector<int64_t> seqs;
  for (const v1::WorkerMessage& m : t.Find(key)->unacked) {
    seqs.push_back(SeqOfReport(m));
  }
  return seqs;
}

TEST(AttemptTableTest, NumbersReportsFromOneAndAcksAreCumulative) {
  AttemptTable t;
  ASSERT_TRUE(t.Add(Spec("t1", 1), LeaseOf("t1", 1)));
  EXPECT_FALSE(t.Add(Spec("t1", 1), LeaseOf("t1", 1)));  // already held
  const AttemptKey key{"t1", 1};
  for (int step = 10; step <= 40; step += 10) {
    v1::WorkerMessage m = Progress("t1", 1, step);
    ASSERT_TRUE(t.Number(&m));
    EXPECT_EQ(m.progress().seq(), step / 10);
  }
  EXPECT_EQ(Unacked(t, key), (std::vector<int64_t>{1, 2, 3, 4}));
  ASSERT_NE(t.Ack(AckOf("t1", 1, 2)), nullptr);
  EXPECT_EQ(Unacked(t, key), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(t.Find(key)->lease.deadline_unix_ms(), 5000);
  t.Ack(AckOf("t1", 1, 1));  // an older, repeated Ack changes nothing
  EXPECT_EQ(Unacked(t, key), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(t.Find(key)->acked_seq, 2);
  EXPECT_EQ(t.Ack(AckOf("t9", 1, 1)), nullptr);
}

TEST(AttemptTableTest, LastReportEndsTheAttemptAndItsAckCompletesIt) {
  AttemptTable t;
  t.Add(Spec("t1", 1), LeaseOf("t1", 1));
  const AttemptKey key{"t1", 1};
  v1::WorkerMessage p = Progress("t1", 1, 10), d = DoneOf("t1", 1);
  ASSERT_TRUE(t.Number(&p));
  ASSERT_TRUE(t.Number(&d));
  EXPECT_EQ(d.done().seq(), 2);
  v1::WorkerMessage late = Progress("t1", 1, 20);
  EXPECT_FALSE(t.Number(&late));  // nothing follows Done
  EXPECT_TRUE(t.Find(key)->ended);
  EXPECT_TRUE(t.Find(key)->succeeded);
  EXPECT_FALSE(t.Find(key)->Complete());
  EXPECT_EQ(t.MakeHeartbeat().running_size(), 1);  // lease still needed
  t.Ack(AckOf("t1", 1, 2));
  EXPECT_TRUE(t.Find(key)->Complete());
  EXPECT_EQ(t.MakeHeartbeat().running_size(), 0);
}

TEST(AttemptTableTest, DroppedAttemptsSendNothingMore) {
  AttemptTable t;
  t.Add(Spec("t1", 1), LeaseOf("t1", 1));
  t.Add(Spec("t2", 3), LeaseOf("t2", 3));
  v1::WorkerMessage p = Progress("t1", 1, 10);
  ASSERT_TRUE(t.Number(&p));
  t.Drop(t.Find({"t1", 1}));
  EXPECT_TRUE(t.Find({"t1", 1})->unacked.empty());
  EXPECT_TRUE(t.Find({"t1", 1})->Complete());
  v1::WorkerMessage q = Progress("t1", 1, 20);
  EXPECT_FALSE(t.Number(&q));
  v1::WorkerMessage unknown = Progress("t7", 1, 10);
  EXPECT_FALSE(t.Number(&unknown));
  ASSERT_EQ(t.HeldLeases().size(), 1u);
  EXPECT_EQ(t.HeldLeases()[0].trial_id(), "t2");
  v1::Heartbeat h = t.MakeHeartbeat();
  ASSERT_EQ(h.running_size(), 1);
  EXPECT_EQ(h.running(0).trial_id(), "t2");
  EXPECT_EQ(h.running(0).attempt(), 3);
}

TEST(AttemptTableTest, WelcomeResumesListedLeasesAndVoidsTheRest) {
  AttemptTable t;
  t.Add(Spec("a", 1), LeaseOf("a", 1));
  t.Add(Spec("b", 2), LeaseOf("b", 2));
  for (int i = 1; i <= 4; ++i) {
    v1::WorkerMessage pa = Progress("a", 1, i), pb = Progress("b", 2, i);
    ASSERT_TRUE(t.Number(&pa));
    ASSERT_TRUE(t.Number(&pb));
  }
  t.Ack(AckOf("a", 1, 1));  // the worker saw seq 1 acknowledged
  v1::Welcome w;
  v1::ResumedLease* r = w.add_resumed_leases();
  *r->mutable_lease() = LeaseOf("a", 1);
  r->mutable_lease()->set_deadline_unix_ms(9000);
  r->set_acked_seq(3);  // the coordinator stored up to 3 (an Ack was lost)
  AttemptTable::Resumption res = t.Resume(w);
  ASSERT_EQ(res.resend.size(), 1u);  // only seq 4, once
  EXPECT_EQ(SeqOfReport(res.resend[0]), 4);
  EXPECT_EQ(KeyOfReport(res.resend[0]), (AttemptKey{"a", 1}));
  EXPECT_EQ(res.resumed, (std::vector<AttemptKey>{{"a", 1}}));
  EXPECT_EQ(res.voided, (std::vector<AttemptKey>{{"b", 2}}));
  EXPECT_EQ(t.Find({"a", 1})->lease.deadline_unix_ms(), 9000);
  EXPECT_TRUE(t.Find({"b", 2})->dropped);
  EXPECT_TRUE(t.Find({"b", 2})->unacked.empty());
  // A Welcome that lists less than the worker saw acknowledged resends from
  // the worker's own mark: never a report the coordinator already acked.
  AttemptTable u;
  u.Add(Spec("a", 1), LeaseOf("a", 1));
  for (int i = 1; i <= 3; ++i) {
    v1::WorkerMessage p = Progress("a", 1, i);
    ASSERT_TRUE(u.Number(&p));
  }
  u.Ack(AckOf("a", 1, 2));
  v1::Welcome stale;
  *stale.add_resumed_leases()->mutable_lease() = LeaseOf("a", 1);
  res = u.Resume(stale);
  ASSERT_EQ(res.resend.size(), 1u);
  EXPECT_EQ(SeqOfReport(res.resend[0]), 3);
}

}  // namespace
}  // namespace moesweep::worker::agent
