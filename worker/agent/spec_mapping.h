// TrialSpec -> TrainOptions: what the trainer runs for one attempt of a trial
// (proto/moesweep/v1/common.proto). Internal to worker/agent/; the tests reach
// it through this header.

#ifndef MOESWEEP_WORKER_AGENT_SPEC_MAPPING_H_
#define MOESWEEP_WORKER_AGENT_SPEC_MAPPING_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "moesweep/v1/common.pb.h"
#include "worker/worker.h"

namespace moesweep::worker::agent {

namespace v1 = ::moesweep::v1;

// The dataset folder an empty TrialSpec.dataset stands for.
inline constexpr char kDefaultDataset[] = "default";

// The trainer's options for `spec`, reading its shards from
// <data_root>/<spec.dataset or "default">/{train,val}.bin with `threads`
// trainer threads (0: every hardware thread). The mapping:
//   architecture.*        -> model (ffn_hidden = expert_hidden_dim x
//                            granularity, so each expert is expert_hidden_dim
//                            wide); optimizer.load_balance_loss_weight and
//                            router_z_loss_weight -> model.aux_loss_coef and
//                            z_loss_coef
//   batch_size_sequences  -> batch_size
//   train_tokens          -> steps = ceil(train_tokens / tokens per step)
//   schedule.*            -> optimizer: peak_learning_rate -> lr,
//                            final_learning_rate_fraction -> min_lr_ratio,
//                            warmup_tokens -> warmup_steps (rounded up),
//                            WSD decay_tokens -> decay_fraction such that the
//                            trainer decays over ceil(decay_tokens / tokens
//                            per step) steps
//   optimizer.*           -> weight_decay, beta1, beta2, eps, grad_clip
//   eval_at_tokens, eval_tokens, seed -> the same-named options.
// INVALID_ARGUMENT "<field>: <rule>, got <value>" naming the TrialSpec field
// (e.g. "architecture.top_k: must be in [1, architecture.num_experts], got 3")
// for a spec the trainer cannot run. Also checks report_every_steps >= 1,
// max_seconds >= 0, a dataset that is one folder name, and the branching
// fields: a lineage of safe characters, checkpoint_at_tokens ascending past
// resume_from_tokens up to train_tokens, resume_from_tokens < train_tokens.
StatusOr<TrainOptions> TrainOptionsFromSpec(const v1::TrialSpec& spec,
                                            const std::string& data_root,
                                            int threads);

// Bounds on a spec's branching fields (TrialSpec.lineage,
// checkpoint_at_tokens), checked with the rest.
inline constexpr std::size_t kMaxLineageChars = 64;
inline constexpr int kMaxCheckpoints = 16;

// Where a lineage's checkpoint at `tokens` lives on this worker:
// <checkpoint_dir>/<spec.lineage>/<tokens>.ckpt. REQUIRES: a spec that
// TrainOptionsFromSpec accepts (the lineage is one safe path component).
std::string CheckpointPath(const std::string& checkpoint_dir,
                           const v1::TrialSpec& spec, int64_t tokens);

// Tokens one optimizer step trains: batch_size_sequences x seq_len.
int64_t TokensPerStep(const v1::TrialSpec& spec);

}  // namespace moesweep::worker::agent

#endif  // MOESWEEP_WORKER_AGENT_SPEC_MAPPING_H_
