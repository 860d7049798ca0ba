// The worker's public surface: the MoE transformer trainer (config, one
// training run step by step, eval on held-out tokens) and the token-shard
// data pipeline. Depends only on kernels/ and common/: no gRPC, no YAML.

#ifndef MOESWEEP_WORKER_WORKER_H_
#define MOESWEEP_WORKER_WORKER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "fitter/arch.h"

namespace moesweep::worker {

// ---- Data -----------------------------------------------------------------

// A shard of uint16 tokens (format: worker/data/token_shard.cc).
struct TokenShard {
  int vocab_size = 256;
  std::vector<uint16_t> tokens;
};

// Writes `shard` to `path` (replacing it). INVALID_ARGUMENT for a vocabulary
// that does not fit uint16 or a token outside it; UNAVAILABLE when the file
// cannot be written.
Status WriteTokenShard(const std::string& path, const TokenShard& shard);
// NOT_FOUND when the file is missing; DATA_LOSS for a bad magic, an unknown
// version, a count that disagrees with the file size, or a token outside the
// vocabulary.
StatusOr<TokenShard> ReadTokenShard(const std::string& path);

// The byte-level tokenizer: one token per byte, vocabulary 256.
inline constexpr int kByteVocabSize = 256;
std::vector<uint16_t> ByteTokenize(std::string_view text);

// How a text file divides into documents, the unit of the held-out split:
// each document goes whole to the training or the held-out shard. Every byte
// of a file belongs to exactly one document; separators stay with the
// document they end. A file always begins a new document. Stored by name in
// the prepare manifest.
enum class DocumentFormat : int {
  kText = 0,        // "text": a paragraph, ending after a blank line, and cut
                    // after 1 KiB, so a file without blank lines still splits
  kFile = 1,        // "file": the whole file (one reST page, one book)
  kFortune = 2,     // "fortune": fortune(6) files; a line holding "%" ends one
  kDictionary = 3,  // "dict": dictd's .dict text; an entry begins at a line
                    // that starts with a character other than a blank
};
// The names above; ParseDocumentFormat is INVALID_ARGUMENT for any other.
std::string_view DocumentFormatName(DocumentFormat format);
StatusOr<DocumentFormat> ParseDocumentFormat(std::string_view name);

// One input of PrepareData.
struct TextSource {
  // A bare path is plain text, so `{{"a.txt"}, dir}` reads as before.
  TextSource(std::string path,  // NOLINT(google-explicit-constructor)
             DocumentFormat format = DocumentFormat::kText)
      : path(std::move(path)), format(format) {}
  TextSource(const char* path)  // NOLINT(google-explicit-constructor)
      : TextSource(std::string(path)) {}
  // A file, plain or gzip (read through zlib either way), or a folder: every
  // regular file below it, in path order.
  std::string path;
  DocumentFormat format;
};

// The named corpus "debian-en", about 52 MB of English text from Debian 12
// packages (scripts/setup installs them; README.md names their licences):
// dict-gcide's dictionary entries, python3.11-doc's reST sources, and ten
// files of fortunes. Paths only; nothing is read.
std::vector<TextSource> DebianEnglishCorpus();
// DebianEnglishCorpus() for "debian-en"; NOT_FOUND naming the known corpora
// for any other name.
StatusOr<std::vector<TextSource>> NamedCorpus(std::string_view name);

struct PrepareOptions {
  std::vector<TextSource> inputs;  // read in order
  std::string out_dir;             // gets train.bin, val.bin and manifest
  // The share of text bytes held out, as whole documents spread through the
  // inputs (each next document is held out while the held-out share is
  // below this).
  double val_fraction = 0.05;
  // Bounds checked before any work and while reading: input files after
  // folders are listed, and text bytes of all files together (after gzip).
  int max_files = 10000;
  int64_t max_bytes = int64_t{1} << 30;
};
struct PrepareReport {
  int64_t train_tokens = 0;
  int64_t val_tokens = 0;
  int64_t train_documents = 0;
  int64_t val_documents = 0;
  int64_t files = 0;
  // True when out_dir already held shards of the same inputs (paths, sizes
  // and modification times) and options, and nothing was redone.
  bool cached = false;
};
// Streams the inputs (memory bounded by buffers, not by the text) into
// out_dir/train.bin and out_dir/val.bin, creating out_dir, and writes
// out_dir/manifest last; with a manifest that matches, returns at once
// (cached). INVALID_ARGUMENT for no inputs, a fraction outside (0, 1), a
// folder with no files, inputs past max_files or max_bytes, a file that is
// not text (a NUL byte) or corrupt gzip, or too little text for both splits;
// NOT_FOUND for a missing input; UNAVAILABLE when a file cannot be read or
// written. Each message names the file.
StatusOr<PrepareReport> PrepareData(const PrepareOptions& options);

// ---- Trainer --------------------------------------------------------------

struct ModelConfig {
  int vocab_size = kByteVocabSize;  // V
  int d_model = 128;                // C
  int n_layers = 4;
  int n_heads = 4;    // C must divide by it; head width must be even (RoPE)
  int seq_len = 256;  // T
  int n_experts = 8;  // E; 1 is a dense model (no router)
  int top_k = 2;      // K <= E
  // Width of the dense SwiGLU FFN the experts are cut from; each expert's
  // hidden width is ffn_hidden / granularity (Krajewski et al. 2024).
  int ffn_hidden = 256;
  int granularity = 1;
  // Experts every token passes through, each as wide as a routed expert.
  int n_shared_experts = 0;
  bool tied_embeddings = false;  // LM head reuses the token embedding
  float rope_theta = 10000.0f;
  float aux_loss_coef = 0.01f;  // load balancing, summed over layers
  float z_loss_coef = 0.001f;   // router z-loss, summed over layers
  float init_std = 0.02f;

  int expert_hidden() const { return ffn_hidden / granularity; }  // H
  // INVALID_ARGUMENT naming the field and the reason.
  Status Validate() const;
  // The counts are fitter/arch's of ArchitectureOf(*this), the ones the
  // coordinator fits and prices a run by (fitter::ArchCounts says what each
  // holds); 0 when Validate() fails.
  int64_t TotalParameters() const;
  // Parameters one token passes through (K of E experts), embeddings in.
  int64_t ActiveParameters() const;
  // Training FLOPs per token, as fitter::ArchCounts::train_flops_per_token.
  double TrainingFlopsPerToken() const;
};

// The trainer's model as fitter/arch describes it: SwiGLU experts, full
// multi-head attention.
fitter::Architecture ArchitectureOf(const ModelConfig& config);

enum class Schedule : int { kCosine = 0, kWarmupStableDecay = 1 };

struct OptimizerConfig {
  float lr = 3e-3f;           // peak learning rate
  float min_lr_ratio = 0.1f;  // final lr = lr * min_lr_ratio
  int warmup_steps = 10;      // linear from lr / warmup_steps
  Schedule schedule = Schedule::kCosine;
  float decay_fraction = 0.2f;  // WSD: last fraction of steps decays linearly
  float weight_decay = 0.1f;    // on matrices, not on norm weights
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float grad_clip = 1.0f;  // global L2 norm; 0 disables
  Status Validate() const;
};

// The learning rate of 0-based `step` of `total_steps`.
float LearningRate(const OptimizerConfig& config, int64_t step,
                   int64_t total_steps);

// What a run trains on: the CPU (kernels::cpu) or GPUs (kernels::cuda).
enum class TrainBackend { kCpu, kCuda };
// How the GPU matmuls multiply the fp32 weights and activations: in fp32
// (matching the CPU trainer to rounding), or rounded to bf16 on tensor cores
// with fp32 accumulation (mixed precision's matmul error, many times
// faster). The CPU always computes in fp32.
enum class MatmulMath { kFp32, kBf16 };

// OK when this build and machine can train on `backend` with `gpus` GPUs;
// FAILED_PRECONDITION naming why not ("this build has no CUDA backend", no
// GPU visible, fewer than `gpus`, a device cannot be opened, no NCCL to join
// several). Opens and closes GPUs 0 to gpus - 1 for kCuda.
Status CheckTrainBackend(TrainBackend backend, int gpus = 1);

// The most GPUs one run spans: one node's, driven from one process.
inline constexpr int kMaxGpus = 16;

// What a worker tells the coordinator of its GPUs (WorkerCapabilities): the
// first one's name, and the smallest memory among GPUs 0 to gpus - 1, the
// one that bounds what a trial may use on each.
struct GpuInfo {
  std::string model;
  int64_t memory_bytes = 0;
};
// FAILED_PRECONDITION where a GPU cannot be queried or the build has no
// CUDA backend.
StatusOr<GpuInfo> QueryGpus(int gpus);

struct TrainOptions {
  ModelConfig model;
  OptimizerConfig optimizer;
  std::string data_dir;  // holds train.bin and val.bin (PrepareData)
  int batch_size = 8;    // B sequences of seq_len tokens a step
  int64_t steps = 100;
  uint64_t seed = 1;
  // Eval on the held-out split after the step that reaches each of these
  // token counts, every eval_every_tokens, and after the last step.
  std::vector<int64_t> eval_at_tokens;
  int64_t eval_every_tokens = 0;  // 0: none but the listed and the last
  int64_t eval_tokens = 32768;    // held-out tokens read per eval
  int threads = 0;                // cpu: 0 for every hardware thread
  TrainBackend backend = TrainBackend::kCpu;
  int device = 0;  // cuda: which GPU (the first, with several)
  // cuda: data parallel over GPUs device .. device + gpus - 1, each taking
  // batch_size / gpus sequences of every batch, gradients all-reduced with
  // NCCL (worker/trainer/replicas.h). The same run on 1 GPU differs only by
  // rounding and by the load-balancing loss, which each GPU takes over its
  // own share of the batch.
  int gpus = 1;
  MatmulMath matmul = MatmulMath::kFp32;  // kBf16 needs backend kCuda
  Status Validate() const;
};

struct StepReport {
  int64_t step = 0;    // 1-based, steps done
  int64_t tokens = 0;  // training tokens seen so far
  float loss = 0;      // mean cross-entropy of this batch, nats/token
  float aux_loss = 0;  // load-balancing loss, summed over layers
  float z_loss = 0;
  float lr = 0;
  float grad_norm = 0;             // before clipping
  double seconds = 0;              // the training step, eval excluded
  std::optional<float> eval_loss;  // nats/token, when this step evaluated
  double eval_seconds = 0;         // wall time of that eval
};

class Replicas;
class BatchLoader;

// One training run. Same options and data (thread count included) give
// bit-identical reports.
// Not thread-safe: one caller drives it; it owns its backend (on the CPU, a
// pool of worker threads; options.backend).
class Trainer {
 public:
  // Reads data_dir/train.bin and val.bin. Errors: Validate()'s, the shard
  // readers', INVALID_ARGUMENT for a shard vocabulary larger than the
  // model's or a shard shorter than one sequence.
  static StatusOr<std::unique_ptr<Trainer>> Create(const TrainOptions& options);
  // The same over shards already in memory.
  static StatusOr<std::unique_ptr<Trainer>> Create(const TrainOptions& options,
                                                   TokenShard train,
                                                   TokenShard val);
  // The memory Create asks of each backend (each GPU, or the host) for
  // these options: the model's parameters, gradients, AdamW moments and the
  // activations of batch_size / gpus sequences, plus headroom. Create fails
  // RESOURCE_EXHAUSTED where a backend has less free.
  static size_t MemoryNeeded(const TrainOptions& options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // One step: batch, forward, zero grad, backward, clip, AdamW, report.
  // FAILED_PRECONDITION after the last step.
  StatusOr<StepReport> Step();
  // Mean cross-entropy (nats/token) over the first eval_tokens held-out
  // tokens; no parameter changes.
  float Evaluate();
  bool Done() const { return step_ >= options_.steps; }
  const TrainOptions& options() const { return options_; }
  int64_t step() const { return step_; }

  // Writes the whole training state (parameters, AdamW moments, step, data
  // order) to `path` atomically: a temporary file, fsync, rename, the folder
  // synced; a crash leaves the old file or the new one. Format:
  // worker/trainer/checkpoint.cc.
  Status SaveCheckpoint(const std::string& path) const;
  // Continues from a checkpoint written by a run of the same model, batch
  // and seed: the steps after it report what that run's did, bit for bit.
  // options().steps may differ (a longer run, a cooldown branch) but not be
  // below the checkpoint's step. INVALID_ARGUMENT naming what differs for a
  // checkpoint of another run; DATA_LOSS for a file that is not a whole
  // checkpoint (its size is checked before it is read); NOT_FOUND for none.
  // On any error the trainer is unchanged.
  Status RestoreCheckpoint(const std::string& path);

 private:
  Trainer(const TrainOptions& options, std::unique_ptr<Replicas> model,
          TokenShard train, TokenShard val);
  bool EvalDue(int64_t tokens_before, int64_t tokens_after) const;

  const TrainOptions options_;
  std::unique_ptr<Replicas> model_;  // one copy a GPU; one on the CPU
  std::unique_ptr<BatchLoader> loader_;
  TokenShard val_;
  std::vector<int32_t> tokens_, targets_;
  int64_t step_ = 0;
};

}  // namespace moesweep::worker

#endif  // MOESWEEP_WORKER_WORKER_H_
