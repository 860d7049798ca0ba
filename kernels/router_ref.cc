// Softmax router with top-k selection, its auxiliary losses and their
// gradients.

#include <cmath>

#include "kernels/kernels.h"
#include "kernels/ref_instantiate.h"

namespace moesweep::kernels::ref {

template <typename Float>
void router_forward(const Context&, Float* probs, Float* lse, int32_t* expert,
                    Float* gate, int32_t* counts, const Float* logits, int N,
                    int E, int K) {
  for (int e = 0; e < E; ++e) counts[e] = 0;
  for (int n = 0; n < N; ++n) {
    const Float* z = logits + n * E;
    Float* p = probs + n * E;
    Float max = z[0];
    for (int e = 1; e < E; ++e) max = z[e] > max ? z[e] : max;
    Float sum = 0;
    for (int e = 0; e < E; ++e) sum += std::exp(z[e] - max);
    for (int e = 0; e < E; ++e) p[e] = std::exp(z[e] - max) / sum;
    lse[n] = max + std::log(sum);
    // K passes of arg-max over the experts not yet chosen; the strict '>'
    // sends ties to the lower index.
    for (int k = 0; k < K; ++k) {
      int best = -1;
      for (int e = 0; e < E; ++e) {
        bool taken = false;
        for (int j = 0; j < k; ++j) taken |= expert[n * K + j] == e;
        if (!taken && (best < 0 || p[e] > p[best])) best = e;
      }
      expert[n * K + k] = best;
      gate[n * K + k] = p[best];
      ++counts[best];
    }
  }
}

template <typename Float>
void router_loss_forward(const Context&, Float* aux, Float* z,
                         const Float* probs, const Float* lse,
                         const int32_t* counts, int N, int E, int K) {
  Float a = 0;
  for (int e = 0; e < E; ++e) {
    Float mean_prob = 0;
    for (int n = 0; n < N; ++n) mean_prob += probs[n * E + e];
    a += Float(counts[e]) / (N * K) * mean_prob / N;
  }
  *aux = E * a;
  Float zz = 0;
  for (int n = 0; n < N; ++n) zz += lse[n] * lse[n];
  *z = zz / N;
}

template <typename Float>
void router_backward(const Context&, Float* dlogits, const Float* dgate,
                     const Float* probs, const Float* lse,
                     const int32_t* expert, const int32_t* counts, Float daux,
                     Float dz, int N, int E, int K) {
  for (int n = 0; n < N; ++n) {
    const Float* p = probs + n * E;
    Float* dl = dlogits + n * E;
    // dl temporarily holds d(loss)/d(probs).
    for (int e = 0; e < E; ++e)
      dl[e] = daux * E * Float(counts[e]) / (N * K) / N;
    for (int k = 0; k < K; ++k) dl[expert[n * K + k]] += dgate[n * K + k];
    Float dot = 0;
    for (int e = 0; e < E; ++e) dot += p[e] * dl[e];
    // d(lse^2)/dz_e = 2 lse p_e.
    for (int e = 0; e < E; ++e) {
      dl[e] = p[e] * (dl[e] - dot) + dz * 2 * lse[n] / N * p[e];
    }
  }
}

MOESWEEP_REF_INSTANTIATE(router_forward);
MOESWEEP_REF_INSTANTIATE(router_loss_forward);
MOESWEEP_REF_INSTANTIATE(router_backward);

}  // namespace moesweep::kernels::ref
