// kernels/attention.cu (flash style) against its reference.

#include "tests/gpu/gpu_testing.h"

namespace moesweep::gpu_testing {
namespace {

namespace ref = kernels::ref;
namespace cuda = kernels::cuda;

constexpr float kTheta = 10000.0f;

void Check(Env& env, int B, int T, int C, int NH) {
  const size_t n_qkv = size_t(B) * T * 3 * C, n_out = size_t(B) * T * C,
               n_row = size_t(B) * NH * T;
  auto qkv = Uniform(env.rng, n_qkv), dout = Uniform(env.rng, n_out);
  std::vector<float> out(n_out), qkvr(n_qkv), lse(n_row), dqkv(n_qkv),
      delta(n_row);
  ref::attention_forward<float>({}, out.data(), qkvr.data(), lse.data(),
                                qkv.data(), B, T, C, NH, kTheta);
  ref::attention_backward<float>({}, dqkv.data(), delta.data(), dout.data(),
                                 qkvr.data(), out.data(), lse.data(), B, T, C,
                                 NH, kTheta);
  // Outputs start as noise: the kernels must write every element.
  DeviceVector<float> d_qkv(env, qkv), d_dout(env, dout),
      d_out(env, Uniform(env.rng, n_out)), d_qkvr(env, n_qkv),
      d_lse(env, Uniform(env.rng, n_row)), d_dqkv(env, Uniform(env.rng, n_qkv)),
      d_delta(env, n_row);
  cuda::attention_forward(env.ctx, d_out.get(), d_qkvr.get(), d_lse.get(),
                          d_qkv.get(), B, T, C, NH, kTheta);
  cuda::attention_backward(env.ctx, d_dqkv.get(), d_delta.get(), d_dout.get(),
                           d_qkvr.get(), d_out.get(), d_lse.get(), B, T, C, NH,
                           kTheta);
  ExpectClose(env, d_qkvr.Host(), qkvr, 1e-6, 1e-5, "qkvr");
  ExpectClose(env, d_lse.Host(), lse, 1e-5, 1e-5, "lse");
  ExpectClose(env, d_out.Host(), out, 1e-5, 1e-4, "out");
  ExpectClose(env, d_delta.Host(), delta, 1e-5, 1e-4, "delta");
  ExpectClose(env, d_dqkv.Host(), dqkv, 1e-5, 1e-4, "dqkv");
}

// Three heads of 16: T no multiple of the 32-row tile, one partial slab.
void SmallHeads(Env& env) { Check(env, 2, 37, 48, 3); }

// Heads of 40 (a full slab and a partial one), three tiles of rows, the
// last with 6; one sequence of a single position.
void WideHeadsAndTiles(Env& env) {
  Check(env, 1, 70, 80, 2);
  Check(env, 3, 1, 80, 2);
}

}  // namespace
}  // namespace moesweep::gpu_testing

int main() {
  using namespace moesweep::gpu_testing;
  return RunAll(
      "attention_gpu_test",
      {{"SmallHeads", SmallHeads}, {"WideHeadsAndTiles", WideHeadsAndTiles}});
}
