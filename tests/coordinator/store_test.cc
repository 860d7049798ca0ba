#include "coordinator/store.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "tests/coordinator/store_test_util.h"
#include "tests/testing/faulty_file_system.h"
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

// Group commit: reports handed over while a sync runs share the next one.
// The first WAL sync is held (FaultyFileSystem::PauseSyncs) until 16
// producers have handed over all their reports, so at most one batch is
// written before the hold and one after: 2 syncs for 800 reports, where a
// store that synced each report would make 800 (max_batch_reports = 1 does).
TEST(StoreTest, ConcurrentProducersShareSyncs) {
  TempDir dir;
  testing::FaultyEnv env;
  StoreOptions options;
  options.path = dir.File("db");
  options.env = env.env();
  StatusOr<std::unique_ptr<Store>> opened = Store::Open(options);
  ASSERT_OK(opened);
  Store& store = **opened;
  constexpr int kThreads = 16;
  constexpr int kReports = 50;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_OK(store.CreateTrial(Name("t", t)));
  }
  const int64_t syncs_before = env.fs().wal_syncs();
  env.fs().PauseSyncs();
  absl::Mutex mu;
  int acked = 0;
  int failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int s = 1; s <= kReports; ++s) {
        store.AppendReport(Name("t", t), 1, s, std::to_string(s),
                           [&](Status st) {
                             absl::MutexLock lock(&mu);
                             ++acked;
                             if (!st.ok()) ++failures;
                           });
      }
    });
  }
  for (std::thread& th : threads) th.join();
  env.fs().ResumeSyncs();
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == kThreads * kReports; }, &acked));
    EXPECT_EQ(failures, 0);
  }
  for (int t = 0; t < kThreads; ++t) {
    StatusOr<std::vector<CurvePoint>> points = store.ReadCurve(Name("t", t), 1);
    ASSERT_OK(points);
    ASSERT_EQ(points->size(), static_cast<size_t>(kReports));
    for (int s = 1; s <= kReports; ++s) {
      EXPECT_EQ((*points)[s - 1].seq, s);
      EXPECT_EQ((*points)[s - 1].payload, std::to_string(s));
    }
  }
  const int64_t syncs = env.fs().wal_syncs() - syncs_before;
  StoreStats stats = store.stats();
  EXPECT_EQ(stats.reports_stored, kThreads * kReports);
  EXPECT_EQ(stats.synced_batches, syncs);
  EXPECT_GE(syncs, 1);
  EXPECT_LE(syncs, 2);
}

// A failed synced write refuses its batch, breaks the store for every later
// write, says so once through on_failure, and loses nothing acknowledged.
TEST(StoreTest, FailedSyncRefusesTheBatchAndBreaksTheStore) {
  TempDir dir;
  testing::FaultyEnv env;
  StoreOptions options;
  options.path = dir.File("db");
  options.env = env.env();
  int failures_told = 0;
  Status told;
  options.on_failure = [&](const Status& s) {
    ++failures_told;
    told = s;
  };
  {
    StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    ASSERT_OK(store);
    ASSERT_OK((*store)->CreateTrial("t"));
    for (int s = 1; s <= 5; ++s) {
      ASSERT_OK(Append(**store, "t", 1, s, Name("p", s)));
    }
    EXPECT_OK((*store)->health());
    env.fs().SetWriteErrors(true);
    EXPECT_EQ(Append(**store, "t", 1, 6, "p6").code(),
              StatusCode::kUnavailable);
    EXPECT_EQ((*store)->health().code(), StatusCode::kUnavailable);
    EXPECT_EQ(failures_told, 1);
    EXPECT_EQ(told.code(), StatusCode::kUnavailable);
    // Broken for good, though the disk works again: reopen to go on.
    env.fs().SetWriteErrors(false);
    EXPECT_EQ(Append(**store, "t", 1, 6, "p6").code(),
              StatusCode::kUnavailable);
    EXPECT_EQ(Append(**store, "t", 1, 5, "p5").code(),
              StatusCode::kUnavailable);
    EXPECT_EQ((*store)->CreateTrial("u").code(), StatusCode::kUnavailable);
    EXPECT_EQ((*store)->BumpAttempt("t").status().code(),
              StatusCode::kUnavailable);
    EXPECT_EQ((*store)
                  ->WriteRecords({Record{RecordFamily::kEvents, "k", "v"}})
                  .code(),
              StatusCode::kUnavailable);
    EXPECT_EQ(failures_told, 1);
  }
  std::unique_ptr<Store> reopened = OpenOrDie(options.path);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(Curve(*reopened, "t", 1), "1:p1,2:p2,3:p3,4:p4,5:p5,");
  EXPECT_OK(Append(*reopened, "t", 1, 6, "p6"));
}

// A failed record write (a scheduler Flush) breaks the store as well.
TEST(StoreTest, FailedRecordWriteBreaksTheStore) {
  TempDir dir;
  testing::FaultyEnv env;
  StoreOptions options;
  options.path = dir.File("db");
  options.env = env.env();
  int failures_told = 0;
  options.on_failure = [&](const Status&) { ++failures_told; };
  StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  ASSERT_OK(store);
  ASSERT_OK((*store)->CreateTrial("t"));
  env.fs().SetWriteErrors(true);
  EXPECT_EQ(
      (*store)
          ->WriteRecords({Record{RecordFamily::kCampaigns, "c", "v"}}, {"u"})
          .code(),
      StatusCode::kUnavailable);
  env.fs().SetWriteErrors(false);
  EXPECT_EQ(failures_told, 1);
  EXPECT_EQ((*store)->health().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Append(**store, "t", 1, 1, "a").code(), StatusCode::kUnavailable);
  // The trial of the refused batch was never registered.
  EXPECT_EQ((*store)->CurrentAttempt("u").status().code(),
            StatusCode::kNotFound);
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
