#include "coordinator/store.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "tests/coordinator/store_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace moesweep::coordinator {
namespace {

using moesweep::testing::TempDir;

TEST(StoreTest, AppendsAndReadsACurve) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.File("db"));
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->CreateTrial("t1"));
  ASSERT_OK(store->CreateTrial("t10"));
  EXPECT_OK(Append(*store, "t1", 1, 1, "a"));
  EXPECT_OK(Append(*store, "t10", 1, 1, "z"));
  EXPECT_OK(Append(*store, "t1", 1, 2, "b"));
  EXPECT_EQ(Curve(*store, "t1", 1), "1:a,2:b,");
  EXPECT_EQ(Curve(*store, "t10", 1), "1:z,");
  StatusOr<int64_t> durable = store->DurableSeq("t1", 1);
  ASSERT_OK(durable);
  EXPECT_EQ(*durable, 2);
  EXPECT_EQ(store->stats().reports_stored, 3);
}

TEST(StoreTest, CreateTrialTwiceIsAlreadyExists) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.File("db"));
  ASSERT_OK(store->CreateTrial("t"));
  EXPECT_EQ(store->CreateTrial("t").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store->CreateTrial(std::string("a\0b", 3)).code(),
            StatusCode::kInvalidArgument);
}

TEST(StoreTest, ResendIsAcknowledgedAndStoredOnce) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.File("db"));
  ASSERT_OK(store->CreateTrial("t"));
  EXPECT_OK(Append(*store, "t", 1, 1, "first"));
  EXPECT_OK(Append(*store, "t", 1, 2, "second"));
  EXPECT_OK(Append(*store, "t", 1, 1, "resent"));
  EXPECT_OK(Append(*store, "t", 1, 2, "resent"));
  EXPECT_EQ(Curve(*store, "t", 1), "1:first,2:second,");
  StoreStats stats = store->stats();
  EXPECT_EQ(stats.reports_stored, 2);
  EXPECT_EQ(stats.resends_acked, 2);
}

TEST(StoreTest, SeqThatSkipsAheadIsInvalidArgument) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.File("db"));
  ASSERT_OK(store->CreateTrial("t"));
  EXPECT_EQ(Append(*store, "t", 1, 2, "x").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Append(*store, "t", 1, 0, "x").code(),
            StatusCode::kInvalidArgument);
  EXPECT_OK(Append(*store, "t", 1, 1, "a"));
  EXPECT_EQ(Append(*store, "t", 1, 3, "x").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Curve(*store, "t", 1), "1:a,");
}

TEST(StoreTest, UnknownTrialIsNotFound) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.File("db"));
  EXPECT_EQ(Append(*store, "nope", 1, 1, "x").code(), StatusCode::kNotFound);
  EXPECT_EQ(store->BumpAttempt("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->ReadCurve("nope", 1).status().code(), StatusCode::kNotFound);
}

TEST(StoreTest, OldAttemptIsFencedWithAborted) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.File("db"));
  ASSERT_OK(store->CreateTrial("t"));
  EXPECT_OK(Append(*store, "t", 1, 1, "a1"));
  StatusOr<int32_t> next = store->BumpAttempt("t");
  ASSERT_OK(next);
  EXPECT_EQ(*next, 2);
  EXPECT_EQ(Append(*store, "t", 1, 2, "late").code(), StatusCode::kAborted);
  EXPECT_EQ(Append(*store, "t", 1, 1, "resend").code(), StatusCode::kAborted);
  EXPECT_EQ(Append(*store, "t", 3, 1, "future").code(), StatusCode::kAborted);
  EXPECT_OK(Append(*store, "t", 2, 1, "b1"));
  EXPECT_EQ(Curve(*store, "t", 1), "1:a1,");
  EXPECT_EQ(Curve(*store, "t", 2), "1:b1,");
  StatusOr<int64_t> old_durable = store->DurableSeq("t", 1);
  ASSERT_OK(old_durable);
  EXPECT_EQ(*old_durable, 1);
  EXPECT_EQ(store->stats().stale_refused, 3);
}

TEST(StoreTest, ConcurrentProducersShareSyncs) {
  TempDir dir;
  std::unique_ptr<Store> store = OpenOrDie(dir.File("db"));
  constexpr int kThreads = 16;
  constexpr int kReports = 50;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_OK(store->CreateTrial(Name("t", t)));
  }
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int s = 1; s <= kReports; ++s) {
        Status st = Append(*store, Name("t", t), 1, s, std::to_string(s));
        if (!st.ok()) ++failures[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], 0);
    StatusOr<std::vector<CurvePoint>> points =
        store->ReadCurve(Name("t", t), 1);
    ASSERT_OK(points);
    ASSERT_EQ(points->size(), static_cast<size_t>(kReports));
    for (int s = 1; s <= kReports; ++s) {
      EXPECT_EQ((*points)[s - 1].seq, s);
      EXPECT_EQ((*points)[s - 1].payload, std::to_string(s));
    }
  }
  StoreStats stats = store->stats();
  EXPECT_EQ(stats.reports_stored, kThreads * kReports);
  EXPECT_LE(stats.synced_batches, stats.reports_stored);
}

TEST(StoreTest, ReopenSeesEveryAcknowledgedReport) {
  TempDir dir;
  constexpr int kTrials = 5;
  constexpr int kReports = 40;
  {
    std::unique_ptr<Store> store = OpenOrDie(dir.File("db"));
    for (int t = 0; t < kTrials; ++t) {
      std::string id = Name("trial-", t);
      ASSERT_OK(store->CreateTrial(id));
      if (t % 2 == 1) {
        ASSERT_OK(store->BumpAttempt(id).status());
      }
      int32_t attempt = t % 2 == 1 ? 2 : 1;
      for (int s = 1; s <= kReports; ++s) {
        ASSERT_OK(Append(*store, id, attempt, s, Name(id + "/", s)));
      }
    }
  }
  std::unique_ptr<Store> store = OpenOrDie(dir.File("db"));
  ASSERT_NE(store, nullptr);
  for (int t = 0; t < kTrials; ++t) {
    std::string id = Name("trial-", t);
    int32_t attempt = t % 2 == 1 ? 2 : 1;
    StatusOr<int32_t> current = store->CurrentAttempt(id);
    ASSERT_OK(current);
    EXPECT_EQ(*current, attempt);
    StatusOr<std::vector<CurvePoint>> points = store->ReadCurve(id, attempt);
    ASSERT_OK(points);
    ASSERT_EQ(points->size(), static_cast<size_t>(kReports));
    for (int s = 1; s <= kReports; ++s) {
      EXPECT_EQ((*points)[s - 1].seq, s);
      EXPECT_EQ((*points)[s - 1].payload, Name(id + "/", s));
    }
    // The seq rules carry over: a resend is not stored, the next seq is.
    EXPECT_OK(Append(*store, id, attempt, kReports, "resent"));
    EXPECT_EQ(Append(*store, id, attempt, kReports + 2, "gap").code(),
              StatusCode::kInvalidArgument);
    EXPECT_OK(Append(*store, id, attempt, kReports + 1, "next"));
    if (attempt == 2) {
      EXPECT_EQ(Append(*store, id, 1, 1, "old").code(), StatusCode::kAborted);
    }
  }
  EXPECT_EQ(store->stats().reports_stored, kTrials);
}

// Reports race a BumpAttempt: those handed over before it are stored and
// acknowledged, those after are refused, so the results split once, from OK
// to ABORTED, and the stored curve is exactly the acknowledged prefix.
TEST(StoreTest, BumpDuringAStreamSplitsAckedFromFenced) {
  TempDir dir;
  constexpr int kReports = 20000;
  std::vector<StatusCode> codes(kReports + 1, StatusCode::kUnknown);
  {
    std::unique_ptr<Store> store = OpenOrDie(dir.File("db"));
    ASSERT_OK(store->CreateTrial("t"));
    absl::Notification first_handed_over;
    std::thread producer([&] {
      for (int seq = 1; seq <= kReports; ++seq) {
        store->AppendReport("t", 1, seq, Name("p", seq), [&, seq](Status st) {
          codes[seq] = st.code();  // the writer thread is the only writer
        });
        if (seq == 200) first_handed_over.Notify();
      }
    });
    first_handed_over.WaitForNotification();
    StatusOr<int32_t> next = store->BumpAttempt("t");
    producer.join();
    ASSERT_OK(next);
  }  // the destructor waits for every callback
  int acked = 0;
  while (acked < kReports && codes[acked + 1] == StatusCode::kOk) ++acked;
  EXPECT_GE(acked, 200);
  for (int seq = acked + 1; seq <= kReports; ++seq) {
    ASSERT_EQ(codes[seq], StatusCode::kAborted) << seq;
  }
  std::unique_ptr<Store> store = OpenOrDie(dir.File("db"));
  StatusOr<std::vector<CurvePoint>> points = store->ReadCurve("t", 1);
  ASSERT_OK(points);
  ASSERT_EQ(points->size(), static_cast<size_t>(acked));
  for (int seq = 1; seq <= acked; ++seq) {
    EXPECT_EQ((*points)[seq - 1].payload, Name("p", seq));
  }
  StatusOr<int32_t> current = store->CurrentAttempt("t");
  ASSERT_OK(current);
  EXPECT_EQ(*current, 2);
}

}  // namespace
}  // namespace moesweep::coordinator
