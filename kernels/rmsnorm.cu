// RMSNorm on the GPU: a warp a row forward and for dinp; dweight sums over
// rows by column, one thread a column, so no two threads add to one element.

#include "kernels/cuda_util.cuh"
#include "kernels/kernels.h"

namespace moesweep::kernels::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;

__global__ void RmsnormForward(float* out, float* rstd, const float* inp,
                               const float* weight, int N, int C) {
  int n = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32,
      lane = threadIdx.x % 32;
  if (n >= N) return;
  const float* x = inp + size_t(n) * C;
  float ms = 0;
  for (int c = lane; c < C; c += 32) ms += x[c] * x[c];
  ms = cuda_internal::WarpSum(ms) / C;
  float r = 1.0f / sqrtf(ms + 1e-5f);
  for (int c = lane; c < C; c += 32)
    out[size_t(n) * C + c] = x[c] * r * weight[c];
  if (lane == 0) rstd[n] = r;
}

__global__ void RmsnormBackwardInput(float* dinp, const float* dout,
                                     const float* inp, const float* weight,
                                     const float* rstd, int N, int C) {
  int n = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32,
      lane = threadIdx.x % 32;
  if (n >= N) return;
  const float* x = inp + size_t(n) * C;
  const float* dy = dout + size_t(n) * C;
  float r = rstd[n];
  float dot = 0;
  for (int c = lane; c < C; c += 32) dot += dy[c] * weight[c] * x[c] * r;
  dot = cuda_internal::WarpSum(dot) / C;
  for (int c = lane; c < C; c += 32) {
    float xhat = x[c] * r;
    dinp[size_t(n) * C + c] += r * (dy[c] * weight[c] - xhat * dot);
  }
}

__global__ void RmsnormBackwardWeight(float* dweight, const float* dout,
                                      const float* inp, const float* rstd,
                                      int N, int C) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float sum = 0;
  for (int n = 0; n < N; ++n) {
    sum += dout[size_t(n) * C + c] * inp[size_t(n) * C + c] * rstd[n];
  }
  dweight[c] += sum;
}

}  // namespace

using cuda_internal::Blocks;
using cuda_internal::Stream;

void rmsnorm_forward(const Context& ctx, float* out, float* rstd,
                     const float* inp, const float* weight, int N, int C) {
  RmsnormForward<<<Blocks(N, kWarpsPerBlock), 32 * kWarpsPerBlock, 0,
                   Stream(ctx)>>>(out, rstd, inp, weight, N, C);
  MOESWEEP_CUDA_LAUNCHED();
}

void rmsnorm_backward(const Context& ctx, float* dinp, float* dweight,
                      const float* dout, const float* inp, const float* weight,
                      const float* rstd, int N, int C) {
  cudaStream_t stream = Stream(ctx);
  RmsnormBackwardInput<<<Blocks(N, kWarpsPerBlock), 32 * kWarpsPerBlock, 0,
                         stream>>>(dinp, dout, inp, weight, rstd, N, C);
  MOESWEEP_CUDA_LAUNCHED();
  RmsnormBackwardWeight<<<Blocks(C, 128), 128, 0, stream>>>(dweight, dout, inp,
                                                            rstd, N, C);
  MOESWEEP_CUDA_LAUNCHED();
}

}  // namespace moesweep::kernels::cuda
