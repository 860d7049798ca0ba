#include "cli/train_config.h"

#include <gtest/gtest.h>

namespace moesweep::cli {
namespace {

constexpr char kRun[] = R"(data_dir: d
steps: 4
batch_size: 2
backend: cuda
device: 1
gpus: 2
matmul: bf16
eval_at_tokens: [32]
model:
  d_model: 16
  n_heads: 2
  seq_len: 8
  n_experts: 4
  ffn_hidden: 32
  granularity: 2
  n_shared_experts: 1
optimizer:
  schedule: wsd
  lr: 1.0e-2
)";

TEST(TrainConfigTest, ReadsEveryLevel) {
  StatusOr<worker::TrainOptions> o = ParseTrainConfig(kRun, "run.yaml");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->data_dir, "d");
  EXPECT_EQ(o->steps, 4);
  EXPECT_EQ(o->backend, worker::TrainBackend::kCuda);
  EXPECT_EQ(o->device, 1);
  EXPECT_EQ(o->gpus, 2);
  EXPECT_EQ(o->matmul, worker::MatmulMath::kBf16);
  EXPECT_EQ(o->eval_at_tokens, std::vector<int64_t>{32});
  EXPECT_EQ(o->model.expert_hidden(), 16);
  EXPECT_EQ(o->model.n_shared_experts, 1);
  EXPECT_EQ(o->optimizer.schedule, worker::Schedule::kWarmupStableDecay);
  EXPECT_FLOAT_EQ(o->optimizer.lr, 1e-2f);
}

TEST(TrainConfigTest, ErrorsNameTheFieldPath) {
  struct Case {
    std::string yaml, message;
  } cases[] = {
      {"data_dir: d\nmodel: {d_model: abc}",
       "run.yaml: model.d_model: must be an integer, got 'abc'"},
      {"data_dir: d\nmodel: {n_expert: 4}",
       "run.yaml: model.n_expert: unknown field"},
      {"data_dir: d\nbackend: gpu",
       "run.yaml: backend: must be cpu or cuda, got 'gpu'"},
      {"data_dir: d\ndevice: -1", "run.yaml: device: must be >= 0, got -1"},
      {"data_dir: d\ngpus: 2",
       "run.yaml: gpus: more than 1 needs backend: cuda, got 2"},
      {"data_dir: d\nmatmul: tf32",
       "run.yaml: matmul: must be fp32 or bf16, got 'tf32'"},
      {"data_dir: d\noptimizer: {schedule: linear}",
       "run.yaml: optimizer.schedule: must be cosine or wsd, got 'linear'"},
      {"data_dir: d\nmodel: {top_k: 9}",
       "run.yaml: model.top_k: must be in [1, n_experts], got 9"},
      {"steps: 3", "run.yaml: data_dir: required"},
      {"data_dir: d\neval_at_tokens: [1, x]",
       "run.yaml: eval_at_tokens[1]: must be an integer, got 'x'"},
      // Found by fuzz/train_config_fuzzer: the key threw out of the parser.
      {"data_dir: d\noptimizer:\n  ? schedule: cosine\n  : 1",
       "run.yaml: optimizer: every key must be a plain name"},
      {"? [a, b]\n: 1", "run.yaml: top level: every key must be a plain name"},
  };
  for (const Case& c : cases) {
    StatusOr<worker::TrainOptions> o = ParseTrainConfig(c.yaml, "run.yaml");
    ASSERT_FALSE(o.ok()) << c.yaml;
    EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(o.status().message(), c.message);
  }
}

}  // namespace
}  // namespace moesweep::cli
