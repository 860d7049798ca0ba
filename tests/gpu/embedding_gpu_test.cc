// kernels/embedding.cu against its reference.

#include "tests/gpu/gpu_testing.h"

namespace moesweep::gpu_testing {
namespace {

namespace ref = kernels::ref;
namespace cuda = kernels::cuda;

// Tokens repeat (300 or 20,000 of a 50-token vocabulary), so the backward's
// rows take several adds each.
constexpr int N = 300, C = 72, V = 50;

void Forward(Env& env) {
  auto wte = Uniform(env.rng, V * C);
  auto tokens = Integers(env.rng, N, V);
  std::vector<float> expected(N * C);
  ref::embedding_forward<float>({}, expected.data(), tokens.data(), wte.data(),
                                N, C);
  DeviceVector<float> d_wte(env, wte), d_out(env, size_t(N) * C);
  DeviceVector<int32_t> d_tokens(env, tokens);
  cuda::embedding_forward(env.ctx, d_out.get(), d_tokens.get(), d_wte.get(), N,
                          C);
  ExpectClose(env, d_out.Host(), expected, 0, 0, "out");
}

// Each token's rows are added in ascending position, the reference's order:
// equal to the bit, and so the same on every run.
void Backward(Env& env, int n) {
  auto dwte = Uniform(env.rng, V * C);  // accumulated into
  auto dout = Uniform(env.rng, size_t(n) * C);
  auto tokens = Integers(env.rng, n, V);
  DeviceVector<float> d_dwte(env, dwte), d_dout(env, dout);
  DeviceVector<int32_t> d_tokens(env, tokens);
  ref::embedding_backward<float>({}, dwte.data(), dout.data(), tokens.data(), n,
                                 C);
  cuda::embedding_backward(env.ctx, d_dwte.get(), d_dout.get(), d_tokens.get(),
                           n, C);
  ExpectClose(env, d_dwte.Host(), dwte, 0, 0, "dwte");
}

// A few rows a token, and runs of a few hundred.
void Backward(Env& env) {
  Backward(env, N);
  Backward(env, 20000);
}

}  // namespace
}  // namespace moesweep::gpu_testing

int main() {
  using namespace moesweep::gpu_testing;
  return RunAll("embedding_gpu_test",
                {{"Forward", Forward}, {"Backward", Backward}});
}
