// kernels/rmsnorm.cu against its reference.

#include "tests/gpu/gpu_testing.h"

namespace moesweep::gpu_testing {
namespace {

namespace ref = kernels::ref;
namespace cuda = kernels::cuda;

constexpr int N = 203, C = 200;

void Forward(Env& env) {
  auto inp = Uniform(env.rng, size_t(N) * C), weight = Uniform(env.rng, C);
  std::vector<float> out(size_t(N) * C), rstd(N);
  ref::rmsnorm_forward<float>({}, out.data(), rstd.data(), inp.data(),
                              weight.data(), N, C);
  DeviceVector<float> d_inp(env, inp), d_weight(env, weight),
      d_out(env, size_t(N) * C), d_rstd(env, N);
  cuda::rmsnorm_forward(env.ctx, d_out.get(), d_rstd.get(), d_inp.get(),
                        d_weight.get(), N, C);
  ExpectClose(env, d_out.Host(), out, 1e-6, 1e-5, "out");
  ExpectClose(env, d_rstd.Host(), rstd, 1e-6, 1e-5, "rstd");
}

// N rows over C columns; the weight gradient sums rows in chunks of 256.
void Backward(Env& env, int N, int C) {
  auto inp = Uniform(env.rng, size_t(N) * C), weight = Uniform(env.rng, C);
  auto dout = Uniform(env.rng, size_t(N) * C);
  std::vector<float> out(size_t(N) * C), rstd(N);
  ref::rmsnorm_forward<float>({}, out.data(), rstd.data(), inp.data(),
                              weight.data(), N, C);
  // Both gradients accumulate: start them from random values.
  auto dinp = Uniform(env.rng, size_t(N) * C), dweight = Uniform(env.rng, C);
  DeviceVector<float> d_inp(env, inp), d_weight(env, weight), d_dout(env, dout),
      d_rstd(env, rstd), d_dinp(env, dinp), d_dweight(env, dweight);
  ref::rmsnorm_backward<float>({}, dinp.data(), dweight.data(), dout.data(),
                               inp.data(), weight.data(), rstd.data(), N, C);
  cuda::rmsnorm_backward(env.ctx, d_dinp.get(), d_dweight.get(), d_dout.get(),
                         d_inp.get(), d_weight.get(), d_rstd.get(), N, C);
  ExpectClose(env, d_dinp.Host(), dinp, 1e-5, 1e-5, "dinp");
  ExpectClose(env, d_dweight.Host(), dweight, 1e-5, 1e-4, "dweight");
}

// One chunk of rows; four, the last ragged, over columns no multiple of
// the 32-column block; none.
void Backward(Env& env) {
  Backward(env, N, C);
  Backward(env, 777, 200);
  Backward(env, 0, 40);
}

}  // namespace
}  // namespace moesweep::gpu_testing

int main() {
  using namespace moesweep::gpu_testing;
  return RunAll("rmsnorm_gpu_test",
                {{"Forward", Forward}, {"Backward", Backward}});
}
