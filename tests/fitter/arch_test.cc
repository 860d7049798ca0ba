#include "fitter/arch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"

namespace moesweep::fitter {
namespace {

// Per layer: attention 2·64 + 2·8·8 = 256, FFN 2·8·32 = 512, norms 16; plus a
// final norm of 8 and one tied 100×8 embedding.
Architecture SmallDense() {
  return {.vocab_size = 100,
          .seq_len = 16,
          .d_model = 8,
          .num_layers = 2,
          .num_heads = 2,
          .ffn_hidden = 32,
          .tied_embeddings = true,
          .swiglu = false};
}

// Per layer: attention 2·64 + 2·8·(2 kv heads·2) = 192, one expert 3·8·16 =
// 384 (hidden 32 / G 2), router 8·8 = 64, norms 16, one shared expert.
Architecture SmallMoe() {
  return {.vocab_size = 100,
          .seq_len = 16,
          .d_model = 8,
          .num_layers = 3,
          .num_heads = 4,
          .num_kv_heads = 2,
          .num_experts = 8,
          .top_k = 2,
          .granularity = 2,
          .num_shared = 1,
          .ffn_hidden = 32};
}

TEST(ArchTest, SmallDenseTiedCountsByHand) {
  StatusOr<ArchCounts> c = CountArchitecture(SmallDense());
  ASSERT_OK(c);
  EXPECT_EQ(c->total_non_embed, 2 * (256 + 512 + 16) + 8);  // 1576
  EXPECT_EQ(c->active_non_embed, 1576);
  EXPECT_EQ(c->embed_params, 800);
  EXPECT_EQ(c->total_params, 2376);
  EXPECT_EQ(c->active_params, 2376);
  EXPECT_EQ(c->router_params, 0);
  // Matrices a token passes: 2·(256 + 512) in the blocks, 800 unembedding
  // (tied, yet multiplied); attention 4·2·16·8 = 1024.
  EXPECT_DOUBLE_EQ(c->forward_flops_per_token, 2 * (1536 + 800) + 1024);
  EXPECT_DOUBLE_EQ(c->train_flops_per_token, 3 * 5696);
  EXPECT_DOUBLE_EQ(c->train_flops_6nd_per_token, 6 * 2376);
  EXPECT_DOUBLE_EQ(c->weight_bytes, 2 * 2376);
  EXPECT_DOUBLE_EQ(c->optimizer_bytes, 12 * 2376);
}

TEST(ArchTest, SmallMoeWithSharedExpertAndGranularityCountsByHand) {
  StatusOr<ArchCounts> c = CountArchitecture(
      SmallMoe(), {.bytes_per_weight = 4, .bytes_per_optimizer_param = 8});
  ASSERT_OK(c);
  const std::int64_t common = 192 + 64 + 16 + 384;  // shared expert included
  EXPECT_EQ(c->total_non_embed, 3 * (common + 8 * 384) + 8);   // 11192
  EXPECT_EQ(c->active_non_embed, 3 * (common + 2 * 384) + 8);  // 4280
  EXPECT_EQ(c->embed_params, 1600);                            // untied
  EXPECT_EQ(c->total_params, 12792);
  EXPECT_EQ(c->active_params, 5880);
  EXPECT_EQ(c->router_params, 3 * 64);
  // Per block 192 + 64 + (2 routed + 1 shared)·384 = 1408; 800 unembedding;
  // attention 4·3·16·8 = 1536.
  EXPECT_DOUBLE_EQ(c->forward_flops_per_token, 2 * (3 * 1408 + 800) + 1536);
  EXPECT_DOUBLE_EQ(c->train_flops_per_token, 3 * 11584);
  EXPECT_DOUBLE_EQ(c->weight_bytes, 4 * 12792);
  EXPECT_DOUBLE_EQ(c->optimizer_bytes, 8 * 12792);

  Architecture explicit_hidden = SmallMoe();
  explicit_hidden.expert_hidden = 16;
  explicit_hidden.ffn_hidden = 0;
  StatusOr<ArchCounts> same = CountArchitecture(explicit_hidden);
  ASSERT_OK(same);
  EXPECT_EQ(same->total_params, 12792);
}

TEST(ArchTest, FeaturesOfFillsEveryFeature) {
  const Observation o = FeaturesOf(SmallMoe(), 5e6);
  EXPECT_EQ(o.params, 12792);
  EXPECT_EQ(o.active_params, 5880);
  EXPECT_EQ(o.n_total_ne, 11192);
  EXPECT_EQ(o.n_active_ne, 4280);
  EXPECT_EQ(o.tokens, 5e6);
  EXPECT_EQ(o.unique_tokens, 5e6);
  EXPECT_EQ(o.granularity, 2);
  EXPECT_EQ(o.num_experts, 8);
  EXPECT_EQ(o.top_k, 2);
  EXPECT_EQ(o.num_shared, 1);
  EXPECT_EQ(o.active_experts, 3);
  EXPECT_DOUBLE_EQ(o.shared_ratio, 1.0 / 3);
  const Observation dense = FeaturesOf(SmallDense(), 1e6);
  EXPECT_EQ(dense.shared_ratio, 0);
  EXPECT_EQ(dense.active_experts, 1);
  Architecture bad = SmallMoe();
  bad.d_model = 0;
  EXPECT_EQ(FeaturesOf(bad, 1e6).params, 0);
}

// Mistral AI's published sizes: 46.7B total, 12.9B active.
TEST(ArchTest, Mixtral8x7B) {
  const Architecture mixtral = {.vocab_size = 32000,
                                .seq_len = 32768,
                                .d_model = 4096,
                                .num_layers = 32,
                                .num_heads = 32,
                                .num_kv_heads = 8,
                                .num_experts = 8,
                                .top_k = 2,
                                .expert_hidden = 14336};
  StatusOr<ArchCounts> c = CountArchitecture(mixtral);
  ASSERT_OK(c);
  EXPECT_NEAR(static_cast<double>(c->total_params), 46.7e9, 0.005 * 46.7e9);
  EXPECT_NEAR(static_cast<double>(c->active_params), 12.9e9, 0.005 * 12.9e9);
  EXPECT_EQ(c->router_params, 32 * 4096 * 8);
}

// LAWS.md §4b check values, and CountArchitecture of the same shape agreeing
// with the paper's formula once router and norm weights are set aside.
TEST(ArchTest, LudziejewskiCounts) {
  EXPECT_NEAR(LudziejewskiParams(1408, 1, 50257).active_params, 708.5e6,
              0.05e6);
  EXPECT_NEAR(LudziejewskiParams(1408, 2, 50257).total_params, 1.101e9,
              0.0005e9);
  EXPECT_EQ(LudziejewskiBlocks(1408), 22);
  for (std::int64_t experts : {1, 2, 8, 32}) {
    const Architecture a = {.vocab_size = 50257,
                            .seq_len = 1024,
                            .d_model = 1408,
                            .num_layers = 22,
                            .num_heads = 22,
                            .num_experts = experts,
                            .expert_hidden = 3 * 1408};
    StatusOr<ArchCounts> c = CountArchitecture(a);
    ASSERT_OK(c);
    const std::int64_t norms = 2 * 1408 * 22 + 1408;
    const LudziejewskiCounts paper = LudziejewskiParams(1408, experts, 50257);
    EXPECT_EQ(c->total_params - c->router_params - norms, paper.total_params)
        << experts;
    EXPECT_EQ(c->active_params - c->router_params - norms, paper.active_params)
        << experts;
  }
}

// LAWS.md §2e: per token F/(6·N_act) = 1 + E·G·c_r/(72·d_model).
TEST(ArchTest, KrajewskiFlopsIdentity) {
  for (double d : {256.0, 512.0, 1024.0}) {
    for (double e : {8.0, 64.0}) {
      for (double g : {1.0, 8.0, 64.0}) {
        const double n_blocks = d / 64;
        const double ratio = KrajewskiFlops(d, n_blocks, e, g, 1e9) /
                             (6 * KrajewskiActiveNonEmbed(d, n_blocks) * 1e9);
        EXPECT_NEAR(ratio, 1 + e * g * 14 / (72 * d), 1e-12);
      }
    }
  }
  const double at_g8 =
      KrajewskiFlops(512, 8, 64, 8, 1) / (6 * KrajewskiActiveNonEmbed(512, 8));
  EXPECT_NEAR(at_g8, 1.19, 0.005);
  const double at_g64 =
      KrajewskiFlops(512, 8, 64, 64, 1) / (6 * KrajewskiActiveNonEmbed(512, 8));
  EXPECT_NEAR(at_g64, 2.56, 0.005);
  EXPECT_EQ(KrajewskiDModel(8), 512);
}

// Krajewski's N = d²(8E + 4)·n_blocks from an explicit architecture: E·G
// experts of width 4d/G, G of them per token, 2-matrix FFN.
TEST(ArchTest, KrajewskiCountsMatchArchitecture) {
  for (std::int64_t g : {1, 8, 32}) {
    const Architecture a = {.vocab_size = 50257,
                            .seq_len = 1024,
                            .d_model = 512,
                            .num_layers = 8,
                            .num_heads = 8,
                            .num_experts = 64 * g,
                            .top_k = g,
                            .granularity = g,
                            .ffn_hidden = 4 * 512,
                            .swiglu = false};
    StatusOr<ArchCounts> c = CountArchitecture(a);
    ASSERT_OK(c);
    const std::int64_t norms = 2 * 512 * 8 + 512;
    EXPECT_EQ(c->router_params, 512 * 64 * g * 8);
    EXPECT_EQ(c->total_non_embed - c->router_params - norms,
              KrajewskiTotalNonEmbed(512, 8, 64))
        << g;
    EXPECT_EQ(c->active_non_embed - c->router_params - norms,
              KrajewskiActiveNonEmbed(512, 8))
        << g;
  }
}

void ExpectBadField(const Architecture& a, const std::string& field) {
  const Status s = a.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << field;
  EXPECT_NE(s.message().find("architecture: " + field + " must be"),
            std::string_view::npos)
      << s.message();
  EXPECT_EQ(CountArchitecture(a).status().code(), StatusCode::kInvalidArgument);
}

TEST(ArchTest, RefusesBadArchitecturesNamingTheField) {
  EXPECT_OK(SmallMoe().Validate());
  Architecture a = SmallMoe();
  a.vocab_size = 0;
  ExpectBadField(a, "vocab_size");
  a = SmallMoe();
  a.seq_len = -1;
  ExpectBadField(a, "seq_len");
  a = SmallMoe();
  a.d_model = 0;
  ExpectBadField(a, "d_model");
  a = SmallMoe();
  a.num_layers = 0;
  ExpectBadField(a, "num_layers");
  a = SmallMoe();
  a.num_heads = 3;  // does not divide 8
  ExpectBadField(a, "num_heads");
  a = SmallMoe();
  a.num_kv_heads = 3;  // does not divide 4
  ExpectBadField(a, "num_kv_heads");
  a = SmallMoe();
  a.num_experts = 0;
  ExpectBadField(a, "num_experts");
  a = SmallMoe();
  a.top_k = 9;
  ExpectBadField(a, "top_k");
  a = SmallMoe();
  a.granularity = 0;
  ExpectBadField(a, "granularity");
  a = SmallMoe();
  a.num_shared = -1;
  ExpectBadField(a, "num_shared");
  a = SmallMoe();
  a.expert_hidden = -4;
  ExpectBadField(a, "expert_hidden");
  a = SmallMoe();
  a.granularity = 3;  // 32 is no multiple of 3
  ExpectBadField(a, "ffn_hidden");
  a = SmallMoe();
  a.ffn_hidden = 0;
  ExpectBadField(a, "ffn_hidden");
  a = SmallMoe();
  a.d_model = std::int64_t{1} << 40;
  a.num_heads = 1;
  a.num_kv_heads = 0;
  EXPECT_EQ(CountArchitecture(a).status().code(), StatusCode::kInvalidArgument);
}

std::int64_t ActiveNonEmbed(const Architecture& a) {
  StatusOr<ArchCounts> c = CountArchitecture(a);
  EXPECT_OK(c);
  return c.ok() ? c->active_non_embed : -1;
}

TEST(ArchTest, ArchitectureForActiveParamsFollowsTheShapeRule) {
  for (ShapeRule rule : {ShapeRule::kKrajewski, ShapeRule::kLudziejewski}) {
    for (double target : {3e7, 1e8, 1e9, 7e9}) {
      StatusOr<Architecture> a =
          ArchitectureForActiveParams(target, SmallMoe(), rule);
      ASSERT_OK(a);
      EXPECT_OK(a->Validate());
      EXPECT_EQ(a->vocab_size, 100);
      EXPECT_EQ(a->d_model, 64 * a->num_layers);
      EXPECT_EQ(a->num_heads, a->num_layers);
      // The template's two query heads per kv head, where that divides.
      EXPECT_EQ(a->num_kv_heads,
                a->num_heads % 2 ? a->num_heads : a->num_heads / 2);
      EXPECT_EQ(a->num_experts, 8);
      EXPECT_EQ(a->top_k, 2);
      EXPECT_EQ(a->granularity, 2);
      EXPECT_EQ(a->num_shared, 1);
      EXPECT_EQ(a->swiglu, rule == ShapeRule::kLudziejewski);
      EXPECT_EQ(a->ffn_hidden,
                (rule == ShapeRule::kLudziejewski ? 3 : 4) * a->d_model);
      EXPECT_EQ(a->expert_hidden, a->ffn_hidden / 2);
    }
  }
}

// The rule's model with `layers` blocks and no grouped-query attention.
Architecture RuleModel(ShapeRule rule, std::int64_t layers) {
  const std::int64_t d = 64 * layers;
  const std::int64_t ffn = (rule == ShapeRule::kLudziejewski ? 3 : 4) * d;
  return {.vocab_size = 1000,
          .seq_len = 2048,
          .d_model = d,
          .num_layers = layers,
          .num_heads = layers,
          .num_experts = 16,
          .top_k = 4,
          .granularity = 4,
          .expert_hidden = ffn / 4,
          .ffn_hidden = ffn,
          .swiglu = rule == ShapeRule::kLudziejewski};
}

// The depth chosen is the nearest in ratio: its neighbours are farther.
TEST(ArchTest, ArchitectureForActiveParamsPicksTheNearestDepth) {
  for (ShapeRule rule : {ShapeRule::kKrajewski, ShapeRule::kLudziejewski}) {
    for (double target : {2e6, 3e7, 1e8, 4.4e8, 1e9, 7e9, 1e11}) {
      StatusOr<Architecture> a =
          ArchitectureForActiveParams(target, RuleModel(rule, 1), rule);
      ASSERT_OK(a);
      const std::int64_t layers = a->num_layers;
      const Architecture expected = RuleModel(rule, layers);
      EXPECT_EQ(a->d_model, expected.d_model);
      EXPECT_EQ(a->num_kv_heads, 0);
      EXPECT_EQ(a->expert_hidden, expected.expert_hidden);
      auto miss = [&](std::int64_t l) {
        const double n =
            static_cast<double>(ActiveNonEmbed(RuleModel(rule, l)));
        return std::max(n / target, target / n);
      };
      EXPECT_EQ(ActiveNonEmbed(*a), ActiveNonEmbed(expected));
      if (layers > 1) {
        EXPECT_LE(miss(layers), miss(layers - 1)) << target;
      }
      EXPECT_LE(miss(layers), miss(layers + 1)) << target;
    }
  }
}

// Ludziejewski's 1408-wide, 22-block model comes back from its own count.
TEST(ArchTest, ArchitectureForActiveParamsFindsThePaperModel) {
  const Architecture dense = {.vocab_size = 50257, .seq_len = 1024};
  const double target = 13.0 * 22 * 1408 * 1408 + 2 * 1408 * 22 + 1408;
  StatusOr<Architecture> a =
      ArchitectureForActiveParams(target, dense, ShapeRule::kLudziejewski);
  ASSERT_OK(a);
  EXPECT_EQ(a->d_model, 1408);
  EXPECT_EQ(a->num_layers, 22);
  EXPECT_EQ(a->num_kv_heads, 0);
  StatusOr<ArchCounts> c = CountArchitecture(*a);
  ASSERT_OK(c);
  EXPECT_EQ(static_cast<double>(c->active_non_embed), target);
  EXPECT_NEAR(static_cast<double>(c->active_params),
              708.5e6 + 2 * 1408 * 22 + 1408, 0.05e6);
}

TEST(ArchTest, ArchitectureForActiveParamsRefusesBadTargets) {
  const Architecture moe = SmallMoe();
  for (double bad :
       {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    EXPECT_EQ(ArchitectureForActiveParams(bad, moe, ShapeRule::kKrajewski)
                  .status()
                  .code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(ArchitectureForActiveParams(1e30, moe, ShapeRule::kKrajewski)
                .status()
                .code(),
            StatusCode::kOutOfRange);
  Architecture bad_routing = moe;
  bad_routing.top_k = 9;
  const Status s =
      ArchitectureForActiveParams(1e9, bad_routing, ShapeRule::kKrajewski)
          .status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("top_k"), std::string_view::npos);
}

}  // namespace
}  // namespace moesweep::fitter
