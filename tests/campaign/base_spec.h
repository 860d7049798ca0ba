// A valid campaign spec that tests vary one line at a time.

#ifndef MOESWEEP_TESTS_CAMPAIGN_BASE_SPEC_H_
#define MOESWEEP_TESTS_CAMPAIGN_BASE_SPEC_H_

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace moesweep::campaign::testing {

// One entry per line so that a case can replace exactly one field.
inline constexpr std::string_view kBaseSpec = R"(law: {family: joint}
space:
  d_model: {min: 256, max: 1024, log: true, step: 2}
  layers: [4, 8]
  experts: [1, 4, 8]
  top_k: [1]
  granularity: [1]
  shared_experts: [0]
  tokens: {min: 1e9, max: 2e10, log: true}
  vocab_size: 50257
  seq_len: 1024
  heads: 4
limits: {max_flops: 1e19, max_tokens: 2e10, max_seconds: 28800}
budget: {flops: 1e20, gpu_hours: 100}
question: {kind: compute_optimal_loss, flops: 1e22}
target: {relative_width: 0.01}
max_parallel_runs: 8
training: {schedule: wsd, lr: {rule: ludziejewski}, warmup_tokens: 1e8, batch_tokens: 524288, eval_every_tokens: 2.5e8}
strategy: active
seed: 7
)";

// kBaseSpec with the one occurrence of `from` replaced by `to` (an empty `to`
// deletes it). Fails the test when `from` is not there exactly once.
inline std::string BaseWith(std::string_view from, std::string_view to) {
  std::string text(kBaseSpec);
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "not in the base spec: " << from;
  if (at == std::string::npos) return text;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos)
      << "twice in the base spec: " << from;
  text.replace(at, from.size(), to);
  return text;
}

}  // namespace moesweep::campaign::testing

#endif  // MOESWEEP_TESTS_CAMPAIGN_BASE_SPEC_H_
