// TrialSpec -> TrainOptions. Every rule names the TrialSpec field it checks,
// so a Failed(FAILURE_KIND_ERROR) tells the campaign's author what to fix.

#include "worker/agent/spec_mapping.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

namespace moesweep::worker::agent {
namespace {

Status Bad(const std::string& field, const std::string& rule, int64_t value) {
  return InvalidArgumentError(field + ": " + rule + ", got " +
                              std::to_string(value));
}

Status BadNumber(const std::string& field, const std::string& rule,
                 double value) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.17g", value);
  return InvalidArgumentError(field + ": " + rule + ", got " + text);
}

// `value` in [lo, hi], or INVALID_ARGUMENT naming `field`.
Status InRange(const std::string& field, int64_t value, int64_t lo, int64_t hi,
               const std::string& rule) {
  if (value < lo || value > hi) return Bad(field, rule, value);
  return OkStatus();
}

Status CheckArchitecture(const v1::ArchitectureSpec& a) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  MOESWEEP_RETURN_IF_ERROR(InRange("architecture.vocab_size", a.vocab_size(), 2,
                                   65536, "must be in [2, 65536]"));
  MOESWEEP_RETURN_IF_ERROR(
      InRange("architecture.seq_len", a.seq_len(), 1, kMax, "must be >= 1"));
  MOESWEEP_RETURN_IF_ERROR(
      InRange("architecture.d_model", a.d_model(), 2, kMax, "must be >= 2"));
  MOESWEEP_RETURN_IF_ERROR(InRange("architecture.num_layers", a.num_layers(), 1,
                                   kMax, "must be >= 1"));
  if (a.num_heads() < 1 || a.d_model() % a.num_heads() != 0) {
    return Bad("architecture.num_heads", "must divide architecture.d_model",
               a.num_heads());
  }
  if ((a.d_model() / a.num_heads()) % 2 != 0) {
    return Bad("architecture.num_heads",
               "head width d_model / num_heads must be even (RoPE)",
               a.num_heads());
  }
  MOESWEEP_RETURN_IF_ERROR(InRange("architecture.num_experts", a.num_experts(),
                                   1, kMax, "must be >= 1"));
  MOESWEEP_RETURN_IF_ERROR(InRange("architecture.top_k", a.top_k(), 1,
                                   a.num_experts(),
                                   "must be in [1, architecture.num_experts]"));
  MOESWEEP_RETURN_IF_ERROR(InRange("architecture.granularity", a.granularity(),
                                   1, kMax, "must be >= 1"));
  MOESWEEP_RETURN_IF_ERROR(InRange("architecture.num_shared_experts",
                                   a.num_shared_experts(), 0, kMax,
                                   "must be >= 0"));
  MOESWEEP_RETURN_IF_ERROR(InRange("architecture.expert_hidden_dim",
                                   a.expert_hidden_dim(), 1, kMax,
                                   "must be >= 1"));
  if (int64_t{a.expert_hidden_dim()} * a.granularity() > kMax) {
    return Bad("architecture.expert_hidden_dim",
               "times architecture.granularity must fit 32 bits",
               a.expert_hidden_dim());
  }
  return OkStatus();
}

Status CheckSchedule(const v1::ScheduleSpec& s, int64_t train_tokens) {
  if (s.schedule() != v1::LR_SCHEDULE_COSINE &&
      s.schedule() != v1::LR_SCHEDULE_WARMUP_STABLE_DECAY) {
    return Bad("schedule.schedule",
               "must be LR_SCHEDULE_COSINE or LR_SCHEDULE_WARMUP_STABLE_DECAY",
               s.schedule());
  }
  if (!(s.peak_learning_rate() > 0) || !std::isfinite(s.peak_learning_rate())) {
    return BadNumber("schedule.peak_learning_rate", "must be finite and > 0",
                     s.peak_learning_rate());
  }
  double fraction = s.final_learning_rate_fraction();
  if (!(fraction >= 0 && fraction <= 1)) {
    return BadNumber("schedule.final_learning_rate_fraction",
                     "must be in [0, 1]", fraction);
  }
  MOESWEEP_RETURN_IF_ERROR(InRange("schedule.warmup_tokens", s.warmup_tokens(),
                                   0, train_tokens,
                                   "must be in [0, train_tokens]"));
  if (s.schedule() == v1::LR_SCHEDULE_WARMUP_STABLE_DECAY) {
    MOESWEEP_RETURN_IF_ERROR(InRange("schedule.decay_tokens", s.decay_tokens(),
                                     0, train_tokens,
                                     "must be in [0, train_tokens]"));
  }
  return OkStatus();
}

Status CheckOptimizer(const v1::OptimizerSpec& o) {
  struct Rule {
    const char* field;
    double value;
    bool ok;
    const char* rule;
  };
  const Rule rules[] = {
      {"optimizer.weight_decay", o.weight_decay(), o.weight_decay() >= 0,
       "must be >= 0"},
      {"optimizer.adam_beta1", o.adam_beta1(),
       o.adam_beta1() >= 0 && o.adam_beta1() < 1, "must be in [0, 1)"},
      {"optimizer.adam_beta2", o.adam_beta2(),
       o.adam_beta2() >= 0 && o.adam_beta2() < 1, "must be in [0, 1)"},
      {"optimizer.adam_epsilon", o.adam_epsilon(), o.adam_epsilon() > 0,
       "must be > 0"},
      {"optimizer.grad_clip_norm", o.grad_clip_norm(), o.grad_clip_norm() >= 0,
       "must be >= 0"},
      {"optimizer.load_balance_loss_weight", o.load_balance_loss_weight(),
       o.load_balance_loss_weight() >= 0, "must be >= 0"},
      {"optimizer.router_z_loss_weight", o.router_z_loss_weight(),
       o.router_z_loss_weight() >= 0, "must be >= 0"},
  };
  for (const Rule& r : rules) {
    if (!r.ok || !std::isfinite(r.value)) {
      return BadNumber(r.field, r.rule, r.value);
    }
  }
  return OkStatus();
}

// A lineage names a folder under the checkpoint directory: one path
// component of safe characters, and at most kMaxCheckpoints saves a trial.
Status CheckLineage(const v1::TrialSpec& spec) {
  const std::string& lineage = spec.lineage();
  if (lineage.size() > kMaxLineageChars ||
      !std::all_of(lineage.begin(), lineage.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
               c == '_';
      })) {
    return InvalidArgumentError("lineage: must be at most " +
                                std::to_string(kMaxLineageChars) +
                                " characters of [A-Za-z0-9_-], got '" +
                                lineage.substr(0, kMaxLineageChars) + "'");
  }
  const bool branches =
      spec.checkpoint_at_tokens_size() > 0 || spec.resume_from_tokens() != 0;
  if (branches && lineage.empty()) {
    return InvalidArgumentError(
        "lineage: required with checkpoint_at_tokens or resume_from_tokens");
  }
  if (spec.checkpoint_at_tokens_size() > kMaxCheckpoints) {
    return InvalidArgumentError(
        "checkpoint_at_tokens: at most " + std::to_string(kMaxCheckpoints) +
        " entries, got " + std::to_string(spec.checkpoint_at_tokens_size()));
  }
  int64_t previous = spec.resume_from_tokens();
  for (int i = 0; i < spec.checkpoint_at_tokens_size(); ++i) {
    const int64_t t = spec.checkpoint_at_tokens(i);
    MOESWEEP_RETURN_IF_ERROR(InRange(
        "checkpoint_at_tokens[" + std::to_string(i) + "]", t, previous + 1,
        spec.train_tokens(),
        "must ascend, past resume_from_tokens, to at most train_tokens"));
    previous = t;
  }
  return InRange("resume_from_tokens", spec.resume_from_tokens(), 0,
                 spec.train_tokens() - 1,
                 "must be in [0, train_tokens) (0: from scratch)");
}

Status CheckTrial(const v1::TrialSpec& spec) {
  MOESWEEP_RETURN_IF_ERROR(CheckArchitecture(spec.architecture()));
  constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMax32 = std::numeric_limits<int32_t>::max();
  MOESWEEP_RETURN_IF_ERROR(InRange("batch_size_sequences",
                                   spec.batch_size_sequences(), 1, kMax32,
                                   "must be >= 1"));
  MOESWEEP_RETURN_IF_ERROR(
      InRange("train_tokens", spec.train_tokens(), 1, kMax64, "must be >= 1"));
  MOESWEEP_RETURN_IF_ERROR(CheckSchedule(spec.schedule(), spec.train_tokens()));
  MOESWEEP_RETURN_IF_ERROR(CheckOptimizer(spec.optimizer()));
  for (int i = 0; i < spec.eval_at_tokens_size(); ++i) {
    MOESWEEP_RETURN_IF_ERROR(
        InRange("eval_at_tokens[" + std::to_string(i) + "]",
                spec.eval_at_tokens(i), 1, kMax64, "must be >= 1"));
  }
  MOESWEEP_RETURN_IF_ERROR(
      InRange("eval_tokens", spec.eval_tokens(),
              int64_t{spec.architecture().seq_len()} + 1, kMax64,
              "must be at least architecture.seq_len + 1"));
  MOESWEEP_RETURN_IF_ERROR(InRange("report_every_steps",
                                   spec.report_every_steps(), 1, kMax32,
                                   "must be >= 1"));
  if (!(spec.max_seconds() >= 0) || !std::isfinite(spec.max_seconds())) {
    return BadNumber("max_seconds", "must be finite and >= 0 (0: no limit)",
                     spec.max_seconds());
  }
  MOESWEEP_RETURN_IF_ERROR(CheckLineage(spec));
  const std::string& d = spec.dataset();
  if (d == "." || d == ".." || d.find('/') != std::string::npos ||
      d.find('\0') != std::string::npos) {
    return InvalidArgumentError(
        "dataset: must be one folder name under the data directory, got '" + d +
        "'");
  }
  return OkStatus();
}

}  // namespace

int64_t TokensPerStep(const v1::TrialSpec& spec) {
  return int64_t{spec.batch_size_sequences()} * spec.architecture().seq_len();
}

StatusOr<TrainOptions> TrainOptionsFromSpec(const v1::TrialSpec& spec,
                                            const std::string& data_root,
                                            int threads) {
  MOESWEEP_RETURN_IF_ERROR(CheckTrial(spec));
  const v1::ArchitectureSpec& a = spec.architecture();
  TrainOptions t;
  ModelConfig& m = t.model;
  m.vocab_size = a.vocab_size();
  m.d_model = a.d_model();
  m.n_layers = a.num_layers();
  m.n_heads = a.num_heads();
  m.seq_len = a.seq_len();
  m.n_experts = a.num_experts();
  m.top_k = a.top_k();
  m.granularity = a.granularity();
  m.ffn_hidden = a.expert_hidden_dim() * a.granularity();
  m.n_shared_experts = a.num_shared_experts();
  m.tied_embeddings = a.tied_embeddings();
  m.aux_loss_coef = float(spec.optimizer().load_balance_loss_weight());
  m.z_loss_coef = float(spec.optimizer().router_z_loss_weight());

  const int64_t tokens_per_step = TokensPerStep(spec);
  t.batch_size = spec.batch_size_sequences();
  t.steps = (spec.train_tokens() + tokens_per_step - 1) / tokens_per_step;
  if (t.steps > std::numeric_limits<int32_t>::max()) {
    return Bad("train_tokens",
               "must take fewer than 2^31 steps of batch_size_sequences x "
               "architecture.seq_len tokens",
               spec.train_tokens());
  }

  const v1::ScheduleSpec& s = spec.schedule();
  OptimizerConfig& o = t.optimizer;
  o.lr = float(s.peak_learning_rate());
  o.min_lr_ratio = float(s.final_learning_rate_fraction());
  o.warmup_steps =
      int((s.warmup_tokens() + tokens_per_step - 1) / tokens_per_step);
  if (s.schedule() == v1::LR_SCHEDULE_WARMUP_STABLE_DECAY) {
    o.schedule = Schedule::kWarmupStableDecay;
    int64_t decay_steps =
        (s.decay_tokens() + tokens_per_step - 1) / tokens_per_step;
    // The trainer decays over ceil(decay_fraction x steps) steps in float;
    // half a step below decay_steps / steps makes that ceil exact.
    o.decay_fraction =
        decay_steps == 0 ? 0.0f
                         : float((double(decay_steps) - 0.5) / double(t.steps));
  } else {
    o.schedule = Schedule::kCosine;
  }
  const v1::OptimizerSpec& opt = spec.optimizer();
  o.weight_decay = float(opt.weight_decay());
  o.beta1 = float(opt.adam_beta1());
  o.beta2 = float(opt.adam_beta2());
  o.eps = float(opt.adam_epsilon());
  o.grad_clip = float(opt.grad_clip_norm());

  t.eval_at_tokens.assign(spec.eval_at_tokens().begin(),
                          spec.eval_at_tokens().end());
  t.eval_every_tokens = 0;
  t.eval_tokens = spec.eval_tokens();
  t.seed = spec.seed();
  t.threads = threads;
  const std::string& dataset =
      spec.dataset().empty() ? std::string(kDefaultDataset) : spec.dataset();
  t.data_dir = (std::filesystem::path(data_root) / dataset).string();
  // Every rule above is stricter than the trainer's own; this is the seam
  // where a new trainer rule would show up.
  Status valid = t.Validate();
  if (!valid.ok()) {
    return InvalidArgumentError("trial spec: " + std::string(valid.message()));
  }
  return t;
}

std::string CheckpointPath(const std::string& checkpoint_dir,
                           const v1::TrialSpec& spec, int64_t tokens) {
  return (std::filesystem::path(checkpoint_dir) / spec.lineage() /
          (std::to_string(tokens) + ".ckpt"))
      .string();
}

}  // namespace moesweep::worker::agent
