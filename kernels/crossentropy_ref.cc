// Softmax cross-entropy over the vocabulary.

#include <cmath>

#include "kernels/kernels.h"
#include "kernels/ref_instantiate.h"

namespace moesweep::kernels::ref {

template <typename Float>
void crossentropy_forward(const Context&, Float* losses, Float* probs,
                          const Float* logits, const int32_t* targets, int N,
                          int V) {
  for (int n = 0; n < N; ++n) {
    const Float* z = logits + size_t(n) * V;
    Float* p = probs + size_t(n) * V;
    Float max = z[0];
    for (int v = 1; v < V; ++v) max = z[v] > max ? z[v] : max;
    Float sum = 0;
    for (int v = 0; v < V; ++v) sum += std::exp(z[v] - max);
    for (int v = 0; v < V; ++v) p[v] = std::exp(z[v] - max) / sum;
    losses[n] = -(z[targets[n]] - max - std::log(sum));
  }
}

template <typename Float>
void crossentropy_backward(const Context&, Float* dlogits, const Float* probs,
                           const int32_t* targets, Float dloss, int N, int V) {
  for (int n = 0; n < N; ++n) {
    for (int v = 0; v < V; ++v) {
      Float onehot = v == targets[n] ? Float(1) : Float(0);
      dlogits[size_t(n) * V + v] = dloss * (probs[size_t(n) * V + v] - onehot);
    }
  }
}

MOESWEEP_REF_INSTANTIATE(crossentropy_forward);
MOESWEEP_REF_INSTANTIATE(crossentropy_backward);

}  // namespace moesweep::kernels::ref
