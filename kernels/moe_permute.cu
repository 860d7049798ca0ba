// Routing into expert-contiguous order and the gate-weighted combine back,
// on the GPU. Offsets and slots are computed on the device from the router's
// counts and choices; the host learns neither.

#include "kernels/cuda_sort.cuh"
#include "kernels/cuda_util.cuh"
#include "kernels/kernels.h"

namespace moesweep::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void Offsets(int32_t* offsets, const int32_t* counts, int E) {
  if (threadIdx.x != 0) return;
  offsets[0] = 0;
  for (int e = 0; e < E; ++e) offsets[e + 1] = offsets[e] + counts[e];
}

// One block an expert. The block walks the (n, k) pairs in ascending order,
// kThreads at a time, and gives the pairs that chose its expert consecutive
// rows by a block-wide prefix count, so each expert keeps the reference's
// order. Every block reads all N K choices (E passes in all): for up to
// kSlotPassExperts experts; more sort the choices instead (SlotsFromOrder).
__global__ void Slots(int32_t* slot, const int32_t* offsets,
                      const int32_t* expert, int NK) {
  __shared__ int warp_counts[kThreads / 32];
  const int e = blockIdx.x, lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int row = offsets[e];
  for (int base = 0; base < NK; base += kThreads) {
    int j = base + threadIdx.x;
    bool mine = j < NK && expert[j] == e;
    unsigned ballot = __ballot_sync(cuda_internal::kFullMask, mine);
    if (lane == 0) warp_counts[warp] = __popc(ballot);
    __syncthreads();
    int before = 0, total = 0;
    for (int w = 0; w < kThreads / 32; ++w) {
      before += w < warp ? warp_counts[w] : 0;
      total += warp_counts[w];
    }
    if (mine) {
      slot[j] = row + before + __popc(ballot & ((1u << lane) - 1));
    }
    row += total;
    __syncthreads();  // warp_counts is rewritten next round
  }
}

constexpr int kSlotPassExperts = 64;

// The choices sorted stably by expert: the i-th lands in row i (expert e's
// run starts at offsets[e], its pairs in ascending (n, k) order), the
// reference's slots, each choice read a constant number of times.
__global__ void SlotsFromOrder(int32_t* slot, const int32_t* positions,
                               int NK) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < NK) slot[positions[i]] = i;
}

__global__ void Gather(float* xp, const float* x, const int32_t* slot, int NK,
                       int C, int K) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= size_t(NK) * C) return;
  size_t nk = i / C, c = i % C;
  xp[size_t(slot[nk]) * C + c] = x[(nk / K) * C + c];
}

__global__ void PermuteBackward(float* dx, const float* dxp,
                                const int32_t* slot, int N, int C, int K) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= size_t(N) * C) return;
  size_t n = i / C, c = i % C;
  float sum = 0;
  for (int k = 0; k < K; ++k) sum += dxp[size_t(slot[n * K + k]) * C + c];
  dx[i] += sum;
}

__global__ void UnpermuteForward(float* out, const float* yp, const float* gate,
                                 const int32_t* slot, int N, int C, int K) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= size_t(N) * C) return;
  size_t n = i / C, c = i % C;
  float sum = 0;
  for (int k = 0; k < K; ++k) {
    sum += gate[n * K + k] * yp[size_t(slot[n * K + k]) * C + c];
  }
  out[i] = sum;
}

// A warp a (token, k) pair: scatter the gated gradient, and dot for dgate.
__global__ void UnpermuteBackward(float* dyp, float* dgate, const float* dout,
                                  const float* yp, const float* gate,
                                  const int32_t* slot, int N, int C, int K) {
  size_t nk = size_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (nk >= size_t(N) * K) return;
  size_t n = nk / K, row = size_t(slot[nk]);
  float g = gate[nk], dot = 0;
  for (int c = lane; c < C; c += 32) {
    float d = dout[n * C + c];
    dyp[row * C + c] = g * d;
    dot += d * yp[row * C + c];
  }
  dot = cuda_internal::WarpSum(dot);
  if (lane == 0) dgate[nk] = dot;
}

}  // namespace

using cuda_internal::Blocks;
using cuda_internal::Stream;

void moe_permute_forward(const Context& ctx, float* xp, int32_t* offsets,
                         int32_t* slot, const float* x, const int32_t* expert,
                         const int32_t* counts, int N, int C, int E, int K) {
  cudaStream_t stream = Stream(ctx);
  Offsets<<<1, 32, 0, stream>>>(offsets, counts, E);
  MOESWEEP_CUDA_LAUNCHED();
  int bits = 1;
  while (bits < 31 && (1 << bits) < E) ++bits;
  cuda_internal::SortedKeys order;
  if (E > kSlotPassExperts &&
      cuda_internal::SortByKey(ctx, expert, N * K, bits, &order)) {
    SlotsFromOrder<<<Blocks(size_t(N) * K, 256), 256, 0, stream>>>(
        slot, order.positions, N * K);
  } else {
    Slots<<<E, kThreads, 0, stream>>>(slot, offsets, expert, N * K);
  }
  MOESWEEP_CUDA_LAUNCHED();
  Gather<<<Blocks(size_t(N) * K * C, 256), 256, 0, stream>>>(xp, x, slot, N * K,
                                                             C, K);
  MOESWEEP_CUDA_LAUNCHED();
}

void moe_permute_backward(const Context& ctx, float* dx, const float* dxp,
                          const int32_t* slot, int N, int C, int K) {
  PermuteBackward<<<Blocks(size_t(N) * C, 256), 256, 0, Stream(ctx)>>>(
      dx, dxp, slot, N, C, K);
  MOESWEEP_CUDA_LAUNCHED();
}

void moe_unpermute_forward(const Context& ctx, float* out, const float* yp,
                           const float* gate, const int32_t* slot, int N, int C,
                           int K) {
  UnpermuteForward<<<Blocks(size_t(N) * C, 256), 256, 0, Stream(ctx)>>>(
      out, yp, gate, slot, N, C, K);
  MOESWEEP_CUDA_LAUNCHED();
}

void moe_unpermute_backward(const Context& ctx, float* dyp, float* dgate,
                            const float* dout, const float* yp,
                            const float* gate, const int32_t* slot, int N,
                            int C, int K) {
  UnpermuteBackward<<<Blocks(size_t(N) * K, 8), 256, 0, Stream(ctx)>>>(
      dyp, dgate, dout, yp, gate, slot, N, C, K);
  MOESWEEP_CUDA_LAUNCHED();
}

}  // namespace moesweep::kernels::cuda
