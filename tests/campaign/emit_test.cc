// The normalized YAML (emit.cc): it reads back as the same spec, every field
// written, numbers exact.

#include <gtest/gtest.h>

#include <string>

#include "campaign/campaign.h"
#include "campaign/campaign_internal.h"
#include "tests/campaign/base_spec.h"

namespace moesweep::campaign {
namespace {

using testing::BaseWith;
using testing::kBaseSpec;

CampaignSpec Parsed(std::string_view text) {
  StatusOr<CampaignSpec> spec = ParseCampaignSpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status().ToString() << "\n" << text;
  return spec.ok() ? *spec : CampaignSpec{};
}

void ExpectRoundTrip(const CampaignSpec& spec) {
  const std::string yaml = CampaignSpecToYaml(spec);
  SCOPED_TRACE(yaml);
  const StatusOr<CampaignSpec> again = ParseCampaignSpec(yaml);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, spec);
  EXPECT_EQ(CampaignSpecToYaml(*again), yaml);  // normalized: a fixed point
}

TEST(CampaignEmitTest, BaseSpecRoundTrips) {
  ExpectRoundTrip(Parsed(kBaseSpec));
}

TEST(CampaignEmitTest, EveryQuestionKindAndOptionRoundTrips) {
  ExpectRoundTrip(Parsed(BaseWith(
      "question: {kind: compute_optimal_loss, flops: 1e22}",
      "question: {kind: optimal_architecture, flops: 1e22, max_total_params: "
      "1e10, max_active_params: 2e9, max_memory_bytes: 8e10, "
      "max_flops_per_token: 1e10}")));
  ExpectRoundTrip(
      Parsed(BaseWith("question: {kind: compute_optimal_loss, flops: 1e22}",
                      "question: {kind: law_parameter, name: alpha}")));
  ExpectRoundTrip(Parsed(BaseWith(
      "question: {kind: compute_optimal_loss, flops: 1e22}",
      "question: {kind: prediction, at: {tokens: 1e11, num_experts: 8, "
      "active_params: 1.3e9}}")));
  ExpectRoundTrip(Parsed(BaseWith(
      "training: {schedule: wsd, lr: {rule: ludziejewski}, warmup_tokens: "
      "1e8, batch_tokens: 524288, eval_every_tokens: 2.5e8}",
      "training: {lr: {constant: 0.003}}\nname: moe-1.b_2")));
  ExpectRoundTrip(Parsed(BaseWith(
      "training: {schedule: wsd, lr: {rule: ludziejewski}, warmup_tokens: "
      "1e8, batch_tokens: 524288, eval_every_tokens: 2.5e8}",
      "training: {schedule: wsd, branching: true}")));
  ExpectRoundTrip(Parsed(
      BaseWith("heads: 4", "head_dim: 64\n  experts_power_of_two: true")));
  ExpectRoundTrip(Parsed(BaseWith(
      "seed: 7", "seed: 7\nvalidate: {runs: 16, flops_multiple: 2.5}")));
  ExpectRoundTrip(Parsed(BaseWith(
      "seed: 7", "seed: 7\nvalidate: {flops_multiple: 8, shape: any}")));
  ExpectRoundTrip(Parsed(BaseWith(
      "lr: {rule: ludziejewski}",
      "lr: {rule: power, base: 0.0123, exponent: 0.35, reference: 1e5}")));
  ExpectRoundTrip(Parsed(BaseWith("lr: {rule: ludziejewski}",
                                  "lr: {rule: power, base: 0.0123, exponent: "
                                  "0.35, reference: 1e5, experts_exponent: "
                                  "0.125}")));
}

TEST(CampaignEmitTest, ExprLawAndFeatureSpaceRoundTrip) {
  ExpectRoundTrip(Parsed(R"(law:
  family: expr
  expression: "E + A / params^alpha + B / tokens^beta"
  params:
    E: {lower: 0.1, upper: 10, starts: [1, 2]}
    A: {lower: 1, upper: 1e7, starts: [100, 1000]}
    alpha: {lower: 0.01, upper: 2, starts: [0.3]}
    B: {lower: 1, upper: 1e7, starts: [100]}
    beta: {lower: 0.01, upper: 2, starts: [0.3]}
  huber_delta: 0.01
space:
  params: {min: 1e8, max: 1e9, log: true}
  active_params: [5e7, 1e8]
  tokens: {min: 1e9, max: 2e10, log: true, step: 2}
budget: {flops: 1e20}
question: {kind: compute_optimal_loss, flops: 1e22}
target: {relative_width: 0.01}
strategy: sobol
seed: 18446744073709551615
)"));
}

TEST(CampaignEmitTest, NumbersSurviveExactly) {
  CampaignSpec spec = Parsed(kBaseSpec);
  spec.budget.flops = 0.1 + 0.2;  // 0.30000000000000004
  spec.limits.max_flops = 0.1;
  spec.target_relative_width = 1.0 / 3.0;
  ASSERT_TRUE(ValidateCampaignSpec(spec).ok());
  ExpectRoundTrip(spec);
}

TEST(CampaignEmitTest, WritesEveryDefault) {
  const std::string yaml = CampaignSpecToYaml(Parsed(R"(law: joint
space: {d_model: [512], layers: [8], tokens: [1e9], vocab_size: 256, seq_len: 512, heads: 8}
budget: {flops: 1e19}
question: {kind: compute_optimal_loss, flops: 1e21}
target: {relative_width: 0.05}
)"));
  for (std::string_view line :
       {"huber_delta: 0.001", "experts: [1]", "top_k: [1]", "granularity: [1]",
        "shared_experts: [0]", "experts_power_of_two: false",
        "max_parallel_runs: 1", "schedule: cosine", "lr: {rule: ludziejewski}",
        "strategy: active", "seed: 0"}) {
    EXPECT_NE(yaml.find(line), std::string::npos) << line << "\n" << yaml;
  }
}

TEST(CampaignEmitTest, FormatNumberIsShortAndExact) {
  EXPECT_EQ(FormatNumber(1e19), "1e19");
  EXPECT_EQ(FormatNumber(0.001), "0.001");
  EXPECT_EQ(FormatNumber(3), "3");
  EXPECT_EQ(FormatNumber(1e100), "1e100");
  EXPECT_EQ(FormatNumber(2e-300), "2e-300");
  EXPECT_EQ(FormatNumber(-2.5e-7), "-2.5e-7");
  EXPECT_EQ(std::stod(FormatNumber(0.1 + 0.2)), 0.1 + 0.2);
}

}  // namespace
}  // namespace moesweep::campaign
