// Trainer: one run, one step at a time (STYLE.md H11).

#include <chrono>
#include <cmath>
#include <filesystem>

#include "worker/data/batch_loader.h"
#include "worker/trainer/replicas.h"
#include "worker/worker.h"

namespace moesweep::worker {

StatusOr<std::unique_ptr<Trainer>> Trainer::Create(
    const TrainOptions& options) {
  MOESWEEP_RETURN_IF_ERROR(options.Validate());
  namespace fs = std::filesystem;
  MOESWEEP_ASSIGN_OR_RETURN(
      TokenShard train,
      ReadTokenShard((fs::path(options.data_dir) / "train.bin").string()));
  MOESWEEP_ASSIGN_OR_RETURN(
      TokenShard val,
      ReadTokenShard((fs::path(options.data_dir) / "val.bin").string()));
  return Create(options, std::move(train), std::move(val));
}

StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const TrainOptions& options,
                                                   TokenShard train,
                                                   TokenShard val) {
  MOESWEEP_RETURN_IF_ERROR(options.Validate());
  for (const TokenShard* shard : {&train, &val}) {
    const char* which = shard == &train ? "train" : "held-out";
    if (shard->vocab_size > options.model.vocab_size) {
      return InvalidArgumentError(std::string(which) + " shard vocabulary " +
                                  std::to_string(shard->vocab_size) +
                                  " exceeds model.vocab_size " +
                                  std::to_string(options.model.vocab_size));
    }
    if (shard->tokens.size() < size_t(options.model.seq_len) + 1) {
      return InvalidArgumentError(std::string(which) + " shard has " +
                                  std::to_string(shard->tokens.size()) +
                                  " tokens, fewer than seq_len + 1");
    }
  }
  std::vector<std::unique_ptr<Backend>> backends;
  if (options.backend == TrainBackend::kCuda) {
    for (int r = 0; r < options.gpus; ++r) {
      MOESWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend,
                                Backend::Cuda(options.device + r));
      backend->ctx().cuda->set_matmul_precision(
          options.matmul == MatmulMath::kBf16
              ? kernels::MatmulPrecision::kBf16
              : kernels::MatmulPrecision::kFp32);
      backends.push_back(std::move(backend));
    }
  } else {
    backends.push_back(Backend::Cpu(
        options.threads > 0 ? options.threads : kernels::HardwareThreads()));
  }
  MOESWEEP_ASSIGN_OR_RETURN(
      std::unique_ptr<Replicas> model,
      Replicas::Create(options.model, options.batch_size, std::move(backends)));
  return std::unique_ptr<Trainer>(
      new Trainer(options, std::move(model), std::move(train), std::move(val)));
}

size_t Trainer::MemoryNeeded(const TrainOptions& options) {
  const int copies = options.backend == TrainBackend::kCuda ? options.gpus : 1;
  return Replicas::MemoryNeeded(options.model, options.batch_size,
                                std::max(1, copies));
}

Trainer::Trainer(const TrainOptions& options, std::unique_ptr<Replicas> model,
                 TokenShard train, TokenShard val)
    : options_(options), model_(std::move(model)), val_(std::move(val)) {
  const int B = options.batch_size, T = options.model.seq_len;
  model_->Init(options.seed);
  // The data order has its own stream, so changing the init cannot shift it.
  loader_ = std::make_unique<BatchLoader>(std::move(train), B, T,
                                          options.seed ^ 0x9e3779b97f4a7c15ull);
  tokens_.resize(size_t(B) * T);
  targets_.resize(size_t(B) * T);
}

Trainer::~Trainer() = default;

StatusOr<StepReport> Trainer::Step() {
  if (Done()) {
    return FailedPreconditionError("all " + std::to_string(options_.steps) +
                                   " steps are done");
  }
  auto start = std::chrono::steady_clock::now();
  const int64_t tokens_per_step =
      int64_t(options_.batch_size) * options_.model.seq_len;
  // 1. Next batch.
  loader_->Next(tokens_.data(), targets_.data());
  // 2-6. Forward, zero grad, backward, clip to the global norm and take an
  // AdamW step: one replayed unit (a CUDA graph on a GPU).
  float lr = LearningRate(options_.optimizer, step_, options_.steps);
  ++step_;
  StepResult result =
      model_->TrainStep(tokens_.data(), targets_.data(), options_.batch_size,
                        options_.optimizer, lr, int(step_));
  const Losses& losses = result.losses;
  const float grad_norm = result.grad_norm;
  // 7. Report, with an eval when one is due.
  StepReport report;
  report.step = step_;
  report.tokens = step_ * tokens_per_step;
  report.loss = losses.ce;
  report.aux_loss = losses.aux;
  report.z_loss = losses.z;
  report.lr = lr;
  report.grad_norm = grad_norm;
  auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
        .count();
  };
  report.seconds = since(start);
  if (EvalDue(report.tokens - tokens_per_step, report.tokens)) {
    auto eval_start = std::chrono::steady_clock::now();
    report.eval_loss = Evaluate();
    report.eval_seconds = since(eval_start);
  }
  return report;
}

bool Trainer::EvalDue(int64_t tokens_before, int64_t tokens_after) const {
  if (Done()) return true;
  for (int64_t at : options_.eval_at_tokens) {
    if (at > tokens_before && at <= tokens_after) return true;
  }
  int64_t every = options_.eval_every_tokens;
  return every > 0 && tokens_after / every > tokens_before / every;
}

float Trainer::Evaluate() {
  const int B = options_.batch_size, T = options_.model.seq_len;
  int64_t windows = std::max<int64_t>(1, options_.eval_tokens / T);
  double sum = 0;
  int64_t counted = 0;
  for (int64_t first = 0; first < windows; first += B) {
    int b = 0;
    while (b < B && first + b < windows &&
           HeldOutWindow(val_, first + b, T, tokens_.data() + size_t(b) * T,
                         targets_.data() + size_t(b) * T)) {
      ++b;
    }
    if (b == 0) break;
    Losses losses = model_->Forward(tokens_.data(), targets_.data(), b);
    sum += double(losses.ce) * b * T;
    counted += int64_t(b) * T;
  }
  return float(sum / double(counted));
}

}  // namespace moesweep::worker
