// RMSNorm on the GPU: a warp a row forward and for dinp; dweight sums over
// rows by column in a fixed order (ColumnSums), so no two threads add to one
// element.

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

// dweight[c] += sum_n dout[n, c] inp[n, c] rstd[n], through ColumnSums.
struct WeightTerm {
  const float* dout;
  const float* inp;
  const float* rstd;
  int C;
  __device__ float operator()(int n, int c) const {
    const size_t i = size_t(n) * C + c;
    return dout[i] * inp[i] * rstd[n];
  }
};
struct AddTo {
  float* out;
  __device__ void operator()(int c, float total) const { out[c] += total; }
};

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
  cuda_internal::ColumnSums(stream, static_cast<float*>(ctx.cuda->workspace()),
                            ctx.cuda->workspace_bytes() / sizeof(float), N, C,
                            WeightTerm{dout, inp, rstd, C}, AddTo{dweight});
}

}  // namespace moesweep::kernels::cuda
