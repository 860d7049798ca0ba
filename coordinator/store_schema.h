// The store's column families and schema check. Internal to coordinator/.

#ifndef MOESWEEP_COORDINATOR_STORE_SCHEMA_H_
#define MOESWEEP_COORDINATOR_STORE_SCHEMA_H_

#include <rocksdb/db.h>
#include <rocksdb/status.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace moesweep::coordinator {

// Index of each family in ColumnFamilyDescriptors() and so in the handle
// vector RocksDB fills from it.
enum Family {
  kDefault = 0,
  kMeta,
  kCampaigns,
  kTrials,
  kCurves,
  kLaws,
  kEvents
};

// Every column family of the schema, in Family order.
std::vector<rocksdb::ColumnFamilyDescriptor> ColumnFamilyDescriptors();

// OK for an OK status; DATA_LOSS for corruption; FAILED_PRECONDITION for
// anything else (the folder cannot be used as it is). The message names
// `path`.
Status FromRocksStatus(const rocksdb::Status& s, const std::string& path);

enum class SchemaState {
  kCurrent,           // this build's schema version
  kUnversionedEmpty,  // every family empty, no version: creation interrupted
};

// Checks an existing RocksDB at `path` without writing to it: its state when
// it is a store of this build's schema version, or an empty one whose
// creation stopped before the version was written (Open writes it).
// FAILED_PRECONDITION when a column family is missing (another program's
// RocksDB), the schema version is missing from a non-empty store, or it is
// another version (the message names both); DATA_LOSS for corruption or an
// undecodable version. Files are read through `env`; null: the default.
StatusOr<SchemaState> CheckStoreSchema(const std::string& path,
                                       rocksdb::Env* env = nullptr);

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_STORE_SCHEMA_H_
