// kernels/adamw.cu against its reference.

#include "tests/gpu/gpu_testing.h"

namespace moesweep::gpu_testing {
namespace {

namespace ref = kernels::ref;
namespace cuda = kernels::cuda;
using kernels::AdamwStep;

void Update(Env& env) {
  const size_t n = 77777;
  auto params = Uniform(env.rng, n), grads = Uniform(env.rng, n);
  auto m = Uniform(env.rng, n, -0.1, 0.1), v = Uniform(env.rng, n, 0, 0.01);
  DeviceVector<float> d_params(env, params), d_grads(env, grads), d_m(env, m),
      d_v(env, v);
  DeviceVector<AdamwStep> d_s(env, 1);
  // Three steps, so the bias corrections and the moments both move; the
  // settings change between steps in device memory, as in a replayed graph.
  for (int step = 1; step <= 3; ++step) {
    AdamwStep s;
    s.lr = 3e-3f * float(step);
    s.weight_decay = 0.1f;
    s.step = step;
    s.max_norm = 1.0f;
    s.norm_squared = step == 2 ? 0.25 : 4.0 * step;  // clips on 1 and 3
    bool decay = step != 2;
    ref::adamw_update<float>({}, params.data(), grads.data(), m.data(),
                             v.data(), n, &s, decay);
    env.engine->CopyToDevice(d_s.get(), &s, sizeof s);
    cuda::adamw_update(env.ctx, d_params.get(), d_grads.get(), d_m.get(),
                       d_v.get(), n, d_s.get(), decay);
  }
  ExpectClose(env, d_params.Host(), params, 1e-6, 1e-5, "params");
  ExpectClose(env, d_m.Host(), m, 1e-7, 1e-5, "m");
  ExpectClose(env, d_v.Host(), v, 1e-9, 1e-5, "v");
}

void GradNorm(Env& env) {
  for (size_t n : {size_t(1), size_t(1000), size_t(3000001)}) {
    auto grads = Uniform(env.rng, n);
    DeviceVector<float> d_grads(env, grads);
    DeviceVector<double> d_sum(env, 1);  // NaN: the op must overwrite it
    double expected = 0;
    ref::grad_norm_squared<float>({}, &expected, grads.data(), n);
    cuda::grad_norm_squared(env.ctx, d_sum.get(), d_grads.get(), n);
    double got = d_sum.Host()[0];
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
