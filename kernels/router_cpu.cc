// Fast router: softmax and top-k per token in one pass over its logits, rows
// split across threads; the histogram is counted after, in token order.

#include <cmath>

#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace moesweep::kernels::cpu {

void router_forward(const Context& ctx, float* probs, float* lse,
                    int32_t* expert, float* gate, int32_t* counts,
                    const float* logits, int N, int E, int K) {
  ParallelFor(ctx, N, [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      const float* z = logits + n * E;
      float* p = probs + n * E;
      float max = z[0];
      for (int e = 1; e < E; ++e) max = z[e] > max ? z[e] : max;
      float sum = 0;
      for (int e = 0; e < E; ++e) sum += std::exp(z[e] - max);
      for (int e = 0; e < E; ++e) p[e] = std::exp(z[e] - max) / sum;
      lse[n] = max + std::log(sum);
      // Insertion into a sorted top-k list; a later expert displaces an
      // earlier one only when strictly more probable, so ties go to the
      // lower index, as in the reference.
      int32_t* top = expert + n * K;
      int filled = 0;
      for (int e = 0; e < E; ++e) {
        int pos = filled;
        while (pos > 0 && p[e] > p[top[pos - 1]]) --pos;
        if (pos >= K) continue;
        for (int j = (filled < K ? filled : K - 1); j > pos; --j) {
          top[j] = top[j - 1];
        }
        top[pos] = e;
        if (filled < K) ++filled;
      }
      for (int k = 0; k < K; ++k) gate[n * K + k] = p[top[k]];
    }
  });
  for (int e = 0; e < E; ++e) counts[e] = 0;
  for (int nk = 0; nk < N * K; ++nk) ++counts[expert[nk]];
}

void router_loss_forward(const Context& ctx, float* aux, float* z,
                         const float* probs, const float* lse,
                         const int32_t* counts, int N, int E, int K) {
  ref::router_loss_forward<float>(ctx, aux, z, probs, lse, counts, N, E, K);
}

void router_backward(const Context& ctx, float* dlogits, const float* dgate,
                     const float* probs, const float* lse,
                     const int32_t* expert, const int32_t* counts, float daux,
                     float dz, int N, int E, int K) {
  ParallelFor(ctx, N, [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      const float* p = probs + n * E;
      float* dl = dlogits + n * E;
      for (int e = 0; e < E; ++e) {
        dl[e] = daux * E * float(counts[e]) / float(N * K) / float(N);
      }
      for (int k = 0; k < K; ++k) dl[expert[n * K + k]] += dgate[n * K + k];
      float dot = 0;
      for (int e = 0; e < E; ++e) dot += p[e] * dl[e];
      float dlse = dz * 2 * lse[n] / float(N);
      for (int e = 0; e < E; ++e) dl[e] = p[e] * (dl[e] - dot + dlse);
    }
  });
}

}  // namespace moesweep::kernels::cpu
