// moesweep data prepare: text files -> byte-level token shards.

#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "worker/worker.h"

namespace moesweep::cli {

namespace {

// "FORMAT:PATH" when the text before the first ':' names a format, else a
// plain-text PATH.
worker::TextSource ParseInput(const std::string& input) {
  size_t colon = input.find(':');
  if (colon != std::string::npos) {
    StatusOr<worker::DocumentFormat> format =
        worker::ParseDocumentFormat(input.substr(0, colon));
    if (format.ok()) return {input.substr(colon + 1), *format};
  }
  return {input};
}

}  // namespace

void AddDataCommand(CLI::App* app, DataCommandOptions* o) {
  CLI::App* data = app->add_subcommand("data", "Prepare training data");
  data->require_subcommand(1);
  CLI::App* prepare = data->add_subcommand(
      "prepare",
      "Tokenize text (bytes) into DIR/train.bin and DIR/val.bin, holding out "
      "whole documents; a second run with the same inputs reuses them");
  prepare->add_option(
      "--input", o->inputs,
      "[FORMAT:]PATH, a file (plain or gzip) or a folder of them; FORMAT "
      "says what a document is: text (a paragraph, the default), file, "
      "fortune (ends at a % line) or dict (a dictd entry)");
  prepare->add_option("--corpus", o->corpus,
                      "A named corpus of Debian packages: debian-en");
  prepare->add_option("--out", o->out_dir, "Folder for the shards")->required();
  prepare
      ->add_option("--val-fraction", o->val_fraction,
                   "Share of the text held out for eval, as whole documents")
      ->capture_default_str();
}

int RunDataCommand(const DataCommandOptions& o, std::ostream& out,
                   std::ostream& err) {
  worker::PrepareOptions options;
  options.out_dir = o.out_dir;
  options.val_fraction = o.val_fraction;
  if (!o.corpus.empty()) {
    StatusOr<std::vector<worker::TextSource>> corpus =
        worker::NamedCorpus(o.corpus);
    if (!corpus.ok()) {
      err << "moesweep data prepare: --corpus: " << corpus.status().message()
          << "\n";
      return 2;
    }
    options.inputs = *corpus;
  }
  for (const std::string& input : o.inputs) {
    options.inputs.push_back(ParseInput(input));
  }
  if (options.inputs.empty()) {
    err << "moesweep data prepare: give --corpus or --input\n";
    return 2;
  }
  StatusOr<worker::PrepareReport> report = worker::PrepareData(options);
  if (!report.ok()) {
    err << "moesweep data prepare: " << report.status().message() << "\n";
    StatusCode code = report.status().code();
    return code == StatusCode::kInvalidArgument || code == StatusCode::kNotFound
               ? 2
               : 1;
  }
  out << (report->cached ? "reused " : "wrote ") << report->train_tokens
      << " training and " << report->val_tokens
      << " held-out tokens (byte-level, vocabulary " << worker::kByteVocabSize
      << "; " << report->train_documents << " and " << report->val_documents
      << " documents from " << report->files << " files) in " << o.out_dir
      << (report->cached
              ? " (inputs unchanged since " + o.out_dir + "/manifest)"
              : "")
      << "\n";
  return 0;
}

}  // namespace moesweep::cli
