// PrepareData: text files -> byte tokens -> train.bin + val.bin, streamed.
//
// Each file is read in chunks (TextReader) and cut into documents
// (DocumentSplitter). When a document begins, it goes to the held-out shard
// if the held-out share of its input's bytes so far is below val_fraction,
// else to the training shard, and all its bytes follow it there. So
// held-out text is whole documents spread evenly through each input (every
// source of a corpus is held out in proportion, even a small one after a
// large one), and memory holds a few buffers whatever the corpus or document
// size. Shards are written under
// temporary names and renamed when complete; the manifest comes last.

#include <filesystem>
#include <fstream>

#include "worker/data/document_splitter.h"
#include "worker/data/input_files.h"
#include "worker/data/prepare_manifest.h"
#include "worker/data/shard_writer.h"
#include "worker/data/text_reader.h"
#include "worker/worker.h"

namespace moesweep::worker {

namespace {

namespace fs = std::filesystem;

struct Splits {
  std::unique_ptr<ShardWriter> train, val;
  PrepareReport report;
  // Bytes of each input (PrepareOptions.inputs) so far, and held out.
  std::vector<int64_t> source_bytes, source_val_bytes;
};

Status Append(std::string_view text, ShardWriter* to, size_t source,
              bool held_out, Splits* splits) {
  splits->source_bytes[source] += int64_t(text.size());
  if (held_out) splits->source_val_bytes[source] += int64_t(text.size());
  return to->AppendBytes(text);
}

// Streams one file into the splits, documents whole.
Status SplitFile(const InputFile& file, const PrepareOptions& options,
                 int64_t* total_bytes, Splits* splits) {
  MOESWEEP_ASSIGN_OR_RETURN(std::unique_ptr<TextReader> reader,
                            TextReader::Open(file.path));
  DocumentSplitter splitter(file.format);
  ShardWriter* to = nullptr;
  bool held_out = false;
  for (;;) {
    MOESWEEP_ASSIGN_OR_RETURN(std::string_view chunk, reader->Next());
    if (chunk.empty()) break;
    *total_bytes += int64_t(chunk.size());
    if (*total_bytes > options.max_bytes) {
      return InvalidArgumentError(
          file.path + ": the inputs' text passes max_bytes=" +
          std::to_string(options.max_bytes) + " bytes here");
    }
    size_t run = 0;  // start of the bytes not yet appended to `to`
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (!splitter.Begins(chunk[i])) continue;
      if (to != nullptr) {
        MOESWEEP_RETURN_IF_ERROR(Append(chunk.substr(run, i - run), to,
                                        file.source, held_out, splits));
      }
      run = i;
      held_out =
          double(splits->source_val_bytes[file.source]) <
          options.val_fraction * double(splits->source_bytes[file.source]);
      to = held_out ? splits->val.get() : splits->train.get();
      ++(held_out ? splits->report.val_documents
                  : splits->report.train_documents);
    }
    MOESWEEP_RETURN_IF_ERROR(
        Append(chunk.substr(run), to, file.source, held_out, splits));
  }
  ++splits->report.files;
  return OkStatus();
}

Status Rename(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec)
    return UnavailableError(to.string() + ": cannot write: " + ec.message());
  return OkStatus();
}

StatusOr<PrepareReport> WriteShards(const std::vector<InputFile>& files,
                                    const PrepareOptions& options) {
  const fs::path out(options.out_dir);
  Splits splits;
  MOESWEEP_ASSIGN_OR_RETURN(
      splits.train,
      ShardWriter::Create((out / "train.bin.tmp").string(), kByteVocabSize));
  MOESWEEP_ASSIGN_OR_RETURN(
      splits.val,
      ShardWriter::Create((out / "val.bin.tmp").string(), kByteVocabSize));
  splits.source_bytes.assign(options.inputs.size(), 0);
  splits.source_val_bytes.assign(options.inputs.size(), 0);
  int64_t total_bytes = 0;
  for (const InputFile& file : files) {
    MOESWEEP_RETURN_IF_ERROR(SplitFile(file, options, &total_bytes, &splits));
  }
  splits.report.train_tokens = splits.train->tokens();
  splits.report.val_tokens = splits.val->tokens();
  if (splits.report.val_tokens < 2 || splits.report.train_tokens < 2) {
    return InvalidArgumentError("too little text (" +
                                std::to_string(total_bytes) + " bytes in " +
                                std::to_string(splits.report.train_documents +
                                               splits.report.val_documents) +
                                " documents) for a train and a held-out split");
  }
  MOESWEEP_RETURN_IF_ERROR(splits.train->Finish());
  MOESWEEP_RETURN_IF_ERROR(splits.val->Finish());
  MOESWEEP_RETURN_IF_ERROR(Rename(out / "train.bin.tmp", out / "train.bin"));
  MOESWEEP_RETURN_IF_ERROR(Rename(out / "val.bin.tmp", out / "val.bin"));
  return splits.report;
}

Status WriteManifest(const fs::path& out, const std::string& text) {
  {
    std::ofstream file(out / "manifest.tmp",
                       std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (!file)
      return UnavailableError((out / "manifest").string() + ": cannot write");
  }
  return Rename(out / "manifest.tmp", out / "manifest");
}

}  // namespace

StatusOr<PrepareReport> PrepareData(const PrepareOptions& options) {
  if (options.inputs.empty()) return InvalidArgumentError("no inputs");
  if (!(options.val_fraction > 0 && options.val_fraction < 1)) {
    return InvalidArgumentError("val_fraction must be in (0, 1), got " +
                                std::to_string(options.val_fraction));
  }
  MOESWEEP_ASSIGN_OR_RETURN(std::vector<InputFile> files,
                            ListInputFiles(options));
  const std::string key = ManifestKey(files, options);
  if (std::optional<PrepareReport> cached =
          CachedReport(options.out_dir, key)) {
    return *cached;
  }
  const fs::path out(options.out_dir);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) {
    return UnavailableError(options.out_dir +
                            ": cannot create: " + ec.message());
  }
  fs::remove(out / "manifest", ec);
  StatusOr<PrepareReport> report = WriteShards(files, options);
  if (!report.ok()) {
    fs::remove(out / "train.bin.tmp", ec);
    fs::remove(out / "val.bin.tmp", ec);
    return report.status();
  }
  MOESWEEP_RETURN_IF_ERROR(WriteManifest(out, ManifestText(key, *report)));
  return report;
}

}  // namespace moesweep::worker
