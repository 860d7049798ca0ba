// AdamW and the squared gradient norm on the GPU.

#include <algorithm>
#include <cstdio>
#include <cstdlib>

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

// A grid-stride sum of squares in double, each block's into partials.
__global__ void SumSquares(double* partials, const float* grads, size_t n) {
  __shared__ double shared[32];
  double s = 0;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x) {
    s += double(grads[i]) * double(grads[i]);
  }
  s = cuda_internal::BlockSum(s, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

// One block adds the partials in a fixed order (no atomics), so the norm
// and the clip repeat bit for bit, and data-parallel copies, each taking
// the norm of the same summed gradients, stay identical.
__global__ void SumPartials(double* out, const double* partials, int count) {
  __shared__ double shared[32];
  double s = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partials[i];
  s = cuda_internal::BlockSum(s, shared);
  if (threadIdx.x == 0) *out = s;
}

// Enough blocks to fill a large GPU.
constexpr unsigned kMaxNormBlocks = 1024;

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
  // The partials live in the engine's GEMM workspace: its ops run in stream
  // order, so no GEMM uses it meanwhile.
  auto* partials = static_cast<double*>(ctx.cuda->workspace());
  const unsigned blocks = std::min(Blocks(n, 256), kMaxNormBlocks);
  if (ctx.cuda->workspace_bytes() < blocks * sizeof(double)) {
    std::fprintf(stderr, "grad_norm_squared: workspace too small\n");
    std::abort();
  }
  SumSquares<<<blocks, 256, 0, stream>>>(partials, grads, n);
  MOESWEEP_CUDA_LAUNCHED();
  SumPartials<<<1, 256, 0, stream>>>(norm_squared, partials, int(blocks));
  MOESWEEP_CUDA_LAUNCHED();
}

}  // namespace moesweep::kernels::cuda
