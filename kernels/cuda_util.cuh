// Shared by the .cu files of kernels/: error checks, the op's stream, launch
// shapes and warp/block reductions. Internal to kernels/.

#ifndef MOESWEEP_KERNELS_CUDA_UTIL_CUH_
#define MOESWEEP_KERNELS_CUDA_UTIL_CUH_

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "kernels/cuda_engine.h"
#include "kernels/kernels.h"

namespace moesweep::kernels::cuda_internal {

// A CUDA error inside a training step leaves the device in an unknown state;
// like llm.c, we stop the process naming the call, and the worker's
// supervisor reports the trial failed.
inline void Check(cudaError_t err, const char* what, const char* file,
                  int line) {
  if (err == cudaSuccess) return;
  std::fprintf(stderr, "moesweep: CUDA error at %s:%d (%s): %s\n", file, line,
               what, cudaGetErrorString(err));
  std::abort();
}

}  // namespace moesweep::kernels::cuda_internal

#define MOESWEEP_CUDA_CHECK(call) \
  ::moesweep::kernels::cuda_internal::Check((call), #call, __FILE__, __LINE__)
// After each launch: a bad launch shape shows here, not at the next sync.
#define MOESWEEP_CUDA_LAUNCHED() MOESWEEP_CUDA_CHECK(cudaGetLastError())

namespace moesweep::kernels::cuda_internal {

inline cudaStream_t Stream(const Context& ctx) {
  if (ctx.cuda == nullptr) {
    std::fprintf(stderr, "moesweep: a cuda op was called without ctx.cuda\n");
    std::abort();
  }
  return static_cast<cudaStream_t>(ctx.cuda->stream());
}

// Blocks of `threads` covering n items (at least one block, so that a launch
// over nothing is still a valid launch shape; kernels guard their index).
inline unsigned Blocks(size_t n, int threads) {
  size_t b = (n + threads - 1) / threads;
  return unsigned(b == 0 ? 1 : b);
}

constexpr unsigned kFullMask = 0xffffffffu;

struct Add {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return a + b;
  }
};
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Every lane gets the warp's reduction of v by `op`.
template <typename T, typename Op>
__device__ inline T WarpReduce(T v, Op op) {
  for (int o = 16; o > 0; o /= 2) v = op(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

// Every thread of the block gets the block's reduction of v by `op`
// (`identity` its neutral value). `shared` holds 32 values; blockDim.x is a
// multiple of 32. The trailing barrier lets the caller reuse `shared` at
// once.
template <typename T, typename Op>
__device__ inline T BlockReduce(T v, T identity, T* shared, Op op) {
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int warps = blockDim.x / 32;
  v = WarpReduce(v, op);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : identity;
  v = WarpReduce(v, op);
  __syncthreads();
  return v;
}

template <typename T>
__device__ inline T WarpSum(T v) {
  return WarpReduce(v, Add());
}
__device__ inline float WarpMax(float v) { return WarpReduce(v, Max()); }
template <typename T>
__device__ inline T BlockSum(T v, T* shared) {
  return BlockReduce(v, T(0), shared, Add());
}
__device__ inline float BlockMax(float v, float* shared) {
  return BlockReduce(v, -INFINITY, shared, Max());
}

// Column sums of an N x C grid of values g(n, c) in an order fixed by N and
// C alone (no atomics), spread over the GPU: a block takes 32 columns and a
// chunk of rows, 8 row lanes a column, and writes the chunk's partial sums;
// a second pass adds each column's chunks in order and hands the total to
// put(c, total). A thread a column walking every row would leave all but a
// few SMs idle and take milliseconds.
template <typename G>
__global__ void ColumnPartials(float* partials, G g, int N, int C,
                               int rows_per_chunk) {
  __shared__ float part[8][33];
  const int tx = threadIdx.x % 32, ty = threadIdx.x / 32;
  const int c = blockIdx.x * 32 + tx, chunk = blockIdx.y;
  const int n0 = chunk * rows_per_chunk;
  const int n1 = min(N, n0 + rows_per_chunk);
  float s = 0;
  if (c < C) {
    for (int n = n0 + ty; n < n1; n += 8) s += g(n, c);
  }
  part[ty][tx] = s;
  __syncthreads();
  if (ty == 0 && c < C) {
    float total = 0;
    for (int i = 0; i < 8; ++i) total += part[i][tx];
    partials[size_t(chunk) * C + c] = total;
  }
}

template <typename Put>
__global__ void ColumnTotals(Put put, const float* partials, int chunks,
                             int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float total = 0;
  for (int k = 0; k < chunks; ++k) total += partials[size_t(k) * C + c];
  put(c, total);
}

// `scratch` holds scratch_floats floats (at least C) for the partials, used
// in stream order.
template <typename G, typename Put>
void ColumnSums(cudaStream_t stream, float* scratch, size_t scratch_floats,
                int N, int C, G g, Put put) {
  if (C <= 0) return;
  size_t chunks = std::min<size_t>((size_t(N) + 255) / 256, 1024);
  chunks =
      std::max<size_t>(1, std::min<size_t>(chunks, scratch_floats / size_t(C)));
  if (scratch_floats < size_t(C)) {
    std::fprintf(stderr, "ColumnSums: %zu floats of scratch for %d columns\n",
                 scratch_floats, C);
    std::abort();
  }
  const int rows = int((size_t(N) + chunks - 1) / chunks);
  ColumnPartials<<<dim3(unsigned((C + 31) / 32), unsigned(chunks)), 256, 0,
                   stream>>>(scratch, g, N, C, rows);
  MOESWEEP_CUDA_LAUNCHED();
  ColumnTotals<<<Blocks(size_t(C), 256), 256, 0, stream>>>(put, scratch,
                                                           int(chunks), C);
  MOESWEEP_CUDA_LAUNCHED();
}

}  // namespace moesweep::kernels::cuda_internal

#endif  // MOESWEEP_KERNELS_CUDA_UTIL_CUH_
