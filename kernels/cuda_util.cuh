// Shared by the .cu files of kernels/: error checks, the op's stream, launch
// shapes and warp/block reductions. Internal to kernels/.

#ifndef MOESWEEP_KERNELS_CUDA_UTIL_CUH_
#define MOESWEEP_KERNELS_CUDA_UTIL_CUH_

#include <cuda_runtime.h>

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

}  // namespace moesweep::kernels::cuda_internal

#endif  // MOESWEEP_KERNELS_CUDA_UTIL_CUH_
