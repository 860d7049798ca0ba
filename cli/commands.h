// The `moesweep` subcommands. Each takes its options as a struct and writes to
// the given streams, so tests run them in-process; main.cc maps flags onto the
// structs (STYLE.md H13).
//
// Exit codes: 0 success; 2 bad input (a missing file or column, a bad value or
// option); 1 any other failure.

#ifndef MOESWEEP_CLI_COMMANDS_H_
#define MOESWEEP_CLI_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/connection_flags.h"

namespace CLI {
class App;
}

namespace moesweep::cli {

// moesweep fit --law NAME --data runs.csv [--column N=HEADER]... [--json]
// [--out law.json]
struct FitCommandOptions {
  std::string law = "chinchilla";    // a family, or "expr" with expr_file
  std::string expr_file;             // YAML of an expr law (cli/expr_yaml.h)
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

// moesweep predict --law-file law.json --at params=1e9,tokens=2e10 [--json]
struct PredictCommandOptions {
  std::string campaign;  // set: ask this campaign's coordinator instead
  ConnectionFlags connection;
  std::string law_file;
  std::vector<std::string>
      at;  // "feature=value" (N, D accepted for params, tokens)
  double level = 0.95;
  bool json = false;
};
void AddPredictCommand(CLI::App* app, PredictCommandOptions* options);
int RunPredictCommand(const PredictCommandOptions& options, std::ostream& out,
                      std::ostream& err);
// The same against options.campaign's coordinator (cli/law_command.cc):
// --at names RunFeatures fields (n_total_ne=..., tokens=...).
int RunRemotePredict(const PredictCommandOptions& options, std::ostream& out,
                     std::ostream& err);

// moesweep law CAMPAIGN | --law-file F [--json]: the law as a table.
struct LawCommandOptions {
  std::string campaign;
  std::string law_file;
  ConnectionFlags connection;
  bool json = false;
};
void AddLawCommand(CLI::App* app, LawCommandOptions* options);
int RunLawCommand(const LawCommandOptions& options, std::ostream& out,
                  std::ostream& err);

// moesweep optimal --law-file law.json --flops 1e21 [caps] [--json]
struct OptimalCommandOptions {
  std::string campaign;  // set: ask this campaign's coordinator instead
  ConnectionFlags connection;
  std::string law_file;
  double flops = 0;
  double max_total_params = 0;     // 0: no cap
  double max_active_params = 0;    // 0: no cap
  double max_memory_bytes = 0;     // 0: no cap
  double max_flops_per_token = 0;  // 0: no cap
  double kv_cache_tokens = 0;
  std::vector<double> experts;      // allowed expert counts
  std::vector<double> granularity;  // allowed granularities
  double level = 0.95;
  double band = 0;  // near-optimal band, a fraction of the loss; 0: none
  bool json = false;
};
void AddOptimalCommand(CLI::App* app, OptimalCommandOptions* options);
int RunOptimalCommand(const OptimalCommandOptions& options, std::ostream& out,
                      std::ostream& err);
int RunRemoteOptimal(const OptimalCommandOptions& options, std::ostream& out,
                     std::ostream& err);

// moesweep simulate campaign.yaml [--strategy S] [--truth law.json] [--seeds N]
// [--json]
struct SimulateCommandOptions {
  std::string campaign;    // campaign YAML
  std::string strategy;    // overrides the spec's; empty: the spec's
  std::string truth_file;  // law file; empty: the family's published law
  int seeds = 1;
  // > 0: warmup-stable-decay runs with branches; none: the spec's
  // (campaign::kWsdDecayFraction under training.branching, else 0).
  std::optional<double> cooldown;
  bool json = false;
};
void AddSimulateCommand(CLI::App* app, SimulateCommandOptions* options);
int RunSimulateCommand(const SimulateCommandOptions& options, std::ostream& out,
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

// moesweep data prepare [--corpus NAME] [--input [FORMAT:]PATH]... --out DIR
// [--val-fraction F]: text bytes -> token shards DIR/train.bin and
// DIR/val.bin, held out by whole documents (worker/worker.h), cached by
// DIR/manifest. Exits 2 for bad input (naming the file), 1 otherwise.
struct DataCommandOptions {
  std::vector<std::string> inputs;  // [FORMAT:]PATH; no FORMAT: text
  std::string out_dir;
  double val_fraction = 0.05;  // share of text held out, whole documents
  std::string corpus = "";     // a named corpus read before the inputs
};
void AddDataCommand(CLI::App* app, DataCommandOptions* options);
int RunDataCommand(const DataCommandOptions& options, std::ostream& out,
                   std::ostream& err);

// moesweep train --config run.yaml: trains one run locally and prints its
// curve (format of run.yaml: cli/train_config.h). Exits 1 when the loss
// diverges.
struct TrainCommandOptions {
  std::string config;    // run.yaml
  int print_every = 10;  // steps between curve lines (evals always print)
};
void AddTrainCommand(CLI::App* app, TrainCommandOptions* options);
int RunTrainCommand(const TrainCommandOptions& options, std::ostream& out,
                    std::ostream& err);

// moesweep worker --coordinator HOST:PORT --backend cpu|cuda --token-file F
// [--id NAME] [--data-dir DIR] [--threads N] [--gpus N] [--matmul fp32|bf16]:
// trains what the coordinator assigns (worker/agent/agent.h) until SIGTERM or
// SIGINT, which report the running attempt preempted and exit 0. Exits 2 for
// --backend cuda where this build or machine cannot train on --gpus GPUs
// (saying why), --gpus above 1 or --matmul bf16 on the CPU, or a bad token
// file; 1 when the coordinator cannot be reached or refuses the token.
struct WorkerCommandOptions {
  ConnectionFlags connection;  // empty fields: from the environment
  std::string backend = "cpu";
  std::string id;  // empty: the coordinator assigns one
  std::string data_dir = "data";
  std::string checkpoint_dir = "checkpoints";
  int threads = 0;              // 0: every hardware thread
  int gpus = 1;                 // --backend cuda: GPUs a trial, data parallel
  std::string matmul = "fp32";  // --backend cuda: fp32 or bf16
};
void AddWorkerCommand(CLI::App* app, WorkerCommandOptions* options);
int RunWorkerCommand(const WorkerCommandOptions& options, std::ostream& out,
                     std::ostream& err);

// moesweep coordinator --db DIR [--listen HOST:PORT] [--metrics HOST:PORT]
// [--tokens FILE] [--tls-cert F --tls-key F]: serves until SIGINT/SIGTERM.
struct CoordinatorCommandOptions {
  std::string db;
  std::string listen = "127.0.0.1:7480";
  std::string metrics = "127.0.0.1:9480";
  std::string tokens;  // default <db>.tokens, created when missing
  std::string tls_cert, tls_key;
  int64_t lease_ttl_ms = 15000;
  int64_t heartbeat_ms = 3000;
  int64_t reconnect_grace_ms = 30000;
  int max_attempts = 3;
  int64_t metrics_retention_s = 6 * 3600;
};
void AddCoordinatorCommand(CLI::App* app, CoordinatorCommandOptions* options);
int RunCoordinatorCommand(const CoordinatorCommandOptions& options,
                          std::ostream& out, std::ostream& err);

// moesweep campaign <verb> [target] [--coordinator HOST:PORT]
// [--token-file F] [--json]: a CampaignService client that prints tables, or
// JSON with --json. Exit codes: ClientFail (cli/client.h).
struct CampaignCommandOptions {
  std::string verb;    // create, list, get, watch, law, trials, cancel,
                       // pause, resume, amend, export, optimal, validate
  std::string target;  // YAML file (create) or campaign id
  ConnectionFlags connection;  // empty fields: from the environment
  bool json = false;           // the proto's JSON instead of a table
  int page_size = 0;           // list, trials: per request; 0: server's
  // stdout is a terminal (main sets it): watch draws a progress line.
  bool terminal = false;
  std::string request_id;
  bool validate_only = false;
  double budget_flops = 0;  // amend; 0: unchanged
  double target_width = 0;  // amend; 0: unchanged
  std::string table = "trials";
  std::string format = "csv";
  double flops = 0;  // optimal: the budget; validate: the run's FLOPs
  bool progress = false;
  bool stop_running = false;
};
void AddCampaignCommand(CLI::App* app, CampaignCommandOptions* options);
int RunCampaignCommand(const CampaignCommandOptions& options, std::ostream& out,
                       std::ostream& err);

// moesweep plot CAMPAIGN|--law-file F [--data runs.csv] --out FILE.svg|.png
// [...]: runs `python3 -m moesweep plot` (python/moesweep/__main__.py, which
// documents the options and exit codes) with every argument; the checkout's
// python/ goes first on PYTHONPATH, and $MOESWEEP_PYTHON names the
// interpreter (default python3 on PATH). Exits 1 when it cannot be run.
struct PlotCommandOptions {
  std::vector<std::string> args;  // forwarded as they are
};
void AddPlotCommand(CLI::App* app, PlotCommandOptions* options);
int RunPlotCommand(const PlotCommandOptions& options, std::ostream& out,
                   std::ostream& err);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_COMMANDS_H_
