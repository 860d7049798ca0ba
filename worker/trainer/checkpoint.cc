// Trainer checkpoints: the whole training state, so that a run resumed from
// one reports what the run that wrote it would have, bit for bit (and a
// cooldown branch can start from a stable run; issue 18).
//
// Format, little-endian: the 16-byte magic; a header of int64 fields
// (kHeaderFields: step, parameter count, batch, then the model's shape and
// the seed); the data loader's random-state text with its length; the
// parameters and both AdamW moments as float32; a CRC-32 of all before it.

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "worker/data/batch_loader.h"
#include "worker/trainer/replicas.h"
#include "worker/worker.h"

namespace moesweep::worker {
namespace {

constexpr char kMagic[17] = "moesweep-ckpt-1\n";
constexpr size_t kMagicBytes = 16;
constexpr size_t kMaxRngBytes = 1 << 16;  // mt19937_64's text is about 6 KB
constexpr size_t kMaxCheckpointBytes = size_t(64) << 30;

// What must match for a checkpoint to continue this trainer's run; the
// step comes first and is not compared. Steps and the schedule may differ.
std::vector<std::pair<const char*, int64_t>> Header(const TrainOptions& o,
                                                    int64_t step,
                                                    int64_t num_params) {
  const ModelConfig& m = o.model;
  return {{"step", step},
          {"parameters", num_params},
          {"batch_size", o.batch_size},
          {"model.vocab_size", m.vocab_size},
          {"model.d_model", m.d_model},
          {"model.n_layers", m.n_layers},
          {"model.n_heads", m.n_heads},
          {"model.seq_len", m.seq_len},
          {"model.n_experts", m.n_experts},
          {"model.top_k", m.top_k},
          {"model.ffn_hidden", m.ffn_hidden},
          {"model.granularity", m.granularity},
          {"model.n_shared_experts", m.n_shared_experts},
          {"model.tied_embeddings", m.tied_embeddings ? 1 : 0},
          {"seed", static_cast<int64_t>(o.seed)}};
}

class CrcWriter {
 public:
  explicit CrcWriter(std::ofstream* out) : out_(out) {}
  void Write(const void* data, size_t n) {
    out_->write(static_cast<const char*>(data), std::streamsize(n));
    crc_ = crc32_z(crc_, static_cast<const Bytef*>(data), n);
  }
  uLong crc() const { return crc_; }

 private:
  std::ofstream* out_;
  uLong crc_ = crc32_z(0, nullptr, 0);
};

Status SyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return InternalError(path + ": open for fsync failed");
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? OkStatus() : InternalError(path + ": fsync failed");
}

}  // namespace

Status Trainer::SaveCheckpoint(const std::string& path) const {
  namespace fs = std::filesystem;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return InvalidArgumentError(tmp + ": cannot create");
    CrcWriter w(&out);
    w.Write(kMagic, kMagicBytes);
    for (const auto& [name, value] :
         Header(options_, step_, int64_t(model_->num_params()))) {
      w.Write(&value, sizeof value);
    }
    const std::string rng = loader_->State();
    const int64_t rng_bytes = int64_t(rng.size());
    w.Write(&rng_bytes, sizeof rng_bytes);
    w.Write(rng.data(), rng.size());
    const std::vector<float> state = model_->SaveState();
    w.Write(state.data(), sizeof(float) * state.size());
    const uint32_t crc = uint32_t(w.crc());
    out.write(reinterpret_cast<const char*>(&crc), sizeof crc);
    out.flush();
    if (!out) return InternalError(tmp + ": write failed");
  }
  MOESWEEP_RETURN_IF_ERROR(SyncPath(tmp, O_RDONLY));
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return InternalError(path + ": rename failed: " + ec.message());
  const fs::path dir = fs::path(path).parent_path();
  return SyncPath(dir.empty() ? "." : dir.string(), O_RDONLY | O_DIRECTORY);
}

Status Trainer::RestoreCheckpoint(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return NotFoundError(path + ": " + ec.message());
  const std::vector<std::pair<const char*, int64_t>> mine =
      Header(options_, step_, int64_t(model_->num_params()));
  const size_t n = model_->num_params();
  const size_t fixed = kMagicBytes + mine.size() * sizeof(int64_t) +
                       sizeof(int64_t) + 3 * n * sizeof(float) +
                       sizeof(uint32_t);
  // Bounded before anything is read: the size must fit this model's state.
  if (size < fixed || size > fixed + kMaxRngBytes ||
      size > kMaxCheckpointBytes) {
    return DataLossError(path + ": " + std::to_string(size) +
                         " bytes is not a checkpoint of this model (" +
                         std::to_string(n) + " parameters)");
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes(size, '\0');
  if (!in.read(bytes.data(), std::streamsize(size))) {
    return DataLossError(path + ": read failed");
  }
  uint32_t stored_crc = 0;
  std::memcpy(&stored_crc, bytes.data() + size - sizeof stored_crc,
              sizeof stored_crc);
  const uLong crc = crc32_z(crc32_z(0, nullptr, 0),
                            reinterpret_cast<const Bytef*>(bytes.data()),
                            size - sizeof stored_crc);
  if (std::memcmp(bytes.data(), kMagic, kMagicBytes) != 0 ||
      uint32_t(crc) != stored_crc) {
    return DataLossError(path + ": not a whole moesweep checkpoint (" +
                         (uint32_t(crc) != stored_crc ? "checksum" : "magic") +
                         " mismatch)");
  }
  size_t at = kMagicBytes;
  auto next = [&]() {
    int64_t v = 0;
    std::memcpy(&v, bytes.data() + at, sizeof v);
    at += sizeof v;
    return v;
  };
  const int64_t step = next();
  for (size_t i = 1; i < mine.size(); ++i) {
    const int64_t theirs = next();
    if (theirs != mine[i].second) {
      return InvalidArgumentError(
          path + ": a checkpoint of another run: " + mine[i].first + " " +
          std::to_string(theirs) + ", this run's " +
          std::to_string(mine[i].second));
    }
  }
  if (step < 0 || step > options_.steps) {
    return InvalidArgumentError(path + ": checkpoint at step " +
                                std::to_string(step) + ", past this run's " +
                                std::to_string(options_.steps) + " steps");
  }
  const int64_t rng_bytes = next();
  if (rng_bytes < 0 || size_t(rng_bytes) != size - fixed) {
    return DataLossError(path + ": random-state length does not fit the file");
  }
  const std::string rng = bytes.substr(at, size_t(rng_bytes));
  at += size_t(rng_bytes);
  // Everything is checked but the loader's state text: try it on a copy
  // first, so an error leaves this trainer as it was.
  MOESWEEP_RETURN_IF_ERROR(BatchLoader::CheckState(rng));
  MOESWEEP_RETURN_IF_ERROR(loader_->SetState(rng));
  model_->LoadState(bytes.data() + at);
  step_ = step;
  return OkStatus();
}

}  // namespace moesweep::worker
