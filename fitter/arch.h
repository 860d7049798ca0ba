// Architecture accounting: parameters, FLOPs and bytes of a (Mixture-of-
// Experts) decoder-only transformer, the law features of a run, the cost
// models of Krajewski et al. 2024 and Ludziejewski et al. 2025, and the map
// from a law's size feature back to an architecture (LAWS.md §2e, §4b, §7).
// Included by fitter/fitter.h; other folders include that.
//
// Thread-safety: every function here is thread-safe; none keeps state.

#ifndef MOESWEEP_FITTER_ARCH_H_
#define MOESWEEP_FITTER_ARCH_H_

#include <cstdint>

#include "common/status.h"

namespace moesweep::fitter {

struct Observation;

// A decoder-only transformer: pre-norm blocks of attention then a (routed)
// FFN, RMSNorm weights without biases, no biases in linear layers.
struct Architecture {
  std::int64_t vocab_size = 0;
  std::int64_t seq_len = 0;  // training context, tokens
  std::int64_t d_model = 0;
  std::int64_t num_layers = 0;  // blocks
  std::int64_t num_heads = 0;   // must divide d_model
  // Key/value heads (grouped-query attention); 0 means num_heads. Must divide
  // num_heads.
  std::int64_t num_kv_heads = 0;
  // E, routed experts; 1 is a dense FFN. Krajewski's expansion rate is
  // num_experts / granularity when the experts are ffn_hidden / G wide.
  std::int64_t num_experts = 1;
  std::int64_t top_k = 1;        // k, routed experts per token; <= E
  std::int64_t granularity = 1;  // G = ffn_hidden / expert_hidden (Krajewski)
  std::int64_t num_shared = 0;   // experts every token uses, beside the k
  // Hidden width of one expert (routed or shared); 0 derives it as
  // ffn_hidden / granularity, which must then divide exactly.
  std::int64_t expert_hidden = 0;
  std::int64_t ffn_hidden = 0;   // d_ff of the dense FFN the experts refine
  bool tied_embeddings = false;  // unembedding shares the embedding matrix
  bool swiglu = true;            // 3 matrices per expert (gated); else 2

  // INVALID_ARGUMENT naming the first bad field and its value.
  Status Validate() const;
};

struct BytesOptions {
  double bytes_per_weight = 2;  // bf16 weights
  // fp32 master copy and both Adam moments.
  double bytes_per_optimizer_param = 12;
};

// What an architecture holds and costs. Parameter counts are exact.
struct ArchCounts {
  std::int64_t total_params = 0;   // embeddings included
  std::int64_t active_params = 0;  // used per token, embeddings included
  std::int64_t total_non_embed = 0;
  std::int64_t active_non_embed = 0;
  std::int64_t embed_params = 0;   // embedding + unembedding (once if tied)
  std::int64_t router_params = 0;  // d_model·E per layer when E > 1
  // The trainer's FLOPs, the figure a worker reports and a campaign spends:
  // 2 per multiply-add of every matrix a token passes through (attention
  // projections, router, its k routed and the shared experts, and the
  // unembedding, tied or not), plus 4·num_layers·seq_len·d_model for
  // attention scores and values over the full context (Hoffmann et al. 2022,
  // App. F; no causal halving). Norms and embedding lookups are not counted.
  double forward_flops_per_token = 0;
  double train_flops_per_token = 0;  // 3·forward: forward + backward
  // 6·active_params: the C = 6·N·D convention of Chinchilla and Ludziejewski.
  double train_flops_6nd_per_token = 0;
  double weight_bytes = 0;     // total_params·bytes_per_weight
  double optimizer_bytes = 0;  // total_params·bytes_per_optimizer_param
};

// Counts `arch`. Per layer: attention 2·d² + 2·d·(kv_heads·d/heads); experts
// (2 or 3)·d·expert_hidden each, routed ones active k at a time and shared ones
// always; router d·E (E > 1); two norms of d. Then a final norm of d and
// vocab·d for the embedding, again for an untied unembedding.
// INVALID_ARGUMENT when Validate() fails or a count passes 2^62.
StatusOr<ArchCounts> CountArchitecture(const Architecture& arch,
                                       const BytesOptions& bytes = {});

// Every law feature of a run of `arch` on `tokens` training tokens (loss 0,
// weight 1, unique_tokens = tokens). REQUIRES: arch.Validate().ok(); an invalid
// architecture gives zero counts, which every family refuses.
Observation FeaturesOf(const Architecture& arch, double tokens);

// Krajewski et al. 2024, §6 (LAWS.md §2e): training FLOPs
// F = (12·d²·c_f + d·E·G·c_r)·D·n_blocks, with E the expansion rate, G the
// granularity and routing over E·G fine-grained experts per block; embeddings
// excluded. c_f, c_r: FLOPs per parameter of the body and the router.
double KrajewskiFlops(double d_model, double n_blocks, double expansion,
                      double granularity, double tokens, double c_f = 6,
                      double c_r = 14);
// Krajewski's shape rule d_model = 64·n_blocks.
inline double KrajewskiDModel(double n_blocks) { return 64 * n_blocks; }
// Krajewski's N = d²·(8E + 4)·n_blocks (total non-embedding, routing
// excluded) and N_act = 12·d²·n_blocks (FFN d_ff = 4·d, 2 matrices).
double KrajewskiTotalNonEmbed(double d_model, double n_blocks,
                              double expansion);
double KrajewskiActiveNonEmbed(double d_model, double n_blocks);

// Ludziejewski et al. 2025, App. A (LAWS.md §4b): n_blocks = n_heads =
// d_model/64, SwiGLU hidden 3·d_model, top-1 routing over E experts; both
// counts include embedding and unembedding:
//   N_total = 2·d·vocab + (4 + 9E)·n_blocks·d²,
//   N_act   = 2·d·vocab + 13·n_blocks·d².
struct LudziejewskiCounts {
  double total_params = 0;
  double active_params = 0;
};
LudziejewskiCounts LudziejewskiParams(double d_model, double num_experts,
                                      double vocab_size);
// n_blocks = d_model / 64.
inline double LudziejewskiBlocks(double d_model) { return d_model / 64; }

// How depth, width, heads and FFN widths follow from one size.
enum class ShapeRule {
  // d_model = 64·n_blocks; d_ff = 4·d_model, 2-matrix FFN; 64-wide heads.
  kKrajewski,
  // n_blocks = n_heads = d_model/64; SwiGLU, hidden 3·d_model.
  kLudziejewski,
};

// The architecture whose active non-embedding count is nearest (in ratio) to
// `active_non_embed` under `rule`: num_layers whole, d_model = 64·num_layers,
// heads 64 wide, kv heads keeping the template's grouping where it divides,
// expert_hidden = d_ff / G rounded. Keeps vocab, seq_len, E, k, G, shared
// experts and tied embeddings from `shape_template`. The achieved count is
// CountArchitecture(result)->active_non_embed. INVALID_ARGUMENT when the
// target is not a finite number > 0 or the template's E, k, G or shared
// experts are invalid; OUT_OF_RANGE when the target needs more than 4,096
// layers.
StatusOr<Architecture> ArchitectureForActiveParams(
    double active_non_embed, const Architecture& shape_template,
    ShapeRule rule);

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_ARCH_H_
