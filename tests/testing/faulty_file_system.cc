#include "tests/testing/faulty_file_system.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

namespace moesweep::testing {
namespace {

namespace fs = std::filesystem;
using rocksdb::IOStatus;

std::string FolderOf(const std::string& path) {
  return fs::path(path).lexically_normal().parent_path().string();
}

std::string Normal(const std::string& folder) {
  std::string out = fs::path(folder).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

bool IsWal(const std::string& path) {
  return fs::path(path).extension() == ".log";
}

}  // namespace

// A file opened for writing: every write and sync goes through the
// FileSystem's bookkeeping; reads, flushes and Close go straight through.
class FaultyWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyWritableFile(FaultyFileSystem* fs,
                     std::shared_ptr<FaultyFileSystem::FileState> state,
                     bool is_wal, std::unique_ptr<rocksdb::FSWritableFile> file)
      : FSWritableFileOwnerWrapper(std::move(file)),
        fs_(fs),
        state_(std::move(state)),
        is_wal_(is_wal) {}

  IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                  rocksdb::IODebugContext* dbg) override {
    const uint64_t n = data.size();
    return fs_->Write(
        *state_, [n](uint64_t bytes) { return bytes + n; },
        [&] { return FSWritableFileOwnerWrapper::Append(data, o, dbg); });
  }
  IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                  const rocksdb::DataVerificationInfo& info,
                  rocksdb::IODebugContext* dbg) override {
    const uint64_t n = data.size();
    return fs_->Write(
        *state_, [n](uint64_t bytes) { return bytes + n; },
        [&] { return FSWritableFileOwnerWrapper::Append(data, o, info, dbg); });
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                            const rocksdb::IOOptions& o,
                            rocksdb::IODebugContext* dbg) override {
    const uint64_t end = offset + data.size();
    return fs_->Write(
        *state_, [end](uint64_t bytes) { return std::max(bytes, end); },
        [&] {
          return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, o,
                                                              dbg);
        });
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                            const rocksdb::IOOptions& o,
                            const rocksdb::DataVerificationInfo& info,
                            rocksdb::IODebugContext* dbg) override {
    const uint64_t end = offset + data.size();
    return fs_->Write(
        *state_, [end](uint64_t bytes) { return std::max(bytes, end); },
        [&] {
          return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, o,
                                                              info, dbg);
        });
  }
  IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o,
                    rocksdb::IODebugContext* dbg) override {
    return fs_->Write(
        *state_, [size](uint64_t) { return size; },
        [&] { return FSWritableFileOwnerWrapper::Truncate(size, o, dbg); });
  }
  IOStatus Sync(const rocksdb::IOOptions& o,
                rocksdb::IODebugContext* dbg) override {
    return fs_->Sync(*state_, is_wal_,
                     [&] { return FSWritableFileOwnerWrapper::Sync(o, dbg); });
  }
  IOStatus Fsync(const rocksdb::IOOptions& o,
                 rocksdb::IODebugContext* dbg) override {
    return fs_->Sync(*state_, is_wal_,
                     [&] { return FSWritableFileOwnerWrapper::Fsync(o, dbg); });
  }
  // Starts writeback only; it makes nothing durable, so it is not a sync.
  IOStatus RangeSync(uint64_t, uint64_t, const rocksdb::IOOptions&,
                     rocksdb::IODebugContext*) override {
    return IOStatus::OK();
  }

 private:
  FaultyFileSystem* const fs_;
  const std::shared_ptr<FaultyFileSystem::FileState> state_;
  const bool is_wal_;
};

// A folder: its Fsync makes the names of the files in it durable.
class FaultyDirectory : public rocksdb::FSDirectoryWrapper {
 public:
  FaultyDirectory(FaultyFileSystem* fs, std::string folder,
                  std::unique_ptr<rocksdb::FSDirectory> dir)
      : FSDirectoryWrapper(std::move(dir)),
        fs_(fs),
        folder_(std::move(folder)) {}

  IOStatus Fsync(const rocksdb::IOOptions& o,
                 rocksdb::IODebugContext* dbg) override {
    return fs_->SyncFolder(folder_,
                           [&] { return FSDirectoryWrapper::Fsync(o, dbg); });
  }
  IOStatus FsyncWithDirOptions(
      const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg,
      const rocksdb::DirFsyncOptions& dir_options) override {
    return fs_->SyncFolder(folder_, [&] {
      return FSDirectoryWrapper::FsyncWithDirOptions(o, dbg, dir_options);
    });
  }

 private:
  FaultyFileSystem* const fs_;
  const std::string folder_;
};

FaultyFileSystem::FaultyFileSystem()
    : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

void FaultyFileSystem::CutPower() {
  absl::MutexLock lock(&mu_);
  power_cut_ = true;
}

void FaultyFileSystem::CutPowerAfter(int64_t ops) {
  absl::MutexLock lock(&mu_);
  ops_to_cut_ = std::max<int64_t>(ops, 1);
}

bool FaultyFileSystem::power_cut() const {
  absl::MutexLock lock(&mu_);
  return power_cut_;
}

bool FaultyFileSystem::AwaitCut(int64_t timeout_ms) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&power_cut_),
                              absl::Milliseconds(timeout_ms));
}

StatusOr<FaultyFileSystem::Loss> FaultyFileSystem::RestartAfterCut() {
  absl::MutexLock lock(&mu_);
  if (!power_cut_) {
    return FailedPreconditionError("RestartAfterCut: the power is on");
  }
  Loss loss;
  for (auto it = files_.begin(); it != files_.end();) {
    const std::string& name = it->first;
    FileState& file = *it->second;
    std::error_code ec;
    if (!file.name_synced) {
      if (fs::remove(name, ec)) ++loss.files_removed;
      if (ec)
        return InternalError("cannot remove " + name + ": " + ec.message());
      it = files_.erase(it);
      continue;
    }
    const uintmax_t size = fs::file_size(name, ec);
    if (ec) {  // gone: RocksDB deleted it behind another name's rename
      it = files_.erase(it);
      continue;
    }
    if (size > file.synced_bytes) {
      fs::resize_file(name, file.synced_bytes, ec);
      if (ec) {
        return InternalError("cannot truncate " + name + ": " + ec.message());
      }
      loss.bytes_dropped += static_cast<int64_t>(size - file.synced_bytes);
    }
    file.bytes = file.synced_bytes;
    ++it;
  }
  power_cut_ = false;
  ops_to_cut_ = 0;
  syncs_paused_ = false;
  return loss;
}

void FaultyFileSystem::SetWriteErrors(bool on) {
  absl::MutexLock lock(&mu_);
  write_errors_ = on;
}

int64_t FaultyFileSystem::wal_syncs() const {
  absl::MutexLock lock(&mu_);
  return wal_syncs_;
}

void FaultyFileSystem::PauseSyncs() {
  absl::MutexLock lock(&mu_);
  syncs_paused_ = true;
}

void FaultyFileSystem::ResumeSyncs() {
  absl::MutexLock lock(&mu_);
  syncs_paused_ = false;
}

bool FaultyFileSystem::AwaitSyncHeld(int64_t timeout_ms) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      absl::Condition(this, &FaultyFileSystem::SyncHeld),
      absl::Milliseconds(timeout_ms));
}

IOStatus FaultyFileSystem::Mutate(bool is_write) {
  if (power_cut_) return IOStatus::IOError("power cut");
  if (ops_to_cut_ > 0 && --ops_to_cut_ == 0) {
    power_cut_ = true;
    return IOStatus::IOError("power cut");
  }
  if (is_write && write_errors_) {
    return IOStatus::IOError("injected write error");
  }
  return IOStatus::OK();
}

IOStatus FaultyFileSystem::Write(
    FileState& file, const std::function<uint64_t(uint64_t)>& new_bytes,
    const std::function<IOStatus()>& call) {
  absl::MutexLock lock(&mu_);
  IOStatus s = Mutate(/*is_write=*/true);
  if (!s.ok()) return s;
  s = call();
  if (!s.ok()) return s;
  file.bytes = new_bytes(file.bytes);
  file.synced_bytes = std::min(file.synced_bytes, file.bytes);
  return s;
}

IOStatus FaultyFileSystem::Sync(FileState& file, bool is_wal,
                                const std::function<IOStatus()>& call) {
  uint64_t covered = 0;
  {
    absl::MutexLock lock(&mu_);
    if (is_wal && !SyncMayStart()) {
      ++syncs_held_;
      mu_.Await(absl::Condition(this, &FaultyFileSystem::SyncMayStart));
      --syncs_held_;
    }
    IOStatus s = Mutate(/*is_write=*/true);
    if (!s.ok()) return s;
    covered = file.bytes;
  }
  IOStatus s = call();
  absl::MutexLock lock(&mu_);
  if (!s.ok()) return s;
  // The power failed while the disk was syncing: the sync never returned.
  if (power_cut_) return IOStatus::IOError("power cut");
  file.synced_bytes = std::max(file.synced_bytes, covered);
  if (is_wal) ++wal_syncs_;
  return s;
}

IOStatus FaultyFileSystem::SyncFolder(const std::string& folder,
                                      const std::function<IOStatus()>& call) {
  std::vector<std::shared_ptr<FileState>> named;
  {
    absl::MutexLock lock(&mu_);
    IOStatus s = Mutate(/*is_write=*/false);
    if (!s.ok()) return s;
    for (const auto& [name, file] : files_) {
      if (file->folder == folder && !file->name_synced) named.push_back(file);
    }
  }
  IOStatus s = call();
  absl::MutexLock lock(&mu_);
  if (!s.ok()) return s;
  if (power_cut_) return IOStatus::IOError("power cut");
  for (const std::shared_ptr<FileState>& file : named) file->name_synced = true;
  return s;
}

void FaultyFileSystem::Track(const std::string& name, bool created,
                             std::unique_ptr<rocksdb::FSWritableFile>* file) {
  auto it = files_.find(name);
  std::shared_ptr<FileState> state;
  if (!created && it != files_.end()) {
    state = it->second;
  } else {
    state = std::make_shared<FileState>();
    state->folder = FolderOf(name);
    // Replacing a file keeps its name: durable if the old one's was.
    state->name_synced =
        !created || (it != files_.end() && it->second->name_synced);
    if (!created) {
      std::error_code ec;
      const uintmax_t size = fs::file_size(name, ec);
      state->bytes = state->synced_bytes = ec ? 0 : size;
    }
    files_[name] = state;
  }
  *file = std::make_unique<FaultyWritableFile>(this, state, IsWal(name),
                                               std::move(*file));
}

IOStatus FaultyFileSystem::NewWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* dbg) {
  absl::MutexLock lock(&mu_);
  IOStatus s = Mutate(/*is_write=*/false);
  if (!s.ok()) return s;
  std::error_code ec;
  const bool existed = fs::exists(name, ec);
  s = target()->NewWritableFile(name, options, r, dbg);
  if (!s.ok()) return s;
  if (existed && !files_.contains(name)) {
    Track(name, /*created=*/false, r);  // an untracked file: durable name
    files_[name]->bytes = files_[name]->synced_bytes = 0;
  } else {
    Track(name, /*created=*/true, r);
  }
  return s;
}

IOStatus FaultyFileSystem::ReopenWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* dbg) {
  absl::MutexLock lock(&mu_);
  IOStatus s = Mutate(/*is_write=*/false);
  if (!s.ok()) return s;
  std::error_code ec;
  const bool existed = fs::exists(name, ec);
  s = target()->ReopenWritableFile(name, options, r, dbg);
  if (!s.ok()) return s;
  Track(name, /*created=*/!existed, r);
  return s;
}

IOStatus FaultyFileSystem::ReuseWritableFile(
    const std::string&, const std::string&, const rocksdb::FileOptions&,
    std::unique_ptr<rocksdb::FSWritableFile>*, rocksdb::IODebugContext*) {
  // Only for recycled logs (DBOptions::recycle_log_file_num, off).
  return IOStatus::NotSupported("FaultyFileSystem: no log recycling");
}

IOStatus FaultyFileSystem::NewDirectory(
    const std::string& name, const rocksdb::IOOptions& options,
    std::unique_ptr<rocksdb::FSDirectory>* r, rocksdb::IODebugContext* dbg) {
  IOStatus s = target()->NewDirectory(name, options, r, dbg);
  if (!s.ok()) return s;
  *r = std::make_unique<FaultyDirectory>(this, Normal(name), std::move(*r));
  return s;
}

IOStatus FaultyFileSystem::DeleteFile(const std::string& name,
                                      const rocksdb::IOOptions& options,
                                      rocksdb::IODebugContext* dbg) {
  absl::MutexLock lock(&mu_);
  IOStatus s = Mutate(/*is_write=*/false);
  if (!s.ok()) return s;
  s = target()->DeleteFile(name, options, dbg);
  if (s.ok()) files_.erase(name);
  return s;
}

IOStatus FaultyFileSystem::RenameFile(const std::string& from,
                                      const std::string& to,
                                      const rocksdb::IOOptions& options,
                                      rocksdb::IODebugContext* dbg) {
  absl::MutexLock lock(&mu_);
  IOStatus s = Mutate(/*is_write=*/false);
  if (!s.ok()) return s;
  s = target()->RenameFile(from, to, options, dbg);
  if (!s.ok()) return s;
  std::shared_ptr<FileState> state;
  if (auto it = files_.find(from); it != files_.end()) {
    state = it->second;
    files_.erase(it);
  } else {
    state = std::make_shared<FileState>();
    std::error_code ec;
    const uintmax_t size = fs::file_size(to, ec);
    state->bytes = state->synced_bytes = ec ? 0 : size;
  }
  state->folder = FolderOf(to);
  state->name_synced = false;
  files_[to] = std::move(state);
  return s;
}

IOStatus FaultyFileSystem::LinkFile(const std::string& from,
                                    const std::string& to,
                                    const rocksdb::IOOptions& options,
                                    rocksdb::IODebugContext* dbg) {
  absl::MutexLock lock(&mu_);
  IOStatus s = Mutate(/*is_write=*/false);
  if (!s.ok()) return s;
  s = target()->LinkFile(from, to, options, dbg);
  if (!s.ok()) return s;
  auto state = std::make_shared<FileState>();
  state->folder = FolderOf(to);
  auto it = files_.find(from);
  std::error_code ec;
  const uintmax_t size = fs::file_size(to, ec);
  state->bytes = ec ? 0 : size;
  state->synced_bytes =
      it != files_.end() ? it->second->synced_bytes : state->bytes;
  files_[to] = std::move(state);
  return s;
}

IOStatus FaultyFileSystem::Truncate(const std::string& name, size_t size,
                                    const rocksdb::IOOptions& options,
                                    rocksdb::IODebugContext* dbg) {
  absl::MutexLock lock(&mu_);
  IOStatus s = Mutate(/*is_write=*/false);
  if (!s.ok()) return s;
  s = target()->Truncate(name, size, options, dbg);
  if (!s.ok()) return s;
  if (auto it = files_.find(name); it != files_.end()) {
    it->second->bytes = size;
    it->second->synced_bytes =
        std::min<uint64_t>(it->second->synced_bytes, size);
  }
  return s;
}

FaultyEnv::FaultyEnv()
    : fs_(std::make_shared<FaultyFileSystem>()),
      env_(rocksdb::NewCompositeEnv(fs_)) {}

}  // namespace moesweep::testing
