// kernels/swiglu.cu against its reference.

#include "tests/gpu/gpu_testing.h"

namespace moesweep::gpu_testing {
namespace {

namespace ref = kernels::ref;
namespace cuda = kernels::cuda;

constexpr int N = 333, H = 97;  // no multiple of any block size

void Forward(Env& env) {
  auto h = Uniform(env.rng, size_t(N) * 2 * H, -4, 4);
  std::vector<float> expected(size_t(N) * H);
  ref::swiglu_forward<float>({}, expected.data(), h.data(), N, H);
  DeviceVector<float> d_h(env, h), d_out(env, size_t(N) * H);
  cuda::swiglu_forward(env.ctx, d_out.get(), d_h.get(), N, H);
  ExpectClose(env, d_out.Host(), expected, 1e-6, 1e-5, "out");
}

void Backward(Env& env) {
  auto h = Uniform(env.rng, size_t(N) * 2 * H, -4, 4);
  auto dout = Uniform(env.rng, size_t(N) * H);
  std::vector<float> expected(size_t(N) * 2 * H);
  ref::swiglu_backward<float>({}, expected.data(), dout.data(), h.data(), N, H);
  DeviceVector<float> d_h(env, h), d_dout(env, dout),
      d_dh(env, size_t(N) * 2 * H);
  cuda::swiglu_backward(env.ctx, d_dh.get(), d_dout.get(), d_h.get(), N, H);
  ExpectClose(env, d_dh.Host(), expected, 1e-6, 1e-5, "dh");
}

void Add(Env& env) {
  const size_t n = 100003;
  auto a = Uniform(env.rng, n), b = Uniform(env.rng, n);
  std::vector<float> expected(n);
  ref::add_forward<float>({}, expected.data(), a.data(), b.data(), n);
  DeviceVector<float> d_a(env, a), d_b(env, b), d_out(env, n);
  cuda::add_forward(env.ctx, d_out.get(), d_a.get(), d_b.get(), n);
  ExpectClose(env, d_out.Host(), expected, 0, 0, "out");
  // In place, as the trainer adds the shared experts: out = out + b.
  cuda::add_forward(env.ctx, d_out.get(), d_out.get(), d_b.get(), n);
  ref::add_forward<float>({}, expected.data(), expected.data(), b.data(), n);
  ExpectClose(env, d_out.Host(), expected, 0, 0, "out in place");
}

}  // namespace
}  // namespace moesweep::gpu_testing

int main() {
  using namespace moesweep::gpu_testing;
  return RunAll("swiglu_gpu_test",
                {{"Forward", Forward}, {"Backward", Backward}, {"Add", Add}});
}
