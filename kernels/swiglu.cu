// SwiGLU and the residual add on the GPU: one thread an element.

#include "kernels/cuda_util.cuh"
#include "kernels/kernels.h"

namespace moesweep::kernels::cuda {

namespace {

__global__ void SwigluForward(float* out, const float* h, int N, int H) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= size_t(N) * H) return;
  size_t n = i / H, j = i % H;
  float g = h[n * 2 * H + j], u = h[n * 2 * H + H + j];
  out[i] = g / (1.0f + expf(-g)) * u;
}

__global__ void SwigluBackward(float* dh, const float* dout, const float* h,
                               int N, int H) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= size_t(N) * H) return;
  size_t n = i / H, j = i % H;
  float g = h[n * 2 * H + j], u = h[n * 2 * H + H + j];
  float sig = 1.0f / (1.0f + expf(-g));
  float d = dout[i];
  dh[n * 2 * H + j] = d * u * sig * (1.0f + g * (1.0f - sig));
  dh[n * 2 * H + H + j] = d * g * sig;
}

__global__ void Add(float* out, const float* a, const float* b, size_t n) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a[i] + b[i];
}

}  // namespace

using cuda_internal::Blocks;
using cuda_internal::Stream;

void swiglu_forward(const Context& ctx, float* out, const float* h, int N,
                    int H) {
  SwigluForward<<<Blocks(size_t(N) * H, 256), 256, 0, Stream(ctx)>>>(out, h, N,
                                                                     H);
  MOESWEEP_CUDA_LAUNCHED();
}

void swiglu_backward(const Context& ctx, float* dh, const float* dout,
                     const float* h, int N, int H) {
  SwigluBackward<<<Blocks(size_t(N) * H, 256), 256, 0, Stream(ctx)>>>(dh, dout,
                                                                      h, N, H);
  MOESWEEP_CUDA_LAUNCHED();
}

void add_forward(const Context& ctx, float* out, const float* a, const float* b,
                 size_t n) {
  Add<<<Blocks(n, 256), 256, 0, Stream(ctx)>>>(out, a, b, n);
  MOESWEEP_CUDA_LAUNCHED();
}

}  // namespace moesweep::kernels::cuda
