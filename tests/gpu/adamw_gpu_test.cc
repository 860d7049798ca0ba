// kernels/adamw.cu against its reference.

#include "tests/gpu/gpu_testing.h"

namespace moesweep::gpu_testing {
namespace {

namespace ref = kernels::ref;
namespace cuda = kernels::cuda;

void Update(Env& env) {
  const size_t n = 77777;
  auto params = Uniform(env.rng, n), grads = Uniform(env.rng, n);
  auto m = Uniform(env.rng, n, -0.1, 0.1), v = Uniform(env.rng, n, 0, 0.01);
  DeviceVector<float> d_params(env, params), d_grads(env, grads), d_m(env, m),
      d_v(env, v);
  // Three steps, so the bias corrections and the moments both move.
  for (int step = 1; step <= 3; ++step) {
    ref::adamw_update<float>({}, params.data(), grads.data(), m.data(),
                             v.data(), n, 3e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f,
                             step);
    cuda::adamw_update(env.ctx, d_params.get(), d_grads.get(), d_m.get(),
                       d_v.get(), n, 3e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f,
                       step);
  }
  ExpectClose(env, d_params.Host(), params, 1e-6, 1e-5, "params");
  ExpectClose(env, d_m.Host(), m, 1e-7, 1e-5, "m");
  ExpectClose(env, d_v.Host(), v, 1e-9, 1e-5, "v");
}

void GradNorm(Env& env) {
  for (size_t n : {size_t(1), size_t(1000), size_t(3000001)}) {
    auto grads = Uniform(env.rng, n);
    DeviceVector<float> d_grads(env, grads);
    double expected = ref::grad_norm_squared<float>({}, grads.data(), n);
    double got = cuda::grad_norm_squared(env.ctx, d_grads.get(), n);
    Expect(env, std::fabs(got - expected) <= 1e-9 * expected,
           "grad_norm_squared of " + std::to_string(n) + ": got " +
               std::to_string(got) + ", expected " + std::to_string(expected));
  }
}

}  // namespace
}  // namespace moesweep::gpu_testing

int main() {
  using namespace moesweep::gpu_testing;
  return RunAll("adamw_gpu_test", {{"Update", Update}, {"GradNorm", GradNorm}});
}
