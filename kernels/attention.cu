// Causal multi-head self-attention with RoPE on the GPU. The probabilities
// are kept whole (att[B,NH,T,T]), as the reference's contract asks: fine for
// the sequence lengths of scaling-law runs; a flash-style kernel would
// recompute them instead.

#include "kernels/cuda_util.cuh"
#include "kernels/kernels.h"

namespace moesweep::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void Copy(float* dst, const float* src, size_t n) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = src[i];
}

// Turns the q and k of every head in place, a thread a rotated pair; the
// angles in double as kernels/rope.h's RopeAngle computes them.
__global__ void RopeInPlace(float* qkv, int BT, int T, int C, int NH,
                            float theta, bool inverse) {
  const int hs = C / NH, h2 = hs / 2;
  size_t id = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  size_t pairs = size_t(BT) * 2 * NH * h2;
  if (id >= pairs) return;
  int i = int(id % h2);
  size_t rest = id / h2;
  int h = int(rest % NH);
  rest /= NH;
  int part = int(rest % 2);  // 0: q, 1: k
  size_t bt = rest / 2;
  int t = int(bt % T);
  double angle = t * pow(double(theta), -2.0 * i / hs);
  float c = float(cos(angle)), s = float(sin(angle));
  if (inverse) s = -s;
  float* x = qkv + bt * 3 * C + size_t(part) * C + size_t(h) * hs;
  float a = x[i], b = x[i + h2];
  x[i] = a * c - b * s;
  x[i + h2] = a * s + b * c;
}

// A block a query row (b, h, t): scores, causal softmax, zeros above.
__global__ void Softmax(float* att, const float* qkvr, int T, int C, int NH) {
  __shared__ float shared[32];
  const int hs = C / NH;
  const int t = blockIdx.x % T, h = (blockIdx.x / T) % NH,
            b = blockIdx.x / (T * NH);
  const float scale = 1.0f / sqrtf(float(hs));
  const float* q = qkvr + (size_t(b) * T + t) * 3 * C + size_t(h) * hs;
  float* a = att + size_t(blockIdx.x) * T;
  float max = -INFINITY;
  for (int u = threadIdx.x; u <= t; u += blockDim.x) {
    const float* k = qkvr + (size_t(b) * T + u) * 3 * C + C + size_t(h) * hs;
    float s = 0;
    for (int i = 0; i < hs; ++i) s += q[i] * k[i];
    a[u] = s * scale;
    max = fmaxf(max, a[u]);
  }
  max = cuda_internal::BlockMax(max, shared);
  float sum = 0;
  for (int u = threadIdx.x; u <= t; u += blockDim.x) {
    a[u] = expf(a[u] - max);
    sum += a[u];
  }
  sum = cuda_internal::BlockSum(sum, shared);
  for (int u = threadIdx.x; u < T; u += blockDim.x) {
    a[u] = u <= t ? a[u] / sum : 0.0f;
  }
}

// out[b,t,h,i] = sum over u <= t of att v, a thread an element.
__global__ void Weigh(float* out, const float* att, const float* qkvr, int B,
                      int T, int C, int NH) {
  const int hs = C / NH;
  size_t id = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (id >= size_t(B) * T * C) return;
  int c = int(id % C), h = c / hs, i = c % hs;
  size_t bt = id / C;
  int t = int(bt % T), b = int(bt / T);
  const float* a = att + ((size_t(b) * NH + h) * T + t) * T;
  float o = 0;
  for (int u = 0; u <= t; ++u) {
    o += a[u] * qkvr[(size_t(b) * T + u) * 3 * C + 2 * C + size_t(h) * hs + i];
  }
  out[id] = o;
}

// A block a row (b, h, t): datt = d(scores) = a (da - sum(a da)) scale.
__global__ void SoftmaxBackward(float* datt, const float* att,
                                const float* dout, const float* qkvr, int T,
                                int C, int NH) {
  __shared__ float shared[32];
  const int hs = C / NH;
  const int t = blockIdx.x % T, h = (blockIdx.x / T) % NH,
            b = blockIdx.x / (T * NH);
  const float scale = 1.0f / sqrtf(float(hs));
  const float* a = att + size_t(blockIdx.x) * T;
  float* ds = datt + size_t(blockIdx.x) * T;
  const float* dot = dout + (size_t(b) * T + t) * C + size_t(h) * hs;
  float sum = 0;
  for (int u = threadIdx.x; u <= t; u += blockDim.x) {
    const float* v =
        qkvr + (size_t(b) * T + u) * 3 * C + 2 * C + size_t(h) * hs;
    float da = 0;
    for (int i = 0; i < hs; ++i) da += dot[i] * v[i];
    ds[u] = da;
    sum += a[u] * da;
  }
  sum = cuda_internal::BlockSum(sum, shared);
  for (int u = threadIdx.x; u < T; u += blockDim.x) {
    ds[u] = u <= t ? a[u] * (ds[u] - sum) * scale : 0.0f;
  }
}

// A thread an element of position p's q, k and v gradients (written, not
// added): dq[p] = sum_{u<=p} ds[p,u] k[u], dk[p] = sum_{t>=p} ds[t,p] q[t],
// dv[p] = sum_{t>=p} a[t,p] dout[t].
__global__ void InputGradients(float* dqkv, const float* datt, const float* att,
                               const float* dout, const float* qkvr, int B,
                               int T, int C, int NH) {
  const int hs = C / NH;
  size_t id = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (id >= size_t(B) * T * C) return;
  int c = int(id % C), h = c / hs;
  size_t bt = id / C;
  int p = int(bt % T), b = int(bt / T);
  const size_t head = size_t(b) * NH + h;
  auto row = [&](int pos) { return (size_t(b) * T + pos) * 3 * C; };
  float dq = 0, dk = 0, dv = 0;
  for (int u = 0; u <= p; ++u) {
    dq += datt[(head * T + p) * T + u] * qkvr[row(u) + C + c];
  }
  for (int t = p; t < T; ++t) {
    dk += datt[(head * T + t) * T + p] * qkvr[row(t) + c];
    dv += att[(head * T + t) * T + p] * dout[(size_t(b) * T + t) * C + c];
  }
  dqkv[row(p) + c] = dq;
  dqkv[row(p) + C + c] = dk;
  dqkv[row(p) + 2 * C + c] = dv;
}

}  // namespace

using cuda_internal::Blocks;
using cuda_internal::Stream;

void attention_forward(const Context& ctx, float* out, float* qkvr, float* att,
                       const float* qkv, int B, int T, int C, int NH,
                       float rope_theta) {
  cudaStream_t stream = Stream(ctx);
  size_t n = size_t(B) * T * 3 * C;
  Copy<<<Blocks(n, 256), 256, 0, stream>>>(qkvr, qkv, n);
  MOESWEEP_CUDA_LAUNCHED();
  size_t pairs = size_t(B) * T * 2 * NH * (C / NH / 2);
  RopeInPlace<<<Blocks(pairs, 256), 256, 0, stream>>>(qkvr, B * T, T, C, NH,
                                                      rope_theta, false);
  MOESWEEP_CUDA_LAUNCHED();
  if (B * NH * T == 0) return;
  Softmax<<<B * NH * T, kThreads, 0, stream>>>(att, qkvr, T, C, NH);
  MOESWEEP_CUDA_LAUNCHED();
  Weigh<<<Blocks(size_t(B) * T * C, 256), 256, 0, stream>>>(out, att, qkvr, B,
                                                            T, C, NH);
  MOESWEEP_CUDA_LAUNCHED();
}

void attention_backward(const Context& ctx, float* dqkv, float* datt,
                        const float* dout, const float* qkvr, const float* att,
                        int B, int T, int C, int NH, float rope_theta) {
  cudaStream_t stream = Stream(ctx);
  if (B * NH * T == 0) return;
  SoftmaxBackward<<<B * NH * T, kThreads, 0, stream>>>(datt, att, dout, qkvr, T,
                                                       C, NH);
  MOESWEEP_CUDA_LAUNCHED();
  InputGradients<<<Blocks(size_t(B) * T * C, 256), 256, 0, stream>>>(
      dqkv, datt, att, dout, qkvr, B, T, C, NH);
  MOESWEEP_CUDA_LAUNCHED();
  size_t pairs = size_t(B) * T * 2 * NH * (C / NH / 2);
  RopeInPlace<<<Blocks(pairs, 256), 256, 0, stream>>>(dqkv, B * T, T, C, NH,
                                                      rope_theta, true);
  MOESWEEP_CUDA_LAUNCHED();
}

}  // namespace moesweep::kernels::cuda
