// A stable sort of int32 keys on the GPU for the ops that must add or place
// rows in the reference's order without atomics (the embedding's gradient,
// the permutation's slots). Internal to kernels/*.cu.

#ifndef MOESWEEP_KERNELS_CUDA_SORT_CUH_
#define MOESWEEP_KERNELS_CUDA_SORT_CUH_

#include <cstdint>
#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda_util.cuh"

namespace moesweep::kernels::cuda_internal {

namespace sort_detail {

// A template, so that each kernel file including this header may define it.
template <typename T>
__global__ void Iota(T* v, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) v[i] = i;
}

inline size_t Aligned(size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace sort_detail

// Where keys[0, n) (each in [0, 2^key_bits)) land when sorted stably:
// sorted[i] is the i-th smallest key and positions[i] its index in keys, so
// equal keys keep ascending positions.
struct SortedKeys {
  const int32_t* sorted;
  const int32_t* positions;
};

// Queues CUB's radix sort on the context's stream, its buffers in the
// engine's workspace (valid until the next op that uses the workspace).
// False, queueing nothing, where they do not fit. Safe under stream capture:
// sizing is host arithmetic and device queries.
inline bool SortByKey(const Context& ctx, const int32_t* keys, int n,
                      int key_bits, SortedKeys* out) {
  cudaStream_t stream = Stream(ctx);
  char* workspace = static_cast<char*>(ctx.cuda->workspace());
  const size_t ints = sort_detail::Aligned(sizeof(int32_t) * size_t(n));
  auto* iota = reinterpret_cast<int32_t*>(workspace);
  auto* sorted = reinterpret_cast<int32_t*>(workspace + ints);
  auto* positions = reinterpret_cast<int32_t*>(workspace + 2 * ints);
  void* temp = workspace + 3 * ints;
  size_t temp_bytes = 0;
  MOESWEEP_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys,
                                                      sorted, iota, positions,
                                                      n, 0, key_bits, stream));
  if (3 * ints + temp_bytes > ctx.cuda->workspace_bytes()) return false;
  sort_detail::Iota<<<Blocks(size_t(n), 256), 256, 0, stream>>>(iota, n);
  MOESWEEP_CUDA_LAUNCHED();
  MOESWEEP_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      temp, temp_bytes, keys, sorted, iota, positions, n, 0, key_bits, stream));
  *out = {sorted, positions};
  return true;
}

}  // namespace moesweep::kernels::cuda_internal

#endif  // MOESWEEP_KERNELS_CUDA_SORT_CUH_
