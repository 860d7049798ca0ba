// Opening a folder: the schema version check and the refusals, each leaving
// the folder as it was.

#include "coordinator/store_schema.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/store.h"
#include "coordinator/store_format.h"
#include "tests/coordinator/store_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace moesweep::coordinator {
namespace {

using moesweep::testing::ReadFile;
using moesweep::testing::TempDir;

TEST(StoreSchemaTest, AnotherSchemaVersionIsRefusedAndLeftUnchanged) {
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

TEST(StoreSchemaTest, CorruptDatabaseIsDataLoss) {
  TempDir dir;
  const std::string path = dir.File("db");
  { OpenOrDie(path); }
  dir.Write("db/CURRENT", "garbage-without-newline");
  StoreOptions options;
  options.path = path;
  EXPECT_EQ(Store::Open(options).status().code(), StatusCode::kDataLoss);
}

TEST(StoreSchemaTest, ForeignRocksDbIsFailedPrecondition) {
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

TEST(StoreSchemaTest, UnusableFolderIsFailedPrecondition) {
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
  options.path = dir.File("db");
  options.create_if_missing = true;
  options.max_batch_reports = 0;
  EXPECT_EQ(Store::Open(options).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir.File("db")));
}

// A folder with every family of the schema and `trial` in `trials` if given,
// but no schema version, as a crash during the first Open leaves it.
void MakeUnversioned(const std::string& path, const std::string& trial) {
  rocksdb::DBOptions raw;
  raw.create_if_missing = true;
  raw.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(
      rocksdb::DB::Open(raw, path, ColumnFamilyDescriptors(), &handles, &db)
          .ok());
  if (!trial.empty()) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[kTrials], trial,
                        format::EncodeTrialRecord({1}))
                    .ok());
  }
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  delete db;
}

TEST(StoreSchemaTest, InterruptedCreationIsFinished) {
  TempDir dir;
  const std::string path = dir.File("db");
  MakeUnversioned(path, "");
  {
    std::unique_ptr<Store> store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->CreateTrial("t"));
    EXPECT_OK(Append(*store, "t", 1, 1, "a"));
  }
  StatusOr<SchemaState> state = CheckStoreSchema(path);
  ASSERT_OK(state);
  EXPECT_EQ(*state, SchemaState::kCurrent);
}

TEST(StoreSchemaTest, UnversionedStoreWithDataIsFailedPrecondition) {
  TempDir dir;
  const std::string path = dir.File("db");
  MakeUnversioned(path, "t");
  StoreOptions options;
  options.path = path;
  StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckStoreSchema(path).status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace moesweep::coordinator
