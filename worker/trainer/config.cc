// Validation and accounting of the trainer's configs, and the learning-rate
// schedules.

#include <cmath>
#include <numbers>
#include <string>

#include "worker/worker.h"

namespace moesweep::worker {

namespace {

Status Bad(const std::string& field, const std::string& reason, double value) {
  std::string v = value == std::floor(value) ? std::to_string(int64_t(value))
                                             : std::to_string(value);
  return InvalidArgumentError(field + ": " + reason + ", got " + v);
}

}  // namespace

Status ModelConfig::Validate() const {
  if (vocab_size < 2 || vocab_size > 65536) {
    return Bad("model.vocab_size", "must be in [2, 65536]", vocab_size);
  }
  // The upper bounds (here, top_k's and TrainOptions' batch_size) keep each
  // size the model computes below 2^63 (the largest, a layer's routed
  // hidden activations, B T K 2H <= 2^16 2^17 2^8 2^21), so sums of them
  // saturate rather than wrap and a run too big for its machine is refused
  // by the memory check (Model::MemoryBytes). They leave room for the
  // papers' sweeps (granularity 64 over 64 experts: 4096 experts, top-128)
  // and are far beyond what any worker can hold.
  struct Range {
    const char* field;
    int value, lo, hi;
  };
  for (const Range& r :
       {Range{"model.d_model", d_model, 2, 1 << 16},
        Range{"model.n_layers", n_layers, 1, 1 << 10},
        Range{"model.n_heads", n_heads, 1, 1 << 10},
        Range{"model.seq_len", seq_len, 1, 1 << 17},
        Range{"model.n_experts", n_experts, 1, 1 << 14},
        Range{"model.ffn_hidden", ffn_hidden, 1, 1 << 20},
        Range{"model.n_shared_experts", n_shared_experts, 0, 1 << 6}}) {
    if (r.value < r.lo || r.value > r.hi) {
      return Bad(r.field,
                 "must be in [" + std::to_string(r.lo) + ", " +
                     std::to_string(r.hi) + "]",
                 r.value);
    }
  }
  if (n_heads < 1 || d_model % n_heads != 0) {
    return Bad("model.n_heads", "must divide d_model", n_heads);
  }
  if ((d_model / n_heads) % 2 != 0) {
    return Bad("model.n_heads", "head width d_model/n_heads must be even",
               n_heads);
  }
  if (top_k < 1 || top_k > n_experts) {
    return Bad("model.top_k", "must be in [1, n_experts]", top_k);
  }
  if (top_k > 256) return Bad("model.top_k", "must be at most 256", top_k);
  if (granularity < 1 || ffn_hidden % granularity != 0) {
    return Bad("model.granularity", "must divide ffn_hidden", granularity);
  }
  if (!(rope_theta > 1))
    return Bad("model.rope_theta", "must be > 1", rope_theta);
  if (!(aux_loss_coef >= 0)) {
    return Bad("model.aux_loss_coef", "must be >= 0", aux_loss_coef);
  }
  if (!(z_loss_coef >= 0)) {
    return Bad("model.z_loss_coef", "must be >= 0", z_loss_coef);
  }
  if (!(init_std > 0)) return Bad("model.init_std", "must be > 0", init_std);
  return OkStatus();
}

fitter::Architecture ArchitectureOf(const ModelConfig& m) {
  fitter::Architecture a;
  a.vocab_size = m.vocab_size;
  a.seq_len = m.seq_len;
  a.d_model = m.d_model;
  a.num_layers = m.n_layers;
  a.num_heads = m.n_heads;
  a.num_experts = m.n_experts;
  a.top_k = m.top_k;
  a.granularity = m.granularity;
  a.num_shared = m.n_shared_experts;
  a.ffn_hidden = m.ffn_hidden;
  a.tied_embeddings = m.tied_embeddings;
  a.swiglu = true;  // full multi-head attention (num_kv_heads 0) too
  return a;
}

namespace {

// The fitter's counts of the model (zero for a config that does not
// validate, which the trainer refuses anyway).
fitter::ArchCounts Counts(const ModelConfig& m) {
  StatusOr<fitter::ArchCounts> c = fitter::CountArchitecture(ArchitectureOf(m));
  return c.ok() ? *c : fitter::ArchCounts{};
}

}  // namespace

int64_t ModelConfig::TotalParameters() const {
  return Counts(*this).total_params;
}

int64_t ModelConfig::ActiveParameters() const {
  return Counts(*this).active_params;
}

double ModelConfig::TrainingFlopsPerToken() const {
  return Counts(*this).train_flops_per_token;
}

Status OptimizerConfig::Validate() const {
  if (!(lr > 0)) return Bad("optimizer.lr", "must be > 0", lr);
  if (!(min_lr_ratio >= 0 && min_lr_ratio <= 1)) {
    return Bad("optimizer.min_lr_ratio", "must be in [0, 1]", min_lr_ratio);
  }
  if (warmup_steps < 0) {
    return Bad("optimizer.warmup_steps", "must be >= 0", warmup_steps);
  }
  if (!(decay_fraction >= 0 && decay_fraction <= 1)) {
    return Bad("optimizer.decay_fraction", "must be in [0, 1]", decay_fraction);
  }
  if (!(weight_decay >= 0)) {
    return Bad("optimizer.weight_decay", "must be >= 0", weight_decay);
  }
  if (!(beta1 >= 0 && beta1 < 1))
    return Bad("optimizer.beta1", "must be in [0, 1)", beta1);
  if (!(beta2 >= 0 && beta2 < 1))
    return Bad("optimizer.beta2", "must be in [0, 1)", beta2);
  if (!(eps > 0)) return Bad("optimizer.eps", "must be > 0", eps);
  if (!(grad_clip >= 0))
    return Bad("optimizer.grad_clip", "must be >= 0", grad_clip);
  return OkStatus();
}

Status TrainOptions::Validate() const {
  MOESWEEP_RETURN_IF_ERROR(model.Validate());
  MOESWEEP_RETURN_IF_ERROR(optimizer.Validate());
  if (batch_size < 1 || batch_size > (1 << 16)) {
    return Bad("batch_size", "must be in [1, 65536]", batch_size);
  }
  if (steps < 1) return Bad("steps", "must be >= 1", double(steps));
  if (eval_every_tokens < 0) {
    return Bad("eval_every_tokens", "must be >= 0", double(eval_every_tokens));
  }
  if (eval_tokens < model.seq_len + 1) {
    return Bad("eval_tokens", "must be at least seq_len + 1",
               double(eval_tokens));
  }
  for (size_t i = 0; i < eval_at_tokens.size(); ++i) {
    if (eval_at_tokens[i] < 1) {
      return Bad("eval_at_tokens[" + std::to_string(i) + "]", "must be >= 1",
                 double(eval_at_tokens[i]));
    }
  }
  if (threads < 0) return Bad("threads", "must be >= 0", threads);
  if (device < 0) return Bad("device", "must be >= 0", device);
  if (gpus < 1 || gpus > kMaxGpus) {
    return Bad("gpus", "must be in [1, " + std::to_string(kMaxGpus) + "]",
               gpus);
  }
  if (gpus > 1 && backend != TrainBackend::kCuda) {
    return Bad("gpus", "more than 1 needs backend: cuda", gpus);
  }
  if (matmul == MatmulMath::kBf16 && backend != TrainBackend::kCuda) {
    return InvalidArgumentError(
        "matmul: bf16 needs backend: cuda (the CPU computes in fp32)");
  }
  if (batch_size % gpus != 0) {
    return Bad("batch_size",
               "must be a multiple of gpus (" + std::to_string(gpus) + ")",
               batch_size);
  }
  return OkStatus();
}

float LearningRate(const OptimizerConfig& c, int64_t step,
                   int64_t total_steps) {
  if (step < c.warmup_steps) return c.lr * float(step + 1) / c.warmup_steps;
  float min_lr = c.lr * c.min_lr_ratio;
  if (c.schedule == Schedule::kCosine) {
    int64_t span = total_steps - c.warmup_steps;
    if (span <= 1) return c.lr;
    double progress = double(step - c.warmup_steps) / double(span - 1);
    return min_lr + (c.lr - min_lr) * 0.5f *
                        float(1 + std::cos(std::numbers::pi * progress));
  }
  // Warmup-stable-decay (Hu et al. 2024, MiniCPM): hold the peak, then decay
  // linearly to min_lr over the last decay_fraction of the steps.
  int64_t decay_steps = int64_t(std::ceil(c.decay_fraction * total_steps));
  int64_t decay_start = total_steps - decay_steps;
  if (step < decay_start || decay_steps == 0) return c.lr;
  double progress = double(step - decay_start + 1) / double(decay_steps);
  return c.lr + (min_lr - c.lr) * float(progress);
}

}  // namespace moesweep::worker
