// Token embedding lookup and its gradient on the GPU.

#include "kernels/cuda_util.cuh"
#include "kernels/kernels.h"

namespace moesweep::kernels::cuda {

namespace {

__global__ void EmbeddingForward(float* out, const int32_t* tokens,
                                 const float* wte, int N, int C) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= size_t(N) * C) return;
  size_t n = i / C, c = i % C;
  out[i] = wte[size_t(tokens[n]) * C + c];
}

// Tokens repeat within a batch, so rows of dwte take several adds: atomics,
// whose order varies, which fp32 sums of a handful of terms tolerate.
__global__ void EmbeddingBackward(float* dwte, const float* dout,
                                  const int32_t* tokens, int N, int C) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= size_t(N) * C) return;
  size_t n = i / C, c = i % C;
  atomicAdd(&dwte[size_t(tokens[n]) * C + c], dout[i]);
}

}  // namespace

using cuda_internal::Blocks;
using cuda_internal::Stream;

void embedding_forward(const Context& ctx, float* out, const int32_t* tokens,
                       const float* wte, int N, int C) {
  EmbeddingForward<<<Blocks(size_t(N) * C, 256), 256, 0, Stream(ctx)>>>(
      out, tokens, wte, N, C);
  MOESWEEP_CUDA_LAUNCHED();
}

void embedding_backward(const Context& ctx, float* dwte, const float* dout,
                        const int32_t* tokens, int N, int C) {
  EmbeddingBackward<<<Blocks(size_t(N) * C, 256), 256, 0, Stream(ctx)>>>(
      dwte, dout, tokens, N, C);
  MOESWEEP_CUDA_LAUNCHED();
}

}  // namespace moesweep::kernels::cuda
