// A RocksDB FileSystem over the real one that can cut the power and fail
// writes on demand (STYLE.md H17: the fake wraps the real thing, as
// LevelDB's ErrorEnv does). Shared by the store's tests and bench/.
//
// The model of a power cut: a byte written to a file survives only once a
// Sync or Fsync of that file returned after it was written, and a file (or a
// new name given by a rename) survives only once a Fsync of its folder
// returned after it was created. RestartAfterCut() makes the folder look so:
// it truncates each file to the bytes synced and removes each file whose
// folder was not synced since it was created. Deletions and truncations are
// taken as durable at once (no old data comes back), and a file RocksDB
// opened before this FileSystem saw it is taken as durable whole.

#ifndef MOESWEEP_TESTS_TESTING_FAULTY_FILE_SYSTEM_H_
#define MOESWEEP_TESTS_TESTING_FAULTY_FILE_SYSTEM_H_

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"

namespace moesweep::testing {

// Thread-safe.
class FaultyFileSystem : public rocksdb::FileSystemWrapper {
 public:
  // Per file: what was written and what a power cut keeps.
  struct FileState {
    std::string folder;
    uint64_t bytes = 0;         // written so far
    uint64_t synced_bytes = 0;  // covered by a returned Sync/Fsync
    bool name_synced = false;   // its folder was synced since it was named
  };

  // Over rocksdb::FileSystem::Default().
  FaultyFileSystem();
  const char* Name() const override { return "FaultyFileSystem"; }

  // Cuts the power now: every later write, sync, create, rename, delete and
  // folder sync fails with an IOError (reads still work, as the process is
  // still running until the test closes the DB). Idempotent.
  void CutPower();
  // Cuts the power at the `ops`-th write, sync, create, rename or delete
  // from now (1: the next one), which fails. REQUIRES: ops >= 1.
  void CutPowerAfter(int64_t ops);
  bool power_cut() const;
  // Waits until the power is cut. False if it was not within `timeout_ms`.
  bool AwaitCut(int64_t timeout_ms) const;

  struct Loss {
    int64_t bytes_dropped = 0;  // unsynced bytes cut off files that remain
    int files_removed = 0;      // created or renamed, folder never synced
  };
  // Makes the files what a machine finds after the cut (see the top of this
  // file), then turns the power back on. REQUIRES: the power is cut and
  // every DB on this FileSystem is closed. INTERNAL if a file cannot be
  // truncated or removed.
  StatusOr<Loss> RestartAfterCut();

  // While on, every Append, Sync and Fsync fails with an IOError ("injected
  // write error"), as on a failing or full disk; nothing is written.
  void SetWriteErrors(bool on);

  // Sync and Fsync calls that returned OK on write-ahead log files (*.log).
  int64_t wal_syncs() const;
  // While paused, a Sync or Fsync of a write-ahead log waits (before it
  // syncs) until ResumeSyncs() or a power cut, so work can queue behind it.
  void PauseSyncs();
  void ResumeSyncs();
  // Waits until a write-ahead log sync is held by PauseSyncs, so the thread
  // that writes is known to be inside a synced write. False if none was
  // within `timeout_ms`.
  bool AwaitSyncHeld(int64_t timeout_ms) const;

  // rocksdb::FileSystem: every call that changes files goes through here.
  rocksdb::IOStatus NewWritableFile(const std::string& name,
                                    const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(
      const std::string& name, const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* r,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(
      const std::string& name, const std::string& old_name,
      const rocksdb::FileOptions& options,
      std::unique_ptr<rocksdb::FSWritableFile>* r,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name,
                                 const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* r,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& name,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& from, const std::string& to,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& name, size_t size,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;

 private:
  friend class FaultyWritableFile;
  friend class FaultyDirectory;

  // OK, or the IOError a call that changes files gets now; counts the call
  // toward CutPowerAfter.
  // `is_write`: an Append or Sync, which SetWriteErrors fails too.
  rocksdb::IOStatus Mutate(bool is_write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool SyncMayStart() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !syncs_paused_ || power_cut_;
  }
  bool SyncHeld() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return syncs_held_ > 0;
  }
  // For FaultyWritableFile and FaultyDirectory: `call` is the real one.
  // Append: the file then holds `new_bytes` (an offset, for a positioned
  // append, may leave it as long as it was).
  rocksdb::IOStatus Write(FileState& file,
                          const std::function<uint64_t(uint64_t)>& new_bytes,
                          const std::function<rocksdb::IOStatus()>& call);
  rocksdb::IOStatus Sync(FileState& file, bool is_wal,
                         const std::function<rocksdb::IOStatus()>& call);
  rocksdb::IOStatus SyncFolder(const std::string& folder,
                               const std::function<rocksdb::IOStatus()>& call);
  // Wraps a file RocksDB opened for writing, tracked under `name`.
  void Track(const std::string& name, bool created,
             std::unique_ptr<rocksdb::FSWritableFile>* file)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  // By path. A file's state is shared with its open handles, so a rename
  // carries it to the new name.
  std::map<std::string, std::shared_ptr<FileState>> files_ ABSL_GUARDED_BY(mu_);
  bool power_cut_ ABSL_GUARDED_BY(mu_) = false;
  int64_t ops_to_cut_ ABSL_GUARDED_BY(mu_) = 0;  // 0: no cut armed
  bool write_errors_ ABSL_GUARDED_BY(mu_) = false;
  bool syncs_paused_ ABSL_GUARDED_BY(mu_) = false;
  int syncs_held_ ABSL_GUARDED_BY(mu_) = 0;  // waiting in Sync()
  int64_t wal_syncs_ ABSL_GUARDED_BY(mu_) = 0;
};

// A RocksDB Env whose files go through a FaultyFileSystem; pass env() as
// StoreOptions::env. Thread-safe.
class FaultyEnv {
 public:
  FaultyEnv();
  FaultyFileSystem& fs() { return *fs_; }
  rocksdb::Env* env() { return env_.get(); }

 private:
  std::shared_ptr<FaultyFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
};

}  // namespace moesweep::testing

#endif  // MOESWEEP_TESTS_TESTING_FAULTY_FILE_SYSTEM_H_
