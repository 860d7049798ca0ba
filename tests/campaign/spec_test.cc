// Reading a campaign spec from YAML (spec.cc): the fields, the defaults, the
// shape errors (unknown keys, types, missing fields), files and the examples.

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <string_view>

#include "campaign/campaign.h"
#include "tests/campaign/base_spec.h"
#include "tests/testing/temp_dir.h"

namespace moesweep::campaign {
namespace {

using testing::BaseWith;
using testing::kBaseSpec;

TEST(SpecParseTest, ReadsEveryFieldOfTheBaseSpec) {
  const StatusOr<CampaignSpec> parsed = ParseCampaignSpec(kBaseSpec);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const CampaignSpec& s = *parsed;
  EXPECT_EQ(s.name, "");
  EXPECT_EQ(s.law.family, "joint");
  EXPECT_EQ(s.law.huber_delta, 1e-3);
  EXPECT_EQ(s.space.kind, SpaceKind::kArchitecture);
  EXPECT_EQ(s.space.d_model, (Axis{{}, 256, 1024, true, 2}));
  EXPECT_EQ(s.space.layers.values, (std::vector<double>{4, 8}));
  EXPECT_EQ(s.space.experts.values, (std::vector<double>{1, 4, 8}));
  EXPECT_EQ(s.space.tokens, (Axis{{}, 1e9, 2e10, true, 0}));
  EXPECT_EQ(s.space.vocab_size, 50257);
  EXPECT_EQ(s.space.seq_len, 1024);
  EXPECT_EQ(s.space.heads, 4);
  EXPECT_FALSE(s.space.head_dim.has_value());
  EXPECT_EQ(s.limits.max_flops, 1e19);
  EXPECT_EQ(s.limits.max_tokens, 2e10);
  EXPECT_EQ(s.limits.max_seconds, 28800);
  EXPECT_EQ(s.budget.flops, 1e20);
  EXPECT_EQ(s.budget.gpu_hours, 100);
  EXPECT_EQ(s.question.kind, QuestionKind::kComputeOptimalLoss);
  EXPECT_EQ(s.question.flops, 1e22);
  EXPECT_EQ(s.target_relative_width, 0.01);
  EXPECT_EQ(s.max_parallel_runs, 8);
  EXPECT_EQ(s.training.schedule, Schedule::kWsd);
  EXPECT_EQ(s.training.lr_rule, LrRule::kLudziejewski);
  EXPECT_EQ(s.training.warmup_tokens, 1e8);
  EXPECT_EQ(s.training.batch_tokens, 524288);
  EXPECT_EQ(s.training.eval_every_tokens, 2.5e8);
  EXPECT_EQ(s.strategy, Strategy::kActive);
  EXPECT_EQ(s.seed, 7u);
}

TEST(SpecParseTest, OptionalFieldsTakeTheirDefaults) {
  const StatusOr<CampaignSpec> parsed = ParseCampaignSpec(R"(law: joint
space:
  d_model: [512]
  layers: [8]
  tokens: [1e9, 2e9]
  vocab_size: 256
  seq_len: 512
  head_dim: 64
budget: {flops: 1e19}
question: {kind: compute_optimal_loss, flops: 1e21}
target: {relative_width: 0.05}
)");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const CampaignSpec& s = *parsed;
  EXPECT_EQ(s.law.huber_delta, 1e-3);
  EXPECT_EQ(s.space.experts.values, std::vector<double>{1});
  EXPECT_EQ(s.space.top_k.values, std::vector<double>{1});
  EXPECT_EQ(s.space.granularity.values, std::vector<double>{1});
  EXPECT_EQ(s.space.shared_experts.values, std::vector<double>{0});
  EXPECT_FALSE(s.space.experts_power_of_two);
  EXPECT_EQ(s.space.head_dim, 64);
  EXPECT_EQ(s.limits, LimitsSpec{});
  EXPECT_FALSE(s.budget.gpu_hours.has_value());
  EXPECT_EQ(s.max_parallel_runs, 1);
  EXPECT_EQ(s.training, TrainingSpec{});
  EXPECT_EQ(s.training.schedule, Schedule::kCosine);
  EXPECT_EQ(s.training.lr_rule, LrRule::kLudziejewski);
  EXPECT_EQ(s.strategy, Strategy::kActive);
  EXPECT_EQ(s.seed, 0u);
}

TEST(SpecParseTest, ShorthandsReadAsTheirLongForms) {
  // `law: joint` is {family: joint}; one number is a list of one.
  const StatusOr<CampaignSpec> long_form = ParseCampaignSpec(kBaseSpec);
  const StatusOr<CampaignSpec> short_form =
      ParseCampaignSpec(BaseWith("law: {family: joint}\n", "law: joint\n"));
  ASSERT_TRUE(long_form.ok() && short_form.ok());
  EXPECT_EQ(*long_form, *short_form);
  const StatusOr<CampaignSpec> one =
      ParseCampaignSpec(BaseWith("layers: [4, 8]", "layers: 6"));
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->space.layers.values, std::vector<double>{6});
}

TEST(SpecParseTest, ReadsAPredictionPointInOrder) {
  const StatusOr<CampaignSpec> parsed = ParseCampaignSpec(BaseWith(
      "question: {kind: compute_optimal_loss, flops: 1e22}",
      "question: {kind: prediction, at: {tokens: 1e11, num_experts: 8, "
      "active_params: 1.3e9}}"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const std::vector<FeatureValue> want = {
      {fitter::Feature::kTokens, 1e11},
      {fitter::Feature::kNumExperts, 8},
      {fitter::Feature::kActiveParams, 1.3e9}};
  EXPECT_EQ(parsed->question.at, want);
}

// LawSpec's operator== is written by hand (fitter::ExprSpec has none): every
// part of an expr law counts.
TEST(SpecParseTest, EqualityComparesEveryPartOfTheLaw) {
  LawSpec a;
  a.family = "expr";
  a.expr.expression = "E + A / params^alpha";
  a.expr.params = {{"E", 0.1, 10, {1, 2}}, {"A", 1, 1e6, {10}}};
  EXPECT_EQ(a, a);
  for (int part = 0; part < 7; ++part) {
    LawSpec b = a;
    switch (part) {
      case 0:
        b.family = "chinchilla";
        break;
      case 1:
        b.huber_delta = 1e-2;
        break;
      case 2:
        b.expr.expression = "E";
        break;
      case 3:
        b.expr.params[1].name = "B";
        break;
      case 4:
        b.expr.params[0].lower = 0.2;
        break;
      case 5:
        b.expr.params[0].starts.push_back(3);
        break;
      case 6:
        b.expr.params.pop_back();
        break;
    }
    EXPECT_FALSE(a == b) << "part " << part;
  }
}

struct BadShape {
  std::string_view from;
  std::string_view to;
  std::string_view message;  // the whole message
};

const BadShape kBadShapes[] = {
    {"experts: [1, 4, 8]", "expert: [1, 4, 8]",
     "space.expert: unknown key (did you mean experts?)"},
    {"budget: {", "budgett: {", "budgett: unknown key (did you mean budget?)"},
    {"seed: 7", "seed: 7\ncolour: blue", "colour: unknown key"},
    {"seed: 7", "seed: 7\nseed: 8", "seed: given twice"},
    {"seed: 7", "seed: -1", "seed: expected an integer >= 0, got '-1'"},
    {"experts: [1, 4, 8]", "experts: eight",
     "space.experts: expected a number, got 'eight'"},
    {"experts: [1, 4, 8]", "experts: []",
     "space.experts: must be a non-empty list, got []"},
    {"experts: [1, 4, 8]", "experts: [1, four]",
     "space.experts[1]: expected a number, got 'four'"},
    {"experts: [1, 4, 8]", "experts: {min: 1, mx: 8}",
     "space.experts.mx: unknown key (did you mean max?)"},
    {"experts: [1, 4, 8]", "experts: {min: 1}", "space.experts.max: required"},
    {"experts: [1, 4, 8]", "experts: [1, .inf]",
     "space.experts[1]: expected a finite number, got '.inf'"},
    {"vocab_size: 50257", "vocab_size: 5.5",
     "space.vocab_size: expected an integer, got '5.5'"},
    {"  seq_len: 1024\n", "", "space.seq_len: required"},
    {"  layers: [4, 8]\n", "", "space.layers: required"},
    {"heads: 4", "heads: 4\n  params: {min: 1e8, max: 1e9}",
     "space.d_model: not allowed beside space.params (a space is either "
     "architectures or law features), got a map"},
    {"law: {family: joint}", "law: [joint]", "law: expected a map, got a list"},
    {"law: {family: joint}", "law: {family: joint, expression: 'E'}",
     "law.expression: only for family expr, got family 'joint'"},
    {"law: {family: joint}", "law: {family: expr, expression: 'E'}",
     "law.params: required by family expr"},
    {"budget: {flops: 1e20, gpu_hours: 100}", "budget: 5",
     "budget: expected a map, got '5'"},
    {"budget: {flops: 1e20, gpu_hours: 100}", "budget: {gpu_hours: 100}",
     "budget.flops: required"},
    {"budget: {flops: 1e20, gpu_hours: 100}", "budget: {flops: lots}",
     "budget.flops: expected a number, got 'lots'"},
    {"question: {kind: compute_optimal_loss, flops: 1e22}",
     "question: {kind: best_loss}",
     "question.kind: must be one of compute_optimal_loss, "
     "optimal_architecture, law_parameter, prediction, got 'best_loss'"},
    {"question: {kind: compute_optimal_loss, flops: 1e22}",
     "question: {kind: compute_optimal_loss}",
     "question.flops: required by kind compute_optimal_loss"},
    {"question: {kind: compute_optimal_loss, flops: 1e22}",
     "question: {kind: law_parameter}",
     "question.name: required by kind law_parameter"},
    {"question: {kind: compute_optimal_loss, flops: 1e22}",
     "question: {kind: prediction, at: {foo: 1}}",
     "question.at.foo: not a law feature, got 'foo'"},
    {"question: {kind: compute_optimal_loss, flops: 1e22}", "",
     "question: required"},
    {"target: {relative_width: 0.01}", "", "target: required"},
    {"max_parallel_runs: 8", "max_parallel_runs: 2.5",
     "max_parallel_runs: expected an integer, got '2.5'"},
    {"schedule: wsd", "schedule: linear",
     "training.schedule: must be one of cosine, wsd, got 'linear'"},
    {"lr: {rule: ludziejewski}", "lr: {rule: ludziejewski, constant: 1e-3}",
     "training.lr: give exactly one of constant and rule, got a map"},
    {"lr: {rule: ludziejewski}", "lr: {rule: kaplan}",
     "training.lr.rule: must be ludziejewski or power, got 'kaplan'"},
    {"lr: {rule: ludziejewski}", "lr: {rule: power, base: 1e-2, exponent: 0.3}",
     "training.lr.reference: required by rule power"},
    {"lr: {rule: ludziejewski}", "lr: {rule: ludziejewski, exponent: 0.3}",
     "training.lr.exponent: goes only with rule power, got '0.3'"},
    {"lr: {rule: ludziejewski}", "lr: {constant: 1e-3, experts_exponent: 0}",
     "training.lr.experts_exponent: goes only with rule power, got '0'"},
    {"lr: {rule: ludziejewski}", "lr: {constant: 1e-3, base: 1e-2}",
     "training.lr.base: goes only with rule power, got '1e-2'"},
    {"lr: {rule: ludziejewski}",
     "lr: {rule: power, base: 1e-2, exponent: 0.3, reference: 1e5, refrence: "
     "1}",
     "training.lr.refrence: unknown key (did you mean reference?)"},
    {"strategy: active", "strategy: bayes",
     "strategy: must be one of active, grid, random, sobol, holistic, got "
     "'bayes'"},
};

TEST(SpecRejectTest, EveryBadShapeIsRefusedWithItsPath) {
  for (const BadShape& bad : kBadShapes) {
    const std::string text = BaseWith(bad.from, bad.to);
    SCOPED_TRACE(text);
    const StatusOr<CampaignSpec> spec = ParseCampaignSpec(text);
    ASSERT_FALSE(spec.ok());
    EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(spec.status().message(), bad.message);
  }
}

TEST(SpecRejectTest, TextThatIsNotAMapOfFields) {
  for (auto [text, start] :
       {std::pair{"law: [", "campaign: not YAML"},
        std::pair{"- law\n- space\n", "campaign: expected a map, got a list"},
        std::pair{"", "law: required"}}) {
    const StatusOr<CampaignSpec> spec = ParseCampaignSpec(text);
    ASSERT_FALSE(spec.ok()) << text;
    EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(spec.status().message().substr(0, std::string_view(start).size()),
              start);
  }
}

TEST(SpecReadTest, FileErrorsNameTheFile) {
  moesweep::testing::TempDir dir;
  EXPECT_EQ(ReadCampaignSpec(dir.File("missing.yaml")).status().code(),
            StatusCode::kNotFound);

  const std::string bad =
      dir.Write("bad.yaml", BaseWith("seed: 7", "seed: seven"));
  const StatusOr<CampaignSpec> spec = ReadCampaignSpec(bad);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(),
            bad + ": seed: expected an integer >= 0, got 'seven'");

  const std::string good = dir.Write("good.yaml", std::string(kBaseSpec));
  const StatusOr<CampaignSpec> read = ReadCampaignSpec(good);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, *ParseCampaignSpec(kBaseSpec));
}

// Every examples/campaign_*.yaml is a valid spec that reads back the same
// from its normalized YAML, and together they ask every kind of question.
TEST(SpecExamplesTest, EveryExampleParsesAndRoundTrips) {
  const std::filesystem::path dir =
      std::filesystem::path(MOESWEEP_SOURCE_DIR) / "examples";
  std::set<QuestionKind> kinds;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("campaign_") || !name.ends_with(".yaml")) continue;
    SCOPED_TRACE(name);
    ++files;
    const StatusOr<CampaignSpec> spec = ReadCampaignSpec(entry.path().string());
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    kinds.insert(spec->question.kind);
    const StatusOr<CampaignSpec> again =
        ParseCampaignSpec(CampaignSpecToYaml(*spec));
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(*again, *spec);
  }
  EXPECT_GE(files, 4);
  EXPECT_EQ(kinds.size(), 4u);
}

}  // namespace
}  // namespace moesweep::campaign
