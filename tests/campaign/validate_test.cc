// Every value rule (validate.cc, space.cc), one bad field at a time: each spec
// is refused with INVALID_ARGUMENT naming the field's path and the rule.

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "campaign/campaign.h"
#include "tests/campaign/base_spec.h"

namespace moesweep::campaign {
namespace {

using testing::BaseWith;
using testing::kBaseSpec;

struct BadSpec {
  std::string_view from;  // a line of kBaseSpec ...
  std::string_view to;    // ... and what replaces it
  std::string_view path;  // the message starts with "<path>: "
  std::string_view rule;  // and contains this
};

constexpr std::string_view kQuestion =
    "question: {kind: compute_optimal_loss, flops: 1e22}";
constexpr std::string_view kTraining =
    "training: {schedule: wsd, lr: {rule: ludziejewski}, warmup_tokens: 1e8, "
    "batch_tokens: 524288, eval_every_tokens: 2.5e8}";

constexpr char kTrainingThenStrategy[] =
    "training: {schedule: wsd, lr: {rule: ludziejewski}, warmup_tokens: 1e8, "
    "batch_tokens: 524288, eval_every_tokens: 2.5e8}\nstrategy: active";

const BadSpec kBadSpecs[] = {
    // law
    {"law: {family: joint}", "law: {family: jointt}", "law.family",
     "must be one of chinchilla, finegrained, joint, datablations, "
     "comprehensive, expr, got 'jointt'"},
    {"law: {family: joint}", "law: {family: joint, huber_delta: 0}",
     "law.huber_delta", "must be > 0, got 0"},
    {"law: {family: joint}",
     "law: {family: expr, expression: 'E + A / params^alpha', params: {E: "
     "{lower: 0.1, upper: 10, starts: [1, 20]}, A: {lower: 1, upper: 1e6, "
     "starts: [10]}, alpha: {lower: 0, upper: 1, starts: [0.3]}}}",
     "law.params.E.starts[1]",
     "must be within [lower, upper] = [0.1, 10], got 20"},
    {"law: {family: joint}",
     "law: {family: expr, expression: 'E + A / params^alpha', params: {E: "
     "{lower: 1, upper: 0.5, starts: [1]}}}",
     "law.params.E.upper", "must be finite and > lower (1), got 0.5"},
    {"law: {family: joint}",
     "law: {family: expr, expression: 'E + A / parms', params: {E: {lower: "
     "0, upper: 5, starts: [1]}, A: {lower: 1, upper: 1e6, starts: [10]}}}",
     "law.expression", "parms"},
    // space: architectures
    {"experts: [1, 4, 8]", "experts: [1, 0, 8]", "space.experts[1]",
     "must be >= 1, got 0"},
    {"experts: [1, 4, 8]", "experts: [1, 4, 4]", "space.experts[2]",
     "duplicate of space.experts[1], got 4"},
    {"experts: [1, 4, 8]", "experts: [1, 2.5]", "space.experts[1]",
     "must be an integer, got 2.5"},
    {"experts: [1, 4, 8]", "experts: [1, 4, 12]\n  experts_power_of_two: true",
     "space.experts[2]",
     "must be a power of two (experts_power_of_two), got 12"},
    {"experts: [1, 4, 8]",
     "experts: {min: 1, max: 64}\n  experts_power_of_two: true",
     "space.experts", "a range of powers of two needs log: true"},
    {"top_k: [1]", "top_k: [1, 16]", "space.top_k[1]",
     "must be <= the largest experts (8), got 16"},
    {"top_k: [1]", "top_k: {min: 9, max: 10}", "space.top_k.min",
     "must be <= the largest experts (8), got 9"},
    {"granularity: [1]", "granularity: [0]", "space.granularity[0]",
     "must be >= 1, got 0"},
    {"shared_experts: [0]", "shared_experts: [-1]", "space.shared_experts[0]",
     "must be >= 0, got -1"},
    {"shared_experts: [0]", "shared_experts: {min: 0, max: 2, log: true}",
     "space.shared_experts.min", "must be > 0 on a log range, got 0"},
    {"layers: [4, 8]", "layers: {min: 8, max: 4}", "space.layers.max",
     "must be >= min (8), got 4"},
    {"layers: [4, 8]", "layers: {min: 2, max: 8, step: 1.5}",
     "space.layers.step", "must be an integer, got 1.5"},
    {"d_model: {min: 256, max: 1024, log: true, step: 2}",
     "d_model: {min: 0, max: 1024, step: 4}", "space.d_model.min",
     "must be >= 1, got 0"},
    {"d_model: {min: 256, max: 1024, log: true, step: 2}",
     "d_model: {min: 256, max: 1024, log: true, step: 0.5}",
     "space.d_model.step", "must be > 1 on a log range (a factor), got 0.5"},
    {"d_model: {min: 256, max: 1024, log: true, step: 2}",
     "d_model: {min: 256, max: 1024}", "space.d_model.step",
     "required, so that every d_model is a multiple of heads (4), got 0"},
    {"d_model: {min: 256, max: 1024, log: true, step: 2}",
     "d_model: {min: 256, max: 1024, step: 6}", "space.d_model.step",
     "must be a multiple of heads (4), got 6"},
    {"d_model: {min: 256, max: 1024, log: true, step: 2}",
     "d_model: [256, 258]", "space.d_model[1]",
     "must be a multiple of heads (4), got 258"},
    {"heads: 4", "heads: 3", "space.d_model.min",
     "must be a multiple of heads (3), got 256"},
    {"heads: 4", "heads: 0", "space.heads", "must be >= 1, got 0"},
    {"heads: 4", "heads: 4\n  head_dim: 64", "space.head_dim",
     "give heads or head_dim, not both"},
    {"  heads: 4\n", "", "space.heads", "required (or space.head_dim)"},
    {"vocab_size: 50257", "vocab_size: 0", "space.vocab_size",
     "must be in [1, 16777216], got 0"},
    {"seq_len: 1024", "seq_len: -1", "space.seq_len",
     "must be in [1, 1048576], got -1"},
    // Bounds on the wire types and on the work a spec can cause (issue 13):
    // none of these may reach a worker as a wrapped-around number.
    {"vocab_size: 50257", "vocab_size: 2147483648", "space.vocab_size",
     "must be in [1, 16777216], got 2147483648"},
    {"d_model: {min: 256, max: 1024, log: true, step: 2}",
     "d_model: [256, 1099511627776]", "space.d_model[1]",
     "must be <= 65536, got 1099511627776"},
    {"tokens: {min: 1e9, max: 2e10, log: true}",
     "tokens: {min: 1e9, max: 1e30}", "space.tokens.max",
     "must be <= 1e15, got 1e30"},
    {"d_model: {min: 256, max: 1024, log: true, step: 2}",
     "d_model: {min: 256, max: 4096}", "space.d_model",
     "must allow at most 1024 values (add or widen a step)"},
    {"tokens: {min: 1e9, max: 2e10, log: true}",
     "tokens: {min: 1, max: 1e15, step: 1}", "space.tokens",
     "must allow at most 1024 values"},
    {"tokens: {min: 1e9, max: 2e10, log: true}", "tokens: {min: 0, max: 2e10}",
     "space.tokens.min", "must be >= 1, got 0"},
    // limits and budget
    {"limits: {max_flops: 1e19, max_tokens: 2e10, max_seconds: 28800}",
     "limits: {max_flops: 0}", "limits.max_flops", "must be > 0, got 0"},
    {"limits: {max_flops: 1e19, max_tokens: 2e10, max_seconds: 28800}",
     "limits: {max_flops: 1e21}", "limits.max_flops",
     "must be <= budget.flops (1e20), got 1e21"},
    {"limits: {max_flops: 1e19, max_tokens: 2e10, max_seconds: 28800}",
     "limits: {max_tokens: 1e8}", "limits.max_tokens",
     "must be >= the smallest space.tokens (1e9), got 1e8"},
    {"limits: {max_flops: 1e19, max_tokens: 2e10, max_seconds: 28800}",
     "limits: {max_seconds: -1}", "limits.max_seconds", "must be > 0, got -1"},
    {"budget: {flops: 1e20, gpu_hours: 100}", "budget: {flops: -1e20}",
     "budget.flops", "must be > 0, got -1e20"},
    {"budget: {flops: 1e20, gpu_hours: 100}",
     "budget: {flops: 1e20, gpu_hours: 0}", "budget.gpu_hours",
     "must be > 0, got 0"},
    // question
    {kQuestion, "question: {kind: compute_optimal_loss, flops: 0}",
     "question.flops", "must be > 0, got 0"},
    {kQuestion,
     "question: {kind: compute_optimal_loss, flops: 1e22, max_total_params: "
     "1e10}",
     "question.max_total_params",
     "only for kind optimal_architecture, got 1e10"},
    {kQuestion,
     "question: {kind: optimal_architecture, flops: 1e22, max_memory_bytes: "
     "0}",
     "question.max_memory_bytes", "must be > 0, got 0"},
    {kQuestion, "question: {kind: law_parameter, name: A}", "question.name",
     "must be a parameter of law joint (a, alpha, delta, gamma, b, beta, "
     "omega, zeta, c), got 'A'"},
    {kQuestion, "question: {kind: law_parameter, name: alpha, flops: 1e22}",
     "question.flops",
     "only for kind compute_optimal_loss or optimal_architecture, got 1e22"},
    {kQuestion, "question: {kind: prediction, name: alpha, at: {tokens: 1}}",
     "question.name", "only for kind law_parameter, got 'alpha'"},
    {kQuestion,
     "question: {kind: prediction, at: {active_params: 1e9, tokens: 1e11, "
     "num_experts: 8, granularity: 2}}",
     "question.at.granularity",
     "law joint does not read it (it reads active_params, tokens, "
     "num_experts), got 2"},
    {kQuestion,
     "question: {kind: prediction, at: {active_params: 1e9, tokens: 1e11}}",
     "question.at", "missing num_experts, which law joint reads"},
    {kQuestion,
     "question: {kind: prediction, at: {active_params: 1e9, tokens: 0, "
     "num_experts: 8}}",
     "question.at.tokens", "must be > 0, got 0"},
    // target, parallelism, training, name
    {"target: {relative_width: 0.01}", "target: {relative_width: 1.5}",
     "target.relative_width", "must be in (0, 1), got 1.5"},
    {"target: {relative_width: 0.01}", "target: {relative_width: 0}",
     "target.relative_width", "must be in (0, 1), got 0"},
    {"max_parallel_runs: 8", "max_parallel_runs: 0", "max_parallel_runs",
     "must be >= 1, got 0"},
    {kTraining, "training: {lr: {constant: 0}}", "training.lr.constant",
     "must be in (0, 1), got 0"},
    {kTraining,
     "training: {lr: {rule: power, base: 1, exponent: 0.3, reference: 1e5}}",
     "training.lr.base", "must be in (0, 1), got 1"},
    {kTraining,
     "training: {lr: {rule: power, base: .01, exponent: -0.1, reference: 1}}",
     "training.lr.exponent", "must be in [0, 2], got -0.1"},
    {kTraining,
     "training: {lr: {rule: power, base: .01, exponent: 2.5, reference: 1}}",
     "training.lr.exponent", "must be in [0, 2], got 2.5"},
    {kTraining,
     "training: {lr: {rule: power, base: .01, exponent: 0.3, reference: 0.5}}",
     "training.lr.reference", "must be in [1, 1e15] parameters, got 0.5"},
    {kTraining,
     "training: {lr: {rule: power, base: .01, exponent: 0.3, reference: 1e16}}",
     "training.lr.reference", "must be in [1, 1e15] parameters, got 1e16"},
    {kTraining,
     "training: {lr: {rule: power, base: .01, exponent: 0.3, reference: 1e5, "
     "experts_exponent: -1}}",
     "training.lr.experts_exponent", "must be in [0, 2], got -1"},
    {kTraining, "training: {warmup_tokens: 2e9}", "training.warmup_tokens",
     "must be < the smallest space.tokens (1e9), got 2e9"},
    {kTraining, "training: {warmup_tokens: -1}", "training.warmup_tokens",
     "must be >= 0, got -1"},
    {kTraining, "training: {batch_tokens: 1000}", "training.batch_tokens",
     "must be a multiple of space.seq_len (1024), got 1000"},
    {kTraining, "training: {batch_tokens: 4e9}", "training.batch_tokens",
     "must be <= the smallest space.tokens (1e9), got 4e9"},
    {kTraining, "training: {eval_every_tokens: 0}",
     "training.eval_every_tokens", "must be > 0, got 0"},
    // branching (issue 18): only where a run has a stable phase to branch
    // from, the active proposer prices it, and tokens are a range
    {kTraining, "training: {branching: true}", "training.branching",
     "needs training.schedule: wsd"},
    {kTraining, "training: {schedule: wsd, branching: yes please}",
     "training.branching", "expected true or false"},
    {std::string_view(kTrainingThenStrategy),
     "training: {schedule: wsd, branching: true}\nstrategy: sobol",
     "training.branching", "needs strategy: active"},
    {"seed: 7", "seed: 7\nname: my campaign", "name",
     "must be at most 64 letters, digits, '-', '_' or '.', got 'my campaign'"},
    {"law: {family: joint}",
     "law: {family: expr, expression: \"E + A / params^a\", params: {"
     "E: {lower: 0, upper: 10, starts: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}, "
     "A: {lower: 0, upper: 10, starts: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}, "
     "a: {lower: 0, upper: 10, starts: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}, "
     "b: {lower: 0, upper: 10, starts: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]}}}",
     "law.params",
     "the product of the starts lists' lengths (the fit's starting points) "
     "must be <= 10000, got 11000"},
    // validate (issue 12): bounded count and multiple, every key known
    {"seed: 7", "seed: 7\nvalidate: {runs: 0}", "validate.runs",
     "must be in [1, 16], got 0"},
    {"seed: 7", "seed: 7\nvalidate: {runs: 17, flops_multiple: 4}",
     "validate.runs", "must be in [1, 16], got 17"},
    {"seed: 7", "seed: 7\nvalidate: {runs: 99999999999}", "validate.runs",
     "must be in [1, 16], got 99999999999"},
    {"seed: 7", "seed: 7\nvalidate: {runs: 1.5}", "validate.runs",
     "expected an integer"},
    {"seed: 7", "seed: 7\nvalidate: {flops_multiple: 0.5}",
     "validate.flops_multiple", "must be in [1, 1000], got 0.5"},
    {"seed: 7", "seed: 7\nvalidate: {flops_multiple: 1001}",
     "validate.flops_multiple", "must be in [1, 1000], got 1001"},
    {"seed: 7", "seed: 7\nvalidate: {flops_multiple: .inf}",
     "validate.flops_multiple", "expected a finite number, got '.inf'"},
    {"seed: 7", "seed: 7\nvalidate: {flops_multiple: .nan}",
     "validate.flops_multiple", "expected a finite number, got '.nan'"},
    {"seed: 7", "seed: 7\nvalidate: {shape: largest}", "validate.shape",
     "must be observed or any, got largest"},
    {"seed: 7", "seed: 7\nvalidate: {run: 2}", "validate.run",
     "unknown key (did you mean runs?)"},
    {"seed: 7", "seed: 7\nvalidate: 3", "validate", "expected a map"},
};

TEST(ValidateTest, EveryBadSpecIsRefusedWithItsPathAndRule) {
  for (const BadSpec& bad : kBadSpecs) {
    const std::string text = BaseWith(bad.from, bad.to);
    SCOPED_TRACE(text);
    const StatusOr<CampaignSpec> spec = ParseCampaignSpec(text);
    ASSERT_FALSE(spec.ok());
    EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
    const std::string message(spec.status().message());
    EXPECT_EQ(message.substr(0, bad.path.size() + 2),
              std::string(bad.path) + ": ")
        << message;
    EXPECT_NE(message.find(bad.rule), std::string::npos) << message;
  }
}

// Issue 13: an error quotes a short prefix of the bad value, never all of
// it (a message of megabytes fails as gRPC metadata instead).
TEST(ValidateTest, ABadValueIsQuotedByAShortPrefix) {
  const std::string text =
      BaseWith("seed: 7", "seed: 7\nname: " + std::string(5000, 'x'));
  const StatusOr<CampaignSpec> spec = ParseCampaignSpec(text);
  ASSERT_FALSE(spec.ok());
  const std::string message(spec.status().message());
  EXPECT_LT(message.size(), 200u) << message;
  EXPECT_NE(message.find("got '" + std::string(63, 'x')), std::string::npos)
      << message;
  EXPECT_NE(message.find("..."), std::string::npos) << message;
}

// Issue 13: the size of a spec and of its lists is bounded before any work.
TEST(ValidateTest, OversizedSpecsAndListsAreRefusedBeforeParsing) {
  const std::string big =
      std::string(kBaseSpec) + "# " + std::string(kMaxSpecBytes, 'x') + "\n";
  const StatusOr<CampaignSpec> spec = ParseCampaignSpec(big);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find("above the limit of 65536"),
            std::string_view::npos)
      << spec.status().message();

  std::string layers = "layers: [";
  for (int i = 1; i <= 1025; ++i) {
    layers += (i > 1 ? ", " : "") + std::to_string(i);
  }
  const StatusOr<CampaignSpec> list =
      ParseCampaignSpec(BaseWith("layers: [4, 8]", layers + "]"));
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(std::string(list.status().message()),
            "space.layers: 1025 entries, above the limit of 1024");
}

TEST(ValidateTest, ValidationRunsDefaultToOneAtFourTimesTheLargestRun) {
  const StatusOr<CampaignSpec> none = ParseCampaignSpec(kBaseSpec);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->validate.has_value());
  // An empty `validate:` reads as absent, as every optional section does.
  const StatusOr<CampaignSpec> empty =
      ParseCampaignSpec(BaseWith("seed: 7", "seed: 7\nvalidate:"));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_FALSE(empty->validate.has_value());
  const StatusOr<CampaignSpec> defaults =
      ParseCampaignSpec(BaseWith("seed: 7", "seed: 7\nvalidate: {}"));
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ(defaults->validate, (ValidationSpec{1, 4}));
  const StatusOr<CampaignSpec> three =
      ParseCampaignSpec(BaseWith("seed: 7", "seed: 7\nvalidate: {runs: 3}"));
  ASSERT_TRUE(three.ok()) << three.status().ToString();
  EXPECT_EQ(three->validate, (ValidationSpec{3, 4}));
}

TEST(ValidateTest, BaseSpecIsValid) {
  const StatusOr<CampaignSpec> spec = ParseCampaignSpec(kBaseSpec);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_TRUE(ValidateCampaignSpec(*spec).ok());
}

// A law of params and tokens over a space of law features.
constexpr std::string_view kFeatureSpec = R"(law: chinchilla
space:
  params: {min: 1e8, max: 1e9, log: true}
  tokens: {min: 1e9, max: 2e10, log: true}
budget: {flops: 1e20}
question: {kind: compute_optimal_loss, flops: 1e22}
target: {relative_width: 0.01}
)";

TEST(ValidateTest, FeatureSpaceMustGiveWhatTheLawReads) {
  EXPECT_TRUE(ParseCampaignSpec(kFeatureSpec).ok());
  std::string text(kFeatureSpec);
  text.replace(0, std::string_view("law: chinchilla").size(), "law: joint");
  const StatusOr<CampaignSpec> spec = ParseCampaignSpec(text);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(),
            "space: must give every feature law joint reads (active_params is "
            "missing); describe architectures instead, got a space of params, "
            "tokens, unique_tokens");
}

TEST(ValidateTest, ActiveParamsMayNotExceedParams) {
  std::string text(kFeatureSpec);
  text.insert(text.find("  tokens"), "  active_params: {min: 2e9, max: 3e9}\n");
  const StatusOr<CampaignSpec> spec = ParseCampaignSpec(text);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message(),
            "space.active_params.min: must not exceed the largest params "
            "(1e9), got 2e9");
}

TEST(ValidateTest, ExprLawAnswersComputeOptimalOnlyOverParamsAndTokens) {
  const std::string text = BaseWith(
      "law: {family: joint}",
      "law: {family: expr, expression: 'E + A / active_params^alpha / "
      "num_experts^0.1', params: {E: {lower: 0.1, upper: 10, starts: [1]}, "
      "A: {lower: 1, upper: 1e6, starts: [10]}, alpha: {lower: 0, upper: 1, "
      "starts: [0.3]}}}");
  const StatusOr<CampaignSpec> spec = ParseCampaignSpec(text);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message().substr(0, 15), "question.kind: ");
  EXPECT_NE(spec.status().message().find("needs a cost model"),
            std::string_view::npos);
}

TEST(ValidateTest, LawParameterTakesNaturalNames) {
  const StatusOr<CampaignSpec> spec =
      ParseCampaignSpec(BaseWith(kQuestion,
                                 "question: {kind: law_parameter, "
                                 "name: gamma}"));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->question.name, "gamma");
  // θ's coordinate is log_a; the parameter a user asks about is a.
  EXPECT_FALSE(ParseCampaignSpec(BaseWith(kQuestion,
                                          "question: {kind: law_parameter, "
                                          "name: log_a}"))
                   .ok());
}

}  // namespace
}  // namespace moesweep::campaign
