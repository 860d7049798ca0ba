// moesweep train: one run, locally, printing its curve. For debugging a
// configuration without a coordinator.

#include <cmath>
#include <cstdio>

#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "cli/train_config.h"
#include "worker/worker.h"

namespace moesweep::cli {

void AddTrainCommand(CLI::App* app, TrainCommandOptions* o) {
  CLI::App* train = app->add_subcommand(
      "train", "Train one run from a YAML config and print its curve");
  train->add_option("--config", o->config, "run.yaml")->required();
  train->add_option("--print-every", o->print_every, "Steps between lines")
      ->capture_default_str();
}

int RunTrainCommand(const TrainCommandOptions& o, std::ostream& out,
                    std::ostream& err) {
  auto fail = [&](const Status& s) {
    err << "moesweep train: " << s.message() << "\n";
    StatusCode code = s.code();
    return code == StatusCode::kInvalidArgument || code == StatusCode::kNotFound
               ? 2
               : 1;
  };
  StatusOr<worker::TrainOptions> options = LoadTrainConfig(o.config);
  if (!options.ok()) return fail(options.status());
  StatusOr<std::unique_ptr<worker::Trainer>> trainer =
      worker::Trainer::Create(*options);
  if (!trainer.ok()) return fail(trainer.status());
  const worker::ModelConfig& m = options->model;
  out << "model: " << m.TotalParameters() << " parameters, "
      << m.ActiveParameters() << " active; " << m.n_experts << " experts top-"
      << m.top_k << ", expert hidden " << m.expert_hidden() << "\n";
  char line[256];
  while (!(*trainer)->Done()) {
    StatusOr<worker::StepReport> r = (*trainer)->Step();
    if (!r.ok()) return fail(r.status());
    if (!std::isfinite(r->loss)) {
      err << "moesweep train: diverged: loss " << r->loss << " at step "
          << r->step << "\n";
      return 1;
    }
    if (r->step % o.print_every == 0 || r->eval_loss || r->step == 1) {
      std::snprintf(line, sizeof(line),
                    "step %6lld  tokens %10lld  loss %.4f  aux %.4f  lr %.3e"
                    "  grad_norm %.3f  tok/s %.0f",
                    static_cast<long long>(r->step),
                    static_cast<long long>(r->tokens), r->loss, r->aux_loss,
                    r->lr, r->grad_norm,
                    double(options->batch_size) * m.seq_len / r->seconds);
      out << line;
      if (r->eval_loss) {
        std::snprintf(line, sizeof(line), "  eval %.4f", *r->eval_loss);
        out << line;
      }
      out << "\n";
    }
  }
  return 0;
}

}  // namespace moesweep::cli
