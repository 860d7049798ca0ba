// Softmax cross-entropy over the vocabulary on the GPU: one block a row.

#include "kernels/cuda_util.cuh"
#include "kernels/kernels.h"

namespace moesweep::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void CrossentropyForward(float* losses, float* probs,
                                    const float* logits, const int32_t* targets,
                                    int V) {
  __shared__ float shared[32];
  size_t n = blockIdx.x;
  const float* z = logits + n * V;
  float* p = probs + n * V;
  float max = -INFINITY;
  for (int v = threadIdx.x; v < V; v += blockDim.x) max = fmaxf(max, z[v]);
  max = cuda_internal::BlockMax(max, shared);
  float sum = 0;
  for (int v = threadIdx.x; v < V; v += blockDim.x) sum += expf(z[v] - max);
  sum = cuda_internal::BlockSum(sum, shared);
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    p[v] = expf(z[v] - max) / sum;
  }
  if (threadIdx.x == 0) losses[n] = -(z[targets[n]] - max - logf(sum));
}

__global__ void CrossentropyBackward(float* dlogits, const float* probs,
                                     const int32_t* targets, float dloss, int N,
                                     int V) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= size_t(N) * V) return;
  size_t n = i / V;
  float onehot = int(i % V) == targets[n] ? 1.0f : 0.0f;
  dlogits[i] = dloss * (probs[i] - onehot);
}

}  // namespace

using cuda_internal::Blocks;
using cuda_internal::Stream;

void crossentropy_forward(const Context& ctx, float* losses, float* probs,
                          const float* logits, const int32_t* targets, int N,
                          int V) {
  if (N == 0) return;
  CrossentropyForward<<<N, kThreads, 0, Stream(ctx)>>>(losses, probs, logits,
                                                       targets, V);
  MOESWEEP_CUDA_LAUNCHED();
}

void crossentropy_backward(const Context& ctx, float* dlogits,
                           const float* probs, const int32_t* targets,
                           float dloss, int N, int V) {
  CrossentropyBackward<<<Blocks(size_t(N) * V, 256), 256, 0, Stream(ctx)>>>(
      dlogits, probs, targets, dloss, N, V);
  MOESWEEP_CUDA_LAUNCHED();
}

}  // namespace moesweep::kernels::cuda
