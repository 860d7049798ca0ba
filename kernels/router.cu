// The softmax router on the GPU. Forward is one fused pass a token (a warp a
// row): softmax, log-sum-exp, top-k and the expert histogram.

#include "kernels/cuda_util.cuh"
#include "kernels/kernels.h"

namespace moesweep::kernels::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;

// The better of two (probability, expert) candidates: the more probable,
// ties to the lower index, as the reference's strict '>' over ascending e.
// An index of -1 is no candidate.
__device__ inline void Better(float* p, int* e, float p2, int e2) {
  if (e2 < 0) return;
  if (*e < 0 || p2 > *p || (p2 == *p && e2 < *e)) {
    *p = p2;
    *e = e2;
  }
}

__global__ void RouterForward(float* probs, float* lse, int32_t* expert,
                              float* gate, int32_t* counts, const float* logits,
                              int N, int E, int K) {
  int n = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32,
      lane = threadIdx.x % 32;
  if (n >= N) return;
  const float* z = logits + size_t(n) * E;
  float* p = probs + size_t(n) * E;
  float max = -INFINITY;
  for (int e = lane; e < E; e += 32) max = fmaxf(max, z[e]);
  max = cuda_internal::WarpMax(max);
  float sum = 0;
  for (int e = lane; e < E; e += 32) sum += expf(z[e] - max);
  sum = cuda_internal::WarpSum(sum);
  for (int e = lane; e < E; e += 32) p[e] = expf(z[e] - max) / sum;
  if (lane == 0) lse[n] = max + logf(sum);
  // K rounds of arg-max over the experts not chosen yet. Each lane reads back
  // only the probabilities it wrote; the chosen experts come from lane 0's
  // writes, ordered by __syncwarp.
  int32_t* chosen = expert + size_t(n) * K;
  for (int k = 0; k < K; ++k) {
    float best_p = 0;
    int best_e = -1;
    for (int e = lane; e < E; e += 32) {
      bool taken = false;
      for (int j = 0; j < k; ++j) taken |= chosen[j] == e;
      if (!taken) Better(&best_p, &best_e, p[e], e);
    }
    for (int o = 16; o > 0; o /= 2) {
      float p2 = __shfl_xor_sync(cuda_internal::kFullMask, best_p, o);
      int e2 = __shfl_xor_sync(cuda_internal::kFullMask, best_e, o);
      Better(&best_p, &best_e, p2, e2);
    }
    if (lane == 0) {
      chosen[k] = best_e;
      gate[size_t(n) * K + k] = best_p;
      atomicAdd(&counts[best_e], 1);
    }
    __syncwarp();
  }
}

// Each expert's probability summed over the tokens, through ColumnSums.
struct ProbAt {
  const float* probs;
  int E;
  __device__ float operator()(int n, int e) const {
    return probs[size_t(n) * E + e];
  }
};
struct StoreTo {
  float* out;
  __device__ void operator()(int e, float total) const { out[e] = total; }
};

// One block: from the per-expert sums, the loss is a pass over E and one
// over the N log-sum-exps.
__global__ void RouterLoss(float* aux, float* z, const float* prob_sums,
                           const float* lse, const int32_t* counts, int N,
                           int E, int K) {
  __shared__ float shared[32];
  float a = 0;
  for (int e = threadIdx.x; e < E; e += blockDim.x) {
    a += float(counts[e]) / (N * K) * prob_sums[e] / N;
  }
  a = cuda_internal::BlockSum(a, shared);
  float zz = 0;
  for (int n = threadIdx.x; n < N; n += blockDim.x) zz += lse[n] * lse[n];
  zz = cuda_internal::BlockSum(zz, shared);
  if (threadIdx.x == 0) {
    *aux = E * a;
    *z = zz / N;
  }
}

__global__ void RouterBackward(float* dlogits, const float* dgate,
                               const float* probs, const float* lse,
                               const int32_t* expert, const int32_t* counts,
                               float daux, float dz, int N, int E, int K) {
  int n = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32,
      lane = threadIdx.x % 32;
  if (n >= N) return;
  const float* p = probs + size_t(n) * E;
  float* dl = dlogits + size_t(n) * E;
  // d(loss)/d(probs) for this lane's experts, kept in dl until the dot.
  float dot = 0;
  for (int e = lane; e < E; e += 32) {
    float d = daux * E * float(counts[e]) / (N * K) / N;
    for (int k = 0; k < K; ++k) {
      if (expert[size_t(n) * K + k] == e) d += dgate[size_t(n) * K + k];
    }
    dl[e] = d;
    dot += p[e] * d;
  }
  dot = cuda_internal::WarpSum(dot);
  float l = lse[n];
  for (int e = lane; e < E; e += 32) {
    dl[e] = p[e] * (dl[e] - dot) + dz * 2 * l / N * p[e];
  }
}

}  // namespace

using cuda_internal::Blocks;
using cuda_internal::Stream;

void router_forward(const Context& ctx, float* probs, float* lse,
                    int32_t* expert, float* gate, int32_t* counts,
                    const float* logits, int N, int E, int K) {
  cudaStream_t stream = Stream(ctx);
  MOESWEEP_CUDA_CHECK(cudaMemsetAsync(counts, 0, sizeof(int32_t) * E, stream));
  RouterForward<<<Blocks(N, kWarpsPerBlock), 32 * kWarpsPerBlock, 0, stream>>>(
      probs, lse, expert, gate, counts, logits, N, E, K);
  MOESWEEP_CUDA_LAUNCHED();
}

void router_loss_forward(const Context& ctx, float* aux, float* z,
                         const float* probs, const float* lse,
                         const int32_t* counts, int N, int E, int K) {
  cudaStream_t stream = Stream(ctx);
  // The workspace holds the partial sums, then the E totals at its end.
  auto* scratch = static_cast<float*>(ctx.cuda->workspace());
  const size_t floats = ctx.cuda->workspace_bytes() / sizeof(float);
  if (size_t(E) * 2 > floats) {
    std::fprintf(stderr,
                 "router_loss_forward: %d experts exceed the "
                 "workspace\n",
                 E);
    std::abort();
  }
  float* prob_sums = scratch + floats - E;
  cuda_internal::ColumnSums(stream, scratch, floats - E, N, E, ProbAt{probs, E},
                            StoreTo{prob_sums});
  RouterLoss<<<1, 256, 0, stream>>>(aux, z, prob_sums, lse, counts, N, E, K);
  MOESWEEP_CUDA_LAUNCHED();
}

void router_backward(const Context& ctx, float* dlogits, const float* dgate,
                     const float* probs, const float* lse,
                     const int32_t* expert, const int32_t* counts, float daux,
                     float dz, int N, int E, int K) {
  RouterBackward<<<Blocks(N, kWarpsPerBlock), 32 * kWarpsPerBlock, 0,
                   Stream(ctx)>>>(dlogits, dgate, probs, lse, expert, counts,
                                  daux, dz, N, E, K);
  MOESWEEP_CUDA_LAUNCHED();
}

}  // namespace moesweep::kernels::cuda
