// moesweep data prepare: text files -> byte-level token shards.

#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "worker/worker.h"

namespace moesweep::cli {

void AddDataCommand(CLI::App* app, DataCommandOptions* o) {
  CLI::App* data = app->add_subcommand("data", "Prepare training data");
  data->require_subcommand(1);
  CLI::App* prepare = data->add_subcommand(
      "prepare",
      "Tokenize text files (bytes) into DIR/train.bin and DIR/val.bin");
  prepare->add_option("--input", o->inputs, "Text files, concatenated")
      ->required();
  prepare->add_option("--out", o->out_dir, "Folder for the shards")->required();
  prepare
      ->add_option("--val-fraction", o->val_fraction,
                   "Tail of the text held out for eval")
      ->capture_default_str();
}

int RunDataCommand(const DataCommandOptions& o, std::ostream& out,
                   std::ostream& err) {
  StatusOr<worker::PrepareReport> report =
      worker::PrepareData({o.inputs, o.out_dir, o.val_fraction});
  if (!report.ok()) {
    err << "moesweep data prepare: " << report.status().message() << "\n";
    StatusCode code = report.status().code();
    return code == StatusCode::kInvalidArgument || code == StatusCode::kNotFound
               ? 2
               : 1;
  }
  out << "wrote " << report->train_tokens << " training and "
      << report->val_tokens << " held-out tokens (byte-level, vocabulary "
      << worker::kByteVocabSize << ") to " << o.out_dir << "\n";
  return 0;
}

}  // namespace moesweep::cli
