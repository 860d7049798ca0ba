// AdamW and the squared gradient norm on the GPU.

#include "kernels/cuda_util.cuh"
#include "kernels/kernels.h"

namespace moesweep::kernels::cuda {

namespace {

// Every thread reads the step's settings from device memory (one cached
// line), so a captured step replays with new ones.
__global__ void AdamW(float* params, const float* grads, float* m, float* v,
                      size_t n, const AdamwStep* s, bool decay) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float beta1 = s->beta1, beta2 = s->beta2;
  // The bias corrections as the reference computes them, in float.
  const float correction1 = 1.0f - powf(beta1, float(s->step));
  const float correction2 = 1.0f - powf(beta2, float(s->step));
  const float weight_decay = decay ? s->weight_decay : 0.0f;
  float g = grads[i] * AdamwClipScale(*s);
  float mi = beta1 * m[i] + (1.0f - beta1) * g;
  float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  float m_hat = mi / correction1, v_hat = vi / correction2;
  params[i] -=
      s->lr * (m_hat / (sqrtf(v_hat) + s->eps) + weight_decay * params[i]);
}

// A grid-stride sum of squares in double, one atomic add per block.
__global__ void SumSquares(double* out, const float* grads, size_t n) {
  __shared__ double shared[32];
  double s = 0;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x) {
    s += double(grads[i]) * double(grads[i]);
  }
  s = cuda_internal::BlockSum(s, shared);
  if (threadIdx.x == 0) atomicAdd(out, s);
}

}  // namespace

using cuda_internal::Blocks;
using cuda_internal::Stream;

void adamw_update(const Context& ctx, float* params, const float* grads,
                  float* m, float* v, size_t n, const AdamwStep* s,
                  bool decay) {
  AdamW<<<Blocks(n, 256), 256, 0, Stream(ctx)>>>(params, grads, m, v, n, s,
                                                 decay);
  MOESWEEP_CUDA_LAUNCHED();
}

void grad_norm_squared(const Context& ctx, double* norm_squared,
                       const float* grads, size_t n) {
  cudaStream_t stream = Stream(ctx);
  MOESWEEP_CUDA_CHECK(cudaMemsetAsync(norm_squared, 0, sizeof(double), stream));
  // Enough blocks to fill a large GPU; more only add atomics.
  unsigned blocks = Blocks(n, 256);
  if (blocks > 1024) blocks = 1024;
  SumSquares<<<blocks, 256, 0, stream>>>(norm_squared, grads, n);
  MOESWEEP_CUDA_LAUNCHED();
}

}  // namespace moesweep::kernels::cuda
