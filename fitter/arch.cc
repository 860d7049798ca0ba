// Architecture accounting (arch.h).

#include "fitter/arch.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "fitter/fitter.h"

namespace moesweep::fitter {
namespace {

// Counts are summed in double first; past this they are refused rather than
// risking int64 overflow (2^62 leaves headroom for the sums).
constexpr double kMaxCount = 4.611686018427388e18;

constexpr std::int64_t kMaxLayers = 4096;

Status Bad(std::string_view field, std::int64_t value, std::string_view need) {
  return InvalidArgumentError("architecture: " + std::string(field) +
                              " must be " + std::string(need) + ", got " +
                              std::to_string(value));
}

std::int64_t KvHeads(const Architecture& a) {
  return a.num_kv_heads == 0 ? a.num_heads : a.num_kv_heads;
}

std::int64_t ExpertHidden(const Architecture& a) {
  return a.expert_hidden > 0 ? a.expert_hidden : a.ffn_hidden / a.granularity;
}

// E, k, G and shared experts: the part of an architecture the shape rules
// keep.
Status ValidateRouting(const Architecture& a) {
  if (a.num_experts < 1) return Bad("num_experts", a.num_experts, ">= 1");
  if (a.top_k < 1 || a.top_k > a.num_experts) {
    return Bad("top_k", a.top_k,
               "in [1, num_experts = " + std::to_string(a.num_experts) + "]");
  }
  if (a.granularity < 1) return Bad("granularity", a.granularity, ">= 1");
  if (a.num_shared < 0) return Bad("num_shared", a.num_shared, ">= 0");
  return OkStatus();
}

// One layer's parameters.
struct LayerCounts {
  double attention = 0;
  double expert = 0;  // one expert
  double router = 0;
  double norms = 0;
};

LayerCounts CountLayer(const Architecture& a) {
  const double d = static_cast<double>(a.d_model);
  const double head_dim = d / static_cast<double>(a.num_heads);
  LayerCounts c;
  // Q and O are d×d; K and V project to kv_heads·head_dim.
  c.attention = 2 * d * d + 2 * d * static_cast<double>(KvHeads(a)) * head_dim;
  c.expert = (a.swiglu ? 3 : 2) * d * static_cast<double>(ExpertHidden(a));
  c.router = a.num_experts > 1 ? d * static_cast<double>(a.num_experts) : 0;
  c.norms = 2 * d;
  return c;
}

}  // namespace

Status Architecture::Validate() const {
  if (vocab_size < 1) return Bad("vocab_size", vocab_size, ">= 1");
  if (seq_len < 1) return Bad("seq_len", seq_len, ">= 1");
  if (d_model < 1) return Bad("d_model", d_model, ">= 1");
  if (num_layers < 1) return Bad("num_layers", num_layers, ">= 1");
  if (num_heads < 1 || d_model % num_heads != 0) {
    return Bad("num_heads", num_heads,
               ">= 1 and divide d_model = " + std::to_string(d_model));
  }
  if (num_kv_heads < 0 || (num_kv_heads > 0 && num_heads % num_kv_heads)) {
    return Bad("num_kv_heads", num_kv_heads,
               "0 or divide num_heads = " + std::to_string(num_heads));
  }
  MOESWEEP_RETURN_IF_ERROR(ValidateRouting(*this));
  if (expert_hidden < 0) return Bad("expert_hidden", expert_hidden, ">= 0");
  if (ffn_hidden < 0) return Bad("ffn_hidden", ffn_hidden, ">= 0");
  if (expert_hidden == 0 && (ffn_hidden == 0 || ffn_hidden % granularity)) {
    return Bad("ffn_hidden", ffn_hidden,
               "> 0 and a multiple of granularity = " +
                   std::to_string(granularity) + " when expert_hidden is 0");
  }
  return OkStatus();
}

StatusOr<ArchCounts> CountArchitecture(const Architecture& arch,
                                       const BytesOptions& bytes) {
  MOESWEEP_RETURN_IF_ERROR(arch.Validate());
  if (!(bytes.bytes_per_weight >= 0) ||
      !(bytes.bytes_per_optimizer_param >= 0)) {
    return InvalidArgumentError(
        "bytes per weight and per optimizer parameter "
        "must be >= 0");
  }
  const LayerCounts layer = CountLayer(arch);
  const double layers = static_cast<double>(arch.num_layers);
  const double d = static_cast<double>(arch.d_model);
  const double shared = static_cast<double>(arch.num_shared);
  const double routed_total = static_cast<double>(arch.num_experts);
  const double common =
      layer.attention + layer.router + layer.norms + shared * layer.expert;
  const double total_ne = layers * (common + routed_total * layer.expert) + d;
  const double embed =
      (arch.tied_embeddings ? 1 : 2) * static_cast<double>(arch.vocab_size) * d;
  if (!(total_ne + embed < kMaxCount)) {
    return InvalidArgumentError(
        "architecture: " + std::to_string(total_ne + embed) +
        " parameters is more than this counts");
  }
  // Every term is an integer below 2^62, so the doubles above are exact up to
  // 2^53 and the int64 sums below are exact always.
  const auto i64 = [](double x) { return static_cast<std::int64_t>(x); };
  const std::int64_t common_i = i64(layer.attention) + i64(layer.router) +
                                i64(layer.norms) +
                                arch.num_shared * i64(layer.expert);
  ArchCounts c;
  c.router_params = arch.num_layers * i64(layer.router);
  c.total_non_embed =
      arch.num_layers * (common_i + arch.num_experts * i64(layer.expert)) +
      arch.d_model;
  c.active_non_embed =
      arch.num_layers * (common_i + arch.top_k * i64(layer.expert)) +
      arch.d_model;
  c.embed_params =
      (arch.tied_embeddings ? 1 : 2) * arch.vocab_size * arch.d_model;
  c.total_params = c.total_non_embed + c.embed_params;
  c.active_params = c.active_non_embed + c.embed_params;
  const double active_experts =
      static_cast<double>(arch.top_k + arch.num_shared);
  const double matmul = layers * (layer.attention + layer.router +
                                  active_experts * layer.expert) +
                        static_cast<double>(arch.vocab_size) * d;
  const double attention_flops =
      4 * layers * static_cast<double>(arch.seq_len) * d;
  c.forward_flops_per_token = 2 * matmul + attention_flops;
  c.train_flops_per_token = 3 * c.forward_flops_per_token;
  c.train_flops_6nd_per_token = 6 * static_cast<double>(c.active_params);
  c.weight_bytes = static_cast<double>(c.total_params) * bytes.bytes_per_weight;
  c.optimizer_bytes =
      static_cast<double>(c.total_params) * bytes.bytes_per_optimizer_param;
  return c;
}

Observation FeaturesOf(const Architecture& arch, double tokens) {
  Observation o;
  o.tokens = tokens;
  o.unique_tokens = tokens;
  StatusOr<ArchCounts> counts = CountArchitecture(arch);
  if (counts.ok()) {
    o.params = static_cast<double>(counts->total_params);
    o.active_params = static_cast<double>(counts->active_params);
    o.n_total_ne = static_cast<double>(counts->total_non_embed);
    o.n_active_ne = static_cast<double>(counts->active_non_embed);
  }
  o.granularity = static_cast<double>(arch.granularity);
  o.num_experts = static_cast<double>(arch.num_experts);
  o.top_k = static_cast<double>(arch.top_k);
  o.num_shared = static_cast<double>(arch.num_shared);
  o.active_experts = static_cast<double>(arch.top_k + arch.num_shared);
  o.shared_ratio = o.active_experts > 0 ? o.num_shared / o.active_experts : 0;
  return o;
}

double KrajewskiFlops(double d_model, double n_blocks, double expansion,
                      double granularity, double tokens, double c_f,
                      double c_r) {
  return (12 * d_model * d_model * c_f +
          d_model * expansion * granularity * c_r) *
         tokens * n_blocks;
}

double KrajewskiTotalNonEmbed(double d_model, double n_blocks,
                              double expansion) {
  return d_model * d_model * (8 * expansion + 4) * n_blocks;
}

double KrajewskiActiveNonEmbed(double d_model, double n_blocks) {
  return 12 * d_model * d_model * n_blocks;
}

LudziejewskiCounts LudziejewskiParams(double d_model, double num_experts,
                                      double vocab_size) {
  const double n_blocks = LudziejewskiBlocks(d_model);
  const double embed = 2 * d_model * vocab_size;
  return {.total_params =
              embed + (4 + 9 * num_experts) * n_blocks * d_model * d_model,
          .active_params = embed + 13 * n_blocks * d_model * d_model};
}

namespace {

// The rule's architecture with `layers` blocks.
Architecture Shaped(const Architecture& t, ShapeRule rule,
                    std::int64_t layers) {
  Architecture a = t;
  a.num_layers = layers;
  a.d_model = 64 * layers;
  a.num_heads = layers;  // 64-wide heads
  // Keep the template's query heads per kv head where it divides; else the
  // largest divisor of num_heads below it.
  std::int64_t group = 1;
  if (t.num_kv_heads > 0 && t.num_heads > 0 &&
      t.num_heads % t.num_kv_heads == 0) {
    group = t.num_heads / t.num_kv_heads;
  }
  while (a.num_heads % group) --group;
  a.num_kv_heads = t.num_kv_heads > 0 ? a.num_heads / group : 0;
  a.swiglu = rule == ShapeRule::kLudziejewski;
  a.ffn_hidden = (rule == ShapeRule::kLudziejewski ? 3 : 4) * a.d_model;
  a.expert_hidden = std::max<std::int64_t>(
      1, std::llround(static_cast<double>(a.ffn_hidden) /
                      static_cast<double>(t.granularity)));
  return a;
}

}  // namespace

StatusOr<Architecture> ArchitectureForActiveParams(
    double active_non_embed, const Architecture& shape_template,
    ShapeRule rule) {
  if (!(active_non_embed > 0) || !std::isfinite(active_non_embed)) {
    return InvalidArgumentError(
        "active_non_embed must be a finite number > 0, got " +
        std::to_string(active_non_embed));
  }
  MOESWEEP_RETURN_IF_ERROR(ValidateRouting(shape_template));
  Architecture t = shape_template;
  t.vocab_size = std::max<std::int64_t>(t.vocab_size, 1);
  t.seq_len = std::max<std::int64_t>(t.seq_len, 1);
  // The count grows with depth (width follows it), so walk up to the first
  // depth at or above the target and keep the nearer of it and the one below.
  double below = 0;
  for (std::int64_t layers = 1; layers <= kMaxLayers; ++layers) {
    const Architecture a = Shaped(t, rule, layers);
    MOESWEEP_ASSIGN_OR_RETURN(const ArchCounts counts, CountArchitecture(a));
    const double n = static_cast<double>(counts.active_non_embed);
    if (n < active_non_embed) {
      below = n;
      continue;
    }
    if (layers > 1 && active_non_embed / below < n / active_non_embed) {
      return Shaped(shape_template, rule, layers - 1);
    }
    return Shaped(shape_template, rule, layers);
  }
  return OutOfRangeError("no architecture under this shape rule reaches " +
                         std::to_string(active_non_embed) +
                         " active non-embedding parameters within " +
                         std::to_string(kMaxLayers) + " layers");
}

}  // namespace moesweep::fitter
