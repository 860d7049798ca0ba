// PrepareData: text files -> byte tokens -> train.bin + val.bin. The held-out
// split is the tail of the concatenated text, so no held-out sequence
// overlaps a training one.

#include <filesystem>
#include <fstream>
#include <sstream>

#include "worker/worker.h"

namespace moesweep::worker {

StatusOr<PrepareReport> PrepareData(const PrepareOptions& options) {
  if (options.inputs.empty()) return InvalidArgumentError("no --input files");
  if (!(options.val_fraction > 0 && options.val_fraction < 1)) {
    return InvalidArgumentError("val_fraction must be in (0, 1), got " +
                                std::to_string(options.val_fraction));
  }
  std::string text;
  for (const std::string& path : options.inputs) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFoundError(path + ": cannot open");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text += buffer.str();
  }
  std::vector<uint16_t> tokens = ByteTokenize(text);
  size_t val = size_t(double(tokens.size()) * options.val_fraction);
  if (val < 2 || tokens.size() - val < 2) {
    return InvalidArgumentError("too little text (" +
                                std::to_string(tokens.size()) +
                                " bytes) for a train and a held-out split");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) {
    return UnavailableError(options.out_dir +
                            ": cannot create: " + ec.message());
  }
  TokenShard train{kByteVocabSize, {tokens.begin(), tokens.end() - val}};
  TokenShard held_out{kByteVocabSize, {tokens.end() - val, tokens.end()}};
  namespace fs = std::filesystem;
  MOESWEEP_RETURN_IF_ERROR(WriteTokenShard(
      (fs::path(options.out_dir) / "train.bin").string(), train));
  MOESWEEP_RETURN_IF_ERROR(WriteTokenShard(
      (fs::path(options.out_dir) / "val.bin").string(), held_out));
  return PrepareReport{int64_t(train.tokens.size()),
                       int64_t(held_out.tokens.size())};
}

}  // namespace moesweep::worker
