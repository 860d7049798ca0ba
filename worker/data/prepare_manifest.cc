// The prepare manifest, version 1: text, one record a line.
//
//   manifest := key result
//   key      := "moesweep-prepare-manifest 1\n"
//               "tokenizer bytes 256\n"
//               "val_fraction " %.17g "\n"
//               ("input " format " " size_bytes " " mtime_ns " " path "\n")*
//   result   := "train_tokens " n "\n" "val_tokens " n "\n"
//               "train_documents " n "\n" "val_documents " n "\n"
//               "files " n "\n"
//
// format is a DocumentFormatName; the path runs to the end of the line. A
// reader that finds another first line redoes the work rather than guess.
// PrepareData removes the manifest before it writes shards and writes it
// after they are in place, so a manifest always describes its shards.

#include "worker/data/prepare_manifest.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace moesweep::worker {

namespace {

constexpr int64_t kShardHeaderBytes = 24;  // worker/data/token_shard.cc

bool ShardHolds(const std::filesystem::path& path, int64_t tokens) {
  std::error_code ec;
  uintmax_t bytes = std::filesystem::file_size(path, ec);
  return !ec && int64_t(bytes) == kShardHeaderBytes + 2 * tokens;
}

}  // namespace

std::string ManifestKey(const std::vector<InputFile>& files,
                        const PrepareOptions& options) {
  char fraction[64];
  std::snprintf(fraction, sizeof(fraction), "%.17g", options.val_fraction);
  std::string key = "moesweep-prepare-manifest 1\ntokenizer bytes " +
                    std::to_string(kByteVocabSize) + "\nval_fraction " +
                    fraction + "\n";
  for (const InputFile& f : files) {
    key += "input " + std::string(DocumentFormatName(f.format)) + " " +
           std::to_string(f.size_bytes) + " " + std::to_string(f.mtime_ns) +
           " " + f.path + "\n";
  }
  return key;
}

std::string ManifestText(const std::string& key, const PrepareReport& r) {
  return key + "train_tokens " + std::to_string(r.train_tokens) +
         "\nval_tokens " + std::to_string(r.val_tokens) + "\ntrain_documents " +
         std::to_string(r.train_documents) + "\nval_documents " +
         std::to_string(r.val_documents) + "\nfiles " +
         std::to_string(r.files) + "\n";
}

std::optional<PrepareReport> CachedReport(const std::string& out_dir,
                                          const std::string& key) {
  namespace fs = std::filesystem;
  std::ifstream in(fs::path(out_dir) / "manifest", std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  if (text.compare(0, key.size(), key) != 0) return std::nullopt;
  std::istringstream result(text.substr(key.size()));
  PrepareReport r;
  std::string name;
  for (int64_t* field : {&r.train_tokens, &r.val_tokens, &r.train_documents,
                         &r.val_documents, &r.files}) {
    if (!(result >> name >> *field)) return std::nullopt;
  }
  if (!ShardHolds(fs::path(out_dir) / "train.bin", r.train_tokens) ||
      !ShardHolds(fs::path(out_dir) / "val.bin", r.val_tokens)) {
    return std::nullopt;
  }
  r.cached = true;
  return r;
}

}  // namespace moesweep::worker
