// kernels/attention.cu against its reference.

#include "tests/gpu/gpu_testing.h"

namespace moesweep::gpu_testing {
namespace {

namespace ref = kernels::ref;
namespace cuda = kernels::cuda;

// Three heads of 16; T no multiple of a warp.
constexpr int B = 2, T = 37, C = 48, NH = 3;
constexpr float kTheta = 10000.0f;

void ForwardAndBackward(Env& env) {
  const size_t n_qkv = size_t(B) * T * 3 * C, n_att = size_t(B) * NH * T * T;
  auto qkv = Uniform(env.rng, n_qkv),
       dout = Uniform(env.rng, size_t(B) * T * C);
  std::vector<float> out(size_t(B) * T * C), qkvr(n_qkv), att(n_att),
      dqkv(n_qkv), datt(n_att);
  ref::attention_forward<float>({}, out.data(), qkvr.data(), att.data(),
                                qkv.data(), B, T, C, NH, kTheta);
  ref::attention_backward<float>({}, dqkv.data(), datt.data(), dout.data(),
                                 qkvr.data(), att.data(), B, T, C, NH, kTheta);
  DeviceVector<float> d_qkv(env, qkv), d_dout(env, dout),
      d_out(env, size_t(B) * T * C), d_qkvr(env, n_qkv), d_att(env, n_att),
      d_dqkv(env, n_qkv), d_datt(env, n_att);
  cuda::attention_forward(env.ctx, d_out.get(), d_qkvr.get(), d_att.get(),
                          d_qkv.get(), B, T, C, NH, kTheta);
  cuda::attention_backward(env.ctx, d_dqkv.get(), d_datt.get(), d_dout.get(),
                           d_qkvr.get(), d_att.get(), B, T, C, NH, kTheta);
  ExpectClose(env, d_qkvr.Host(), qkvr, 1e-6, 1e-5, "qkvr");
  ExpectClose(env, d_att.Host(), att, 1e-6, 1e-5, "att");
  ExpectClose(env, d_out.Host(), out, 1e-5, 1e-4, "out");
  ExpectClose(env, d_dqkv.Host(), dqkv, 1e-5, 1e-4, "dqkv");
}

}  // namespace
}  // namespace moesweep::gpu_testing

int main() {
  using namespace moesweep::gpu_testing;
  return RunAll("attention_gpu_test",
                {{"ForwardAndBackward", ForwardAndBackward}});
}
