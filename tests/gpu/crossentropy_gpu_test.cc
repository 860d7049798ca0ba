// kernels/crossentropy.cu against its reference.

#include "tests/gpu/gpu_testing.h"

namespace moesweep::gpu_testing {
namespace {

namespace ref = kernels::ref;
namespace cuda = kernels::cuda;

// GPT-2's vocabulary, no multiple of the block, and a byte-level one.
void ForwardAndBackward(Env& env) {
  for (int V : {50257, 256}) {
    const int N = 37;
    auto logits = Uniform(env.rng, size_t(N) * V, -8, 8);
    auto targets = Integers(env.rng, N, V);
    std::vector<float> losses(N), probs(size_t(N) * V), dlogits(size_t(N) * V);
    ref::crossentropy_forward<float>({}, losses.data(), probs.data(),
                                     logits.data(), targets.data(), N, V);
    ref::crossentropy_backward<float>({}, dlogits.data(), probs.data(),
                                      targets.data(), 0.25f, N, V);
    DeviceVector<float> d_logits(env, logits), d_losses(env, N),
        d_probs(env, size_t(N) * V), d_dlogits(env, size_t(N) * V);
    DeviceVector<int32_t> d_targets(env, targets);
    cuda::crossentropy_forward(env.ctx, d_losses.get(), d_probs.get(),
                               d_logits.get(), d_targets.get(), N, V);
    cuda::crossentropy_backward(env.ctx, d_dlogits.get(), d_probs.get(),
                                d_targets.get(), 0.25f, N, V);
    std::string v = " (V " + std::to_string(V) + ")";
    ExpectClose(env, d_losses.Host(), losses, 1e-5, 1e-5, "losses" + v);
    ExpectClose(env, d_probs.Host(), probs, 1e-9, 1e-5, "probs" + v);
    ExpectClose(env, d_dlogits.Host(), dlogits, 1e-9, 1e-5, "dlogits" + v);
  }
}

}  // namespace
}  // namespace moesweep::gpu_testing

int main() {
  using namespace moesweep::gpu_testing;
  return RunAll("crossentropy_gpu_test",
                {{"ForwardAndBackward", ForwardAndBackward}});
}
