// The MoE FFN of one layer: softmax router and top-k, dropless routing into
// expert-contiguous order, routed SwiGLU experts, gate-weighted combine, and
// optional shared experts every token passes through. With E = 1 there is no
// router: every token goes to the one expert with gate 1, a dense FFN.

#include "worker/trainer/activations.h"
#include "worker/trainer/model.h"

namespace moesweep::worker {

// resid[l + 1] = mid + sum_k gate * expert(ln2) + shared(ln2).
void Model::MoeForward(int l, int B) {
  const ModelConfig& c = config_;
  const int N = B * c.seq_len, C = c.d_model, E = c.n_experts, K = c.top_k;
  const int H = c.expert_hidden(), Hs = c.n_shared_experts * H, M = N * K;
  const LayerViews& w = p_.layers[l];
  LayerActivations& x = a_->layers[l];
  float* out = a_->resid[l + 1];
  if (E > 1) {
    k_.matmul_forward(ctx_, x.rlogits, x.ln2, w.wrouter, N, C, E);
    k_.router_forward(ctx_, x.probs, x.lse, x.expert, x.gate, x.counts,
                      x.rlogits, N, E, K);
    float* aux_z = a_->scalars + 2 * l;  // read back after the step
    k_.router_loss_forward(ctx_, aux_z, aux_z + 1, x.probs, x.lse, x.counts, N,
                           E, K);
  }  // else Stage set the one expert's count; routing was set at creation
  k_.moe_permute_forward(ctx_, x.xp, x.offsets, x.slot, x.ln2, x.expert,
                         x.counts, N, C, E, K);
  k_.expert_matmul_forward(ctx_, x.h13, x.xp, w.w13, x.offsets, M, E, C, 2 * H);
  k_.swiglu_forward(ctx_, x.act, x.h13, M, H);
  k_.expert_matmul_forward(ctx_, x.yp, x.act, w.w2, x.offsets, M, E, H, C);
  k_.moe_unpermute_forward(ctx_, a_->tmp, x.yp, x.gate, x.slot, N, C, K);
  k_.add_forward(ctx_, out, x.mid, a_->tmp, size_t(N) * C);
  if (Hs > 0) {
    k_.matmul_forward(ctx_, x.sh13, x.ln2, w.shared_w13, N, C, 2 * Hs);
    k_.swiglu_forward(ctx_, x.sact, x.sh13, N, Hs);
    k_.matmul_forward(ctx_, a_->tmp, x.sact, w.shared_w2, N, Hs, C);
    k_.add_forward(ctx_, out, out, a_->tmp, size_t(N) * C);
  }
}

// On entry a_->dres = d resid[l + 1] (also d of the FFN output); on exit
// a_->dln = d ln2, and the FFN's weight gradients are accumulated.
void Model::MoeBackward(int l, int B) {
  const ModelConfig& c = config_;
  const int N = B * c.seq_len, C = c.d_model, E = c.n_experts, K = c.top_k;
  const int H = c.expert_hidden(), Hs = c.n_shared_experts * H, M = N * K;
  const LayerViews& w = p_.layers[l];
  const LayerViews& dw = g_.layers[l];
  LayerActivations& x = a_->layers[l];
  Activations& a = *a_;
  ZeroFloats(a.dln, size_t(N) * C);
  if (Hs > 0) {
    ZeroFloats(a.dsact, size_t(N) * Hs);
    k_.matmul_backward(ctx_, a.dsact, dw.shared_w2, a.dres, x.sact, w.shared_w2,
                       N, Hs, C);
    k_.swiglu_backward(ctx_, a.dsh13, a.dsact, x.sh13, N, Hs);
    k_.matmul_backward(ctx_, a.dln, dw.shared_w13, a.dsh13, x.ln2, w.shared_w13,
                       N, C, 2 * Hs);
  }
  k_.moe_unpermute_backward(ctx_, a.dyp, a.dgate, a.dres, x.yp, x.gate, x.slot,
                            N, C, K);
  k_.expert_matmul_backward(ctx_, a.dact, dw.w2, a.dyp, x.act, w.w2, x.offsets,
                            M, E, H, C);
  k_.swiglu_backward(ctx_, a.dh13, a.dact, x.h13, M, H);
  k_.expert_matmul_backward(ctx_, a.dxp, dw.w13, a.dh13, x.xp, w.w13, x.offsets,
                            M, E, C, 2 * H);
  k_.moe_permute_backward(ctx_, a.dln, a.dxp, x.slot, N, C, K);
  if (E > 1) {
    k_.router_backward(ctx_, a.drlogits, a.dgate, x.probs, x.lse, x.expert,
                       x.counts, c.aux_loss_coef * loss_scale_,
                       c.z_loss_coef * loss_scale_, N, E, K);
    k_.matmul_backward(ctx_, a.dln, dw.wrouter, a.drlogits, x.ln2, w.wrouter, N,
                       C, E);
  }
}

}  // namespace moesweep::worker
