// Which RocksDB folders the store opens: the column families of the schema
// (store_format.cc) and the schema version check, done through a read-only
// open so that a refused folder is left as it was.

#include "coordinator/store_schema.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/store_format.h"

namespace moesweep::coordinator {

namespace fmt = format;

Status FromRocksStatus(const rocksdb::Status& s, const std::string& path) {
  if (s.ok()) return OkStatus();
  std::string message = "store at " + path + ": " + s.ToString();
  if (s.IsCorruption()) return DataLossError(message);
  return FailedPreconditionError(message);
}

namespace {

const std::vector<std::string_view>& FamilyNames() {
  static const std::vector<std::string_view> names = {
      rocksdb::kDefaultColumnFamilyName,
      fmt::kMetaFamily,
      fmt::kCampaignsFamily,
      fmt::kTrialsFamily,
      fmt::kCurvesFamily,
      fmt::kLawsFamily,
      fmt::kEventsFamily};
  return names;
}

}  // namespace

std::vector<rocksdb::ColumnFamilyDescriptor> ColumnFamilyDescriptors() {
  std::vector<rocksdb::ColumnFamilyDescriptor> out;
  for (std::string_view name : FamilyNames()) {
    out.emplace_back(std::string(name), rocksdb::ColumnFamilyOptions());
  }
  return out;
}

StatusOr<SchemaState> CheckStoreSchema(const std::string& path,
                                       rocksdb::Env* env) {
  rocksdb::DBOptions options;
  if (env != nullptr) options.env = env;
  std::vector<std::string> present;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, path, &present);
  MOESWEEP_RETURN_IF_ERROR(FromRocksStatus(s, path));
  for (std::string_view name : FamilyNames()) {
    if (std::find(present.begin(), present.end(), name) == present.end()) {
      return FailedPreconditionError("store at " + path +
                                     ": not a moesweep store (no column "
                                     "family '" +
                                     std::string(name) + "')");
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : present) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(options, path, descriptors, &handles, &raw);
  MOESWEEP_RETURN_IF_ERROR(FromRocksStatus(s, path));
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  for (size_t i = 0; i < present.size(); ++i) {
    if (present[i] == fmt::kMetaFamily) meta = handles[i];
  }
  std::string value;
  s = db->Get(rocksdb::ReadOptions(), meta, std::string(fmt::kSchemaVersionKey),
              &value);
  Status result;
  SchemaState state = SchemaState::kCurrent;
  if (s.IsNotFound()) {
    // Open creates the families, then writes the version: a crash between
    // the two leaves every family empty, and that store may be finished.
    bool empty = true;
    for (rocksdb::ColumnFamilyHandle* h : handles) {
      std::unique_ptr<rocksdb::Iterator> it(
          db->NewIterator(rocksdb::ReadOptions(), h));
      it->SeekToFirst();
      if (it->Valid() || !it->status().ok()) empty = false;
    }
    if (empty) {
      state = SchemaState::kUnversionedEmpty;
    } else {
      result = FailedPreconditionError("store at " + path +
                                       ": no schema version in 'meta'");
    }
  } else if (!s.ok()) {
    result = FromRocksStatus(s, path);
  } else {
    StatusOr<uint32_t> version = fmt::DecodeSchemaVersion(value);
    if (!version.ok()) {
      result = version.status();
    } else if (*version != fmt::kSchemaVersion) {
      result = FailedPreconditionError(
          "store at " + path + ": schema version " + std::to_string(*version) +
          ", this build reads version " + std::to_string(fmt::kSchemaVersion));
    }
  }
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    (void)db->DestroyColumnFamilyHandle(h);
  }
  if (!result.ok()) return result;
  return state;
}

}  // namespace moesweep::coordinator
