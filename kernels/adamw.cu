// AdamW and the squared gradient norm on the GPU.

#include <cmath>

#include "kernels/cuda_util.cuh"
#include "kernels/kernels.h"

namespace moesweep::kernels::cuda {

namespace {

__global__ void AdamW(float* params, const float* grads, float* m, float* v,
                      size_t n, float lr, float beta1, float beta2, float eps,
                      float weight_decay, float grad_scale, float correction1,
                      float correction2) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float g = grads[i] * grad_scale;
  float mi = beta1 * m[i] + (1.0f - beta1) * g;
  float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  float m_hat = mi / correction1, v_hat = vi / correction2;
  params[i] -= lr * (m_hat / (sqrtf(v_hat) + eps) + weight_decay * params[i]);
}

// A grid-stride sum of squares in double, one atomic add per block.
__global__ void SumSquares(double* out, const float* grads, size_t n) {
  __shared__ double warp_sums[32];
  double s = 0;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x) {
    s += double(grads[i]) * double(grads[i]);
  }
  s = cuda_internal::WarpSum(s);
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = s;
  __syncthreads();
  if (warp == 0) {
    s = lane < int(blockDim.x / 32) ? warp_sums[lane] : 0.0;
    s = cuda_internal::WarpSum(s);
    if (lane == 0) atomicAdd(out, s);
  }
}

}  // namespace

using cuda_internal::Blocks;
using cuda_internal::Stream;

void adamw_update(const Context& ctx, float* params, const float* grads,
                  float* m, float* v, size_t n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, float grad_scale,
                  int step) {
  // The bias corrections as the reference computes them, in float.
  float correction1 = 1 - std::pow(beta1, float(step));
  float correction2 = 1 - std::pow(beta2, float(step));
  AdamW<<<Blocks(n, 256), 256, 0, Stream(ctx)>>>(
      params, grads, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale,
      correction1, correction2);
  MOESWEEP_CUDA_LAUNCHED();
}

double grad_norm_squared(const Context& ctx, const float* grads, size_t n) {
  double* sum = ctx.cuda->device_double();
  cudaStream_t stream = Stream(ctx);
  MOESWEEP_CUDA_CHECK(cudaMemsetAsync(sum, 0, sizeof(double), stream));
  // Enough blocks to fill a large GPU; more only add atomics.
  unsigned blocks = Blocks(n, 256);
  if (blocks > 1024) blocks = 1024;
  SumSquares<<<blocks, 256, 0, stream>>>(sum, grads, n);
  MOESWEEP_CUDA_LAUNCHED();
  double host = 0;
  ctx.cuda->CopyToHost(&host, sum, sizeof(double));
  return host;
}

}  // namespace moesweep::kernels::cuda
