#include "coordinator/store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "coordinator/store_format.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace moesweep::coordinator {
namespace {

using moesweep::testing::ReadFile;
using moesweep::testing::TempDir;

std::unique_ptr<Store> OpenOrDie(const std::string& path) {
  StoreOptions options;
  options.path = path;
  StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  EXPECT_OK(store);
  return store.ok() ? std::move(store).value() : nullptr;
}

// prefix + n, built by appending (GCC 12 warns falsely on "lit" + string).
std::string Name(std::string prefix, int64_t n) {
  prefix += std::to_string(n);
  return prefix;
}

// Appends one report and waits for its callback.
Status Append(Store& store, const std::string& trial, int32_t attempt,
              int64_t seq, const std::string& payload) {
  absl::Notification done;
  Status result;
  store.AppendReport(trial, attempt, seq, payload, [&](Status s) {
    result = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

// "seq:payload,..." for one attempt.
std::string Curve(const Store& store, const std::string& trial,
                  int32_t attempt) {
  StatusOr<std::vector<CurvePoint>> points = store.ReadCurve(trial, attempt);
  if (!points.ok()) return points.status().ToString();
  std::string out;
  for (const CurvePoint& p : *points) {
    out += std::to_string(p.seq) + ":" + p.payload + ",";
  }
  return out;
}

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

TEST(StoreTest, AnotherSchemaVersionIsRefusedAndLeftUnchanged) {
  TempDir dir;
  const std::string path = dir.File("db");
  {
    std::unique_ptr<Store> store = OpenOrDie(path);
    ASSERT_OK(store->CreateTrial("t"));
    ASSERT_OK(Append(*store, "t", 1, 1, "kept"));
  }
  // Rewrite the version as a later build would.
  auto raw_put = [&](uint32_t version) {
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    std::vector<std::string> names;
    ASSERT_TRUE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names)
            .ok());
    for (const std::string& n : names)
      families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), path, families, &handles, &db)
            .ok());
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == format::kMetaFamily) {
        ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[i],
                            std::string(format::kSchemaVersionKey),
                            format::EncodeSchemaVersion(version))
                        .ok());
      }
    }
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
  };
  raw_put(2);
  const std::string current_before = ReadFile(path + "/CURRENT");

  StoreOptions options;
  options.path = path;
  StatusOr<std::unique_ptr<Store>> refused = Store::Open(options);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("schema version 2"),
            std::string_view::npos)
      << refused.status().ToString();
  EXPECT_EQ(ReadFile(path + "/CURRENT"), current_before);

  // Nothing was changed: the version is still 2, and with 1 put back the data
  // is all there.
  {
    std::vector<std::string> names;
    ASSERT_TRUE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names)
            .ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& n : names)
      families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path,
                                             families, &handles, &db)
                    .ok());
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] != format::kMetaFamily) continue;
      std::string value;
      ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), handles[i],
                          std::string(format::kSchemaVersionKey), &value)
                      .ok());
      EXPECT_EQ(value, format::EncodeSchemaVersion(2));
    }
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
  }
  raw_put(1);
  std::unique_ptr<Store> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Curve(*store, "t", 1), "1:kept,");
}

TEST(StoreTest, CorruptDatabaseIsDataLoss) {
  TempDir dir;
  const std::string path = dir.File("db");
  { OpenOrDie(path); }
  dir.Write("db/CURRENT", "garbage-without-newline");
  StoreOptions options;
  options.path = path;
  EXPECT_EQ(Store::Open(options).status().code(), StatusCode::kDataLoss);
}

TEST(StoreTest, ForeignRocksDbIsFailedPrecondition) {
  TempDir dir;
  const std::string path = dir.File("db");
  {
    rocksdb::Options raw;
    raw.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(raw, path, &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
    delete db;
  }
  StoreOptions options;
  options.path = path;
  EXPECT_EQ(Store::Open(options).status().code(),
            StatusCode::kFailedPrecondition);
  std::vector<std::string> names;
  ASSERT_TRUE(
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  EXPECT_EQ(names, std::vector<std::string>{"default"});
}

TEST(StoreTest, UnusableFolderIsFailedPrecondition) {
  TempDir dir;
  StoreOptions options;
  options.path = dir.Write("a_file", "not a folder") + "/db";
  EXPECT_EQ(Store::Open(options).status().code(),
            StatusCode::kFailedPrecondition);
  options.path = dir.File("missing");
  options.create_if_missing = false;
  EXPECT_EQ(Store::Open(options).status().code(),
            StatusCode::kFailedPrecondition);
  options.path = "";
  EXPECT_EQ(Store::Open(options).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace moesweep::coordinator
