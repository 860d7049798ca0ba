// Fast softmax cross-entropy, rows split across threads.

#include <cmath>

#include "kernels/fast_exp.h"
#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace moesweep::kernels::cpu {

void crossentropy_forward(const Context& ctx, float* losses, float* probs,
                          const float* logits, const int32_t* targets, int N,
                          int V) {
  ParallelFor(ctx, N, [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      const float* z = logits + n * V;
      float* p = probs + n * V;
      float max = z[0];
      for (int v = 1; v < V; ++v) max = z[v] > max ? z[v] : max;
      for (int v = 0; v < V; ++v) p[v] = FastExp(z[v] - max);
      float sum = 0;
      for (int v = 0; v < V; ++v) sum += p[v];
      float inv = 1.0f / sum;
      for (int v = 0; v < V; ++v) p[v] *= inv;
      losses[n] = -(z[targets[n]] - max - std::log(sum));
    }
  });
}

void crossentropy_backward(const Context& ctx, float* dlogits,
                           const float* probs, const int32_t* targets,
                           float dloss, int N, int V) {
  ParallelFor(ctx, N, [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      for (int v = 0; v < V; ++v) dlogits[n * V + v] = dloss * probs[n * V + v];
      dlogits[n * V + targets[n]] -= dloss;
    }
  });
}

}  // namespace moesweep::kernels::cpu
