// kernels/router.cu against its reference.

#include "tests/gpu/gpu_testing.h"

namespace moesweep::gpu_testing {
namespace {

namespace ref = kernels::ref;
namespace cuda = kernels::cuda;

// Router logits with hard cases: every fourth row ties all its experts, and
// every fourth (offset 1) ties its two largest, so top-k must break ties to
// the lower index as the reference does.
std::vector<float> Logits(Env& env, int N, int E) {
  auto logits = Uniform(env.rng, size_t(N) * E, -3, 3);
  for (int n = 0; n < N; n += 4) {
    for (int e = 0; e < E; ++e) logits[size_t(n) * E + e] = 0.5f;
  }
  for (int n = 1; n < N && E > 1; n += 4) {
    float* z = &logits[size_t(n) * E];
    int hi = 0;
    for (int e = 1; e < E; ++e) hi = z[e] > z[hi] ? e : hi;
    z[(hi + 1) % E] = z[hi];
  }
  return logits;
}

// (E, K): fewer experts than a warp's lanes, more (each lane takes several),
// and top-1.
constexpr int kShapes[][2] = {{8, 2}, {64, 4}, {3, 1}};

void ForwardLossAndBackward(Env& env) {
  const int N = 517;
  for (const auto& shape : kShapes) {
    const int E = shape[0], K = shape[1];
    std::string tag =
        " (E " + std::to_string(E) + ", K " + std::to_string(K) + ")";
    auto logits = Logits(env, N, E);
    std::vector<float> probs(size_t(N) * E), lse(N), gate(size_t(N) * K);
    std::vector<int32_t> expert(size_t(N) * K), counts(E);
    ref::router_forward<float>({}, probs.data(), lse.data(), expert.data(),
                               gate.data(), counts.data(), logits.data(), N, E,
                               K);
    DeviceVector<float> d_logits(env, logits), d_probs(env, size_t(N) * E),
        d_lse(env, N), d_gate(env, size_t(N) * K);
    DeviceVector<int32_t> d_expert(env, size_t(N) * K), d_counts(env, E);
    cuda::router_forward(env.ctx, d_probs.get(), d_lse.get(), d_expert.get(),
                         d_gate.get(), d_counts.get(), d_logits.get(), N, E, K);
    ExpectClose(env, d_probs.Host(), probs, 1e-7, 1e-5, "probs" + tag);
    ExpectClose(env, d_lse.Host(), lse, 1e-6, 1e-5, "lse" + tag);
    ExpectClose(env, d_expert.Host(), expert, 0, 0, "expert" + tag);
    ExpectClose(env, d_gate.Host(), gate, 1e-7, 1e-5, "gate" + tag);
    ExpectClose(env, d_counts.Host(), counts, 0, 0, "counts" + tag);

    float aux = 0, z = 0;
    ref::router_loss_forward<float>({}, &aux, &z, probs.data(), lse.data(),
                                    counts.data(), N, E, K);
    DeviceVector<float> d_aux(env, 1), d_z(env, 1);
    cuda::router_loss_forward(env.ctx, d_aux.get(), d_z.get(), d_probs.get(),
                              d_lse.get(), d_counts.get(), N, E, K);
    ExpectClose(env, d_aux.Host(), std::vector<float>{aux}, 1e-6, 1e-5,
                "aux" + tag);
    ExpectClose(env, d_z.Host(), std::vector<float>{z}, 1e-6, 1e-5, "z" + tag);

    auto dgate = Uniform(env.rng, size_t(N) * K);
    std::vector<float> dlogits(size_t(N) * E);
    ref::router_backward<float>({}, dlogits.data(), dgate.data(), probs.data(),
                                lse.data(), expert.data(), counts.data(), 0.01f,
                                0.001f, N, E, K);
    DeviceVector<float> d_dgate(env, dgate), d_dlogits(env, size_t(N) * E);
    cuda::router_backward(env.ctx, d_dlogits.get(), d_dgate.get(),
                          d_probs.get(), d_lse.get(), d_expert.get(),
                          d_counts.get(), 0.01f, 0.001f, N, E, K);
    ExpectClose(env, d_dlogits.Host(), dlogits, 1e-6, 1e-5, "dlogits" + tag);
  }
}

}  // namespace
}  // namespace moesweep::gpu_testing

int main() {
  using namespace moesweep::gpu_testing;
  return RunAll("router_gpu_test",
                {{"ForwardLossAndBackward", ForwardLossAndBackward}});
}
