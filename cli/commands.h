// The `moesweep` subcommands. Each takes its options as a struct and writes to
// the given streams, so tests run them in-process; main.cc maps flags onto the
// structs (STYLE.md H13).
//
// Exit codes: 0 success; 2 bad input (a missing file or column, a bad value or
// option); 1 any other failure.

#ifndef MOESWEEP_CLI_COMMANDS_H_
#define MOESWEEP_CLI_COMMANDS_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace moesweep::cli {

// moesweep fit --law NAME --data runs.csv [--column N=HEADER]... [--json]
// [--out law.json]
struct FitCommandOptions {
  std::string law = "chinchilla";
  std::string data;                  // CSV path
  std::vector<std::string> columns;  // "N=Model Size" mappings
  bool json = false;  // one JSON object on stdout instead of text
  std::string out;    // law file to write; empty: none
  double huber_delta = 1e-3;
  int threads = 0;  // 0: every hardware thread
};
void AddFitCommand(CLI::App* app, FitCommandOptions* options);
int RunFitCommand(const FitCommandOptions& options, std::ostream& out,
                  std::ostream& err);

// moesweep synth --law NAME --preset NAME --out runs.csv: a table of runs drawn
// from a published law with log-normal noise, for demos and for planning how
// many runs a fit needs.
struct SynthCommandOptions {
  std::string law = "chinchilla";
  std::string preset = "epoch";
  double min_params = 1e7;
  double max_params = 1e9;
  int points = 8;
  std::vector<double> tokens_per_param = {5, 10, 20, 40, 80, 160};
  double noise = 0.01;
  double outliers = 0;
  std::uint64_t seed = 1;
  std::string out;  // CSV path; empty: stdout
};
void AddSynthCommand(CLI::App* app, SynthCommandOptions* options);
int RunSynthCommand(const SynthCommandOptions& options, std::ostream& out,
                    std::ostream& err);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_COMMANDS_H_
