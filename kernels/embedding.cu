// Token embedding lookup and its gradient on the GPU.

#include <cstdint>

#include "kernels/cuda_sort.cuh"
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

constexpr int kWarps = 8;

// A warp a run of one token in the sorted order and 32 of its columns (the
// warp at the run's first place; the others return; blockIdx.y picks the
// columns, so a frequent token's run is spread over C / 32 warps): adds the
// run's dout rows to the token's row in ascending position (the radix sort
// is stable), the reference's order, so the sums repeat bit for bit and no
// two warps touch one element.
__global__ void AddRuns(float* dwte, const float* dout,
                        const int32_t* sorted_tokens, const int32_t* positions,
                        int N, int C) {
  const int i = blockIdx.x * kWarps + threadIdx.x / 32;
  const int c = blockIdx.y * 32 + threadIdx.x % 32;
  if (i >= N) return;
  const int32_t v = sorted_tokens[i];
  if (i > 0 && sorted_tokens[i - 1] == v) return;
  int end = i + 1;
  while (end < N && sorted_tokens[end] == v) ++end;
  if (c >= C) return;
  float s = dwte[size_t(v) * C + c];
#pragma unroll 4
  for (int j = i; j < end; ++j) s += dout[size_t(positions[j]) * C + c];
  dwte[size_t(v) * C + c] = s;
}

// Where the sort does not fit the engine's workspace (steps of millions of
// tokens): atomics, whose order varies in the last bits.
__global__ void EmbeddingBackwardAtomic(float* dwte, const float* dout,
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

// Tokens repeat within a batch: the positions are sorted by token (a stable
// radix sort, in the engine's workspace), then each token's run is summed in
// order (PyTorch's deterministic path sorts too, then sums segments).
void embedding_backward(const Context& ctx, float* dwte, const float* dout,
                        const int32_t* tokens, int N, int C) {
  cudaStream_t stream = Stream(ctx);
  if (N == 0 || C == 0) return;
  cuda_internal::SortedKeys order;
  if (!cuda_internal::SortByKey(ctx, tokens, N, 32, &order)) {
    EmbeddingBackwardAtomic<<<Blocks(size_t(N) * C, 256), 256, 0, stream>>>(
        dwte, dout, tokens, N, C);
    MOESWEEP_CUDA_LAUNCHED();
    return;
  }
  const dim3 grid(Blocks(size_t(N), kWarps), unsigned((C + 31) / 32));
  AddRuns<<<grid, 32 * kWarps, 0, stream>>>(dwte, dout, order.sorted,
                                            order.positions, N, C);
  MOESWEEP_CUDA_LAUNCHED();
}

}  // namespace moesweep::kernels::cuda
