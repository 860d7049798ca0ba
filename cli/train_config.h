// run.yaml -> worker::TrainOptions for `moesweep train`. The file mirrors the
// structs field for field:
//
//   data_dir: build/demo/data   # train.bin + val.bin; relative to the cwd
//   steps: 200
//   batch_size: 8
//   seed: 1
//   threads: 0                  # 0: every hardware thread (backend cpu)
//   backend: cpu                # or cuda: one GPU (README, "GPU workers")
//   device: 0                   # the GPU, for backend cuda
//   eval_every_tokens: 65536
//   eval_at_tokens: [16384]
//   eval_tokens: 32768
//   model: {vocab_size, d_model, n_layers, n_heads, seq_len, n_experts,
//           top_k, ffn_hidden, granularity, n_shared_experts,
//           tied_embeddings, rope_theta, aux_loss_coef, z_loss_coef,
//           init_std}
//   optimizer: {lr, min_lr_ratio, warmup_steps, schedule: cosine | wsd,
//               decay_fraction, weight_decay, beta1, beta2, eps, grad_clip}
//
// Absent fields keep the structs' defaults.

#ifndef MOESWEEP_CLI_TRAIN_CONFIG_H_
#define MOESWEEP_CLI_TRAIN_CONFIG_H_

#include <string>

#include "common/status.h"
#include "worker/worker.h"

namespace moesweep::cli {

// INVALID_ARGUMENT "<source>: <field path>: <reason>" for bad YAML, an
// unknown field, a value of the wrong type, or one Validate() refuses.
StatusOr<worker::TrainOptions> ParseTrainConfig(const std::string& yaml,
                                                const std::string& source);
// The same from a file; NOT_FOUND when it cannot be read.
StatusOr<worker::TrainOptions> LoadTrainConfig(const std::string& path);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_TRAIN_CONFIG_H_
