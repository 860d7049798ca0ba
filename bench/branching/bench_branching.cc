// bench_branching: one stable run and its cooldown branches against separate
// runs, on real text (issue 18). A tiny MoE model is trained on the debian-en
// corpus (prepared once under build/realrun/, shared with bench_realrun)
// under a warmup-stable-decay schedule (20% cooldown) to 100, 200 and 400
// steps, each as a separate run from scratch; then the 400-step run alone,
// saving checkpoints where the shorter runs' cooldowns begin, and from each
// a cooldown branch to 100 and 200 steps. Same seed, data order and thread
// count throughout.
//
// Prints `bench branching <metric> value=<v> ref=<r> ratio=<v/r> goal=<g>`,
// higher ratio is better: the agreement of the branches' final held-out
// losses with the separate runs' (1 − the largest relative difference,
// against 0.99: the "within 1%"), and the training tokens of the
// separate runs over the branched ones'. About a minute on 2 cores.
// Exits 1 on an infrastructure failure, never for a missed goal.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "worker/worker.h"

namespace {

namespace fs = std::filesystem;
using moesweep::Status;
using moesweep::worker::Trainer;
using moesweep::worker::TrainOptions;

constexpr int64_t kSteps[] = {100, 200, 400};
constexpr float kCooldown = 0.2f;

int Fail(const std::string& what, const Status& status) {
  std::fprintf(stderr, "bench branching: %s: %s\n", what.c_str(),
               status.ToString().c_str());
  return 1;
}

// The step a run of `steps` starts its cooldown at (worker LearningRate's
// rule): its checkpoint for a branch of that length.
int64_t CooldownStart(int64_t steps) {
  return steps - static_cast<int64_t>(std::ceil(kCooldown * steps));
}

void Print(const char* metric, double value, double ref, double goal) {
  std::printf("bench branching %s value=%.6g ref=%.6g ratio=%.6g goal=%g\n",
              metric, value, ref, value / ref, goal);
}

}  // namespace

int main() {
  std::error_code ec;
  fs::path root = fs::read_symlink("/proc/self/exe", ec).parent_path();
  root = (ec ? fs::current_path() : root.parent_path()) / "realrun";
  auto corpus = moesweep::worker::NamedCorpus("debian-en");
  if (!corpus.ok()) return Fail("corpus", corpus.status());
  moesweep::worker::PrepareOptions prepare;
  prepare.inputs = *corpus;
  prepare.out_dir = (root / "datasets" / "default").string();
  auto prepared = moesweep::worker::PrepareData(prepare);
  if (!prepared.ok()) return Fail("data prepare", prepared.status());

  TrainOptions base;
  base.model.d_model = 64;
  base.model.n_layers = 2;
  base.model.n_heads = 2;
  base.model.seq_len = 128;
  base.model.n_experts = 8;
  base.model.top_k = 2;
  base.model.ffn_hidden = 256;
  base.model.granularity = 2;
  base.optimizer.schedule = moesweep::worker::Schedule::kWarmupStableDecay;
  base.optimizer.decay_fraction = kCooldown;
  base.optimizer.warmup_steps = 20;
  base.data_dir = prepare.out_dir;
  base.batch_size = 8;
  base.eval_tokens = 1 << 16;
  base.seed = 7;
  const double tokens_per_step = double(base.batch_size) * base.model.seq_len;
  const fs::path dir = root / ("branching-" + std::to_string(getpid()));
  fs::create_directories(dir, ec);
  std::printf(
      "bench branching: %lld parameters (%lld active), %g tokens a "
      "step, runs of %lld, %lld and %lld steps, cooldown %g\n",
      static_cast<long long>(base.model.TotalParameters()),
      static_cast<long long>(base.model.ActiveParameters()), tokens_per_step,
      static_cast<long long>(kSteps[0]), static_cast<long long>(kSteps[1]),
      static_cast<long long>(kSteps[2]), kCooldown);

  // Trains a trainer to its end; its final held-out loss.
  auto finish = [](Trainer& t) -> moesweep::StatusOr<float> {
    while (!t.Done()) {
      auto step = t.Step();
      if (!step.ok()) return step.status();
    }
    return t.Evaluate();
  };
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> separate;
  int64_t separate_steps = 0;
  for (int64_t steps : kSteps) {
    TrainOptions o = base;
    o.steps = steps;
    auto t = Trainer::Create(o);
    if (!t.ok()) return Fail("trainer", t.status());
    auto loss = finish(**t);
    if (!loss.ok()) return Fail("separate run", loss.status());
    separate.push_back(*loss);
    separate_steps += steps;
  }
  const auto t1 = std::chrono::steady_clock::now();

  // The longest run, checkpointing where the shorter ones cool down.
  std::vector<float> branched(std::size(kSteps));
  int64_t branched_steps = 0;
  {
    TrainOptions o = base;
    o.steps = kSteps[2];
    auto t = Trainer::Create(o);
    if (!t.ok()) return Fail("trainer", t.status());
    while (!(*t)->Done()) {
      auto step = (*t)->Step();
      if (!step.ok()) return Fail("stable run", step.status());
      for (int k = 0; k < 2; ++k) {
        if (step->step == CooldownStart(kSteps[k])) {
          Status saved = (*t)->SaveCheckpoint(
              (dir / ("at-" + std::to_string(step->step))).string());
          if (!saved.ok()) return Fail("checkpoint", saved);
        }
      }
    }
    branched[2] = (*t)->Evaluate();
    branched_steps += kSteps[2];
  }
  for (int k = 0; k < 2; ++k) {
    TrainOptions o = base;
    o.steps = kSteps[k];
    auto t = Trainer::Create(o);
    if (!t.ok()) return Fail("trainer", t.status());
    const int64_t from = CooldownStart(kSteps[k]);
    Status restored = (*t)->RestoreCheckpoint(
        (dir / ("at-" + std::to_string(from))).string());
    if (!restored.ok()) return Fail("restore", restored);
    auto loss = finish(**t);
    if (!loss.ok()) return Fail("branch", loss.status());
    branched[k] = *loss;
    branched_steps += kSteps[k] - from;
  }
  const auto t2 = std::chrono::steady_clock::now();
  fs::remove_all(dir, ec);

  double worst = 0;
  for (std::size_t k = 0; k < branched.size(); ++k) {
    const double diff = std::abs(branched[k] - separate[k]) / separate[k];
    worst = std::max(worst, diff);
    std::printf(
        "bench branching: %lld steps: separate run %.6f, %s %.6f "
        "nats/token (difference %.2e)\n",
        static_cast<long long>(kSteps[k]), separate[k],
        k == 2 ? "stable run" : "branch", branched[k], diff);
  }
  const double separate_s = std::chrono::duration<double>(t1 - t0).count();
  const double branched_s = std::chrono::duration<double>(t2 - t1).count();
  std::printf(
      "bench branching: separate runs %lld steps (%.4g tokens) in "
      "%.1f s; stable run and branches %lld steps (%.4g tokens) in "
      "%.1f s\n",
      static_cast<long long>(separate_steps), separate_steps * tokens_per_step,
      separate_s, static_cast<long long>(branched_steps),
      branched_steps * tokens_per_step, branched_s);
  Print("final_loss_agreement_vs_within_1pct", 1 - worst, 0.99, 1);
  Print("training_tokens_saving_vs_separate_runs", 1.0 / branched_steps,
        1.0 / separate_steps, 1.5);
  return 0;
}
