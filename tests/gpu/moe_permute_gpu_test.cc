// kernels/moe_permute.cu against its reference.

#include "tests/gpu/gpu_testing.h"

namespace moesweep::gpu_testing {
namespace {

namespace ref = kernels::ref;
namespace cuda = kernels::cuda;

constexpr int N = 301, C = 40, E = 9, K = 2;

// Choices of K distinct experts a token, with experts 0, 4 and 8 chosen by
// no one (empty segments first, inside and last) and expert 5 by one token.
void Route(Env& env, std::vector<int32_t>* expert,
           std::vector<int32_t>* counts) {
  const int used[] = {1, 2, 3, 6, 7};
  expert->assign(size_t(N) * K, 0);
  counts->assign(E, 0);
  for (int n = 0; n < N; ++n) {
    int a = used[env.rng() % 5], b = used[env.rng() % 5];
    while (b == a) b = used[env.rng() % 5];
    if (n == 17) b = 5;
    (*expert)[size_t(n) * K] = a;
    (*expert)[size_t(n) * K + 1] = b;
    ++(*counts)[a];
    ++(*counts)[b];
  }
}

void Permute(Env& env) {
  std::vector<int32_t> expert, counts;
  Route(env, &expert, &counts);
  auto x = Uniform(env.rng, size_t(N) * C);
  const int M = N * K;
  std::vector<float> xp(size_t(M) * C);
  std::vector<int32_t> offsets(E + 1), slot(size_t(N) * K);
  ref::moe_permute_forward<float>({}, xp.data(), offsets.data(), slot.data(),
                                  x.data(), expert.data(), counts.data(), N, C,
                                  E, K);
  DeviceVector<float> d_x(env, x), d_xp(env, size_t(M) * C);
  DeviceVector<int32_t> d_expert(env, expert), d_counts(env, counts),
      d_offsets(env, E + 1), d_slot(env, size_t(N) * K);
  cuda::moe_permute_forward(env.ctx, d_xp.get(), d_offsets.get(), d_slot.get(),
                            d_x.get(), d_expert.get(), d_counts.get(), N, C, E,
                            K);
  ExpectClose(env, d_offsets.Host(), offsets, 0, 0, "offsets");
  ExpectClose(env, d_slot.Host(), slot, 0, 0, "slot");
  ExpectClose(env, d_xp.Host(), xp, 0, 0, "xp");

  auto dxp = Uniform(env.rng, size_t(M) * C);
  auto dx = Uniform(env.rng, size_t(N) * C);  // accumulated into
  DeviceVector<float> d_dxp(env, dxp), d_dx(env, dx);
  ref::moe_permute_backward<float>({}, dx.data(), dxp.data(), slot.data(), N, C,
                                   K);
  cuda::moe_permute_backward(env.ctx, d_dx.get(), d_dxp.get(), d_slot.get(), N,
                             C, K);
  ExpectClose(env, d_dx.Host(), dx, 1e-6, 1e-5, "dx");
}

// Past 64 experts the slots come from a stable sort of the choices: 300
// experts, 4 a token, every seventh chosen by no one; exact as the pass.
void PermuteManyExperts(Env& env) {
  const int n = 1000, e_count = 300, k = 4, c = 8;
  std::vector<int32_t> expert(size_t(n) * k), counts(e_count, 0);
  for (int t = 0; t < n; ++t) {
    for (int j = 0; j < k; ++j) {
      int32_t e;
      bool fresh;
      do {
        e = int32_t(env.rng() % e_count);
        fresh = e % 7 != 0;
        for (int i = 0; i < j; ++i) fresh &= expert[size_t(t) * k + i] != e;
      } while (!fresh);
      expert[size_t(t) * k + j] = e;
      ++counts[e];
    }
  }
  auto x = Uniform(env.rng, size_t(n) * c);
  std::vector<float> xp(size_t(n) * k * c);
  std::vector<int32_t> offsets(e_count + 1), slot(size_t(n) * k);
  ref::moe_permute_forward<float>({}, xp.data(), offsets.data(), slot.data(),
                                  x.data(), expert.data(), counts.data(), n, c,
                                  e_count, k);
  DeviceVector<float> d_x(env, x), d_xp(env, xp.size());
  DeviceVector<int32_t> d_expert(env, expert), d_counts(env, counts),
      d_offsets(env, offsets.size()), d_slot(env, slot.size());
  cuda::moe_permute_forward(env.ctx, d_xp.get(), d_offsets.get(), d_slot.get(),
                            d_x.get(), d_expert.get(), d_counts.get(), n, c,
                            e_count, k);
  ExpectClose(env, d_offsets.Host(), offsets, 0, 0, "offsets");
  ExpectClose(env, d_slot.Host(), slot, 0, 0, "slot");
  ExpectClose(env, d_xp.Host(), xp, 0, 0, "xp");
}

void Unpermute(Env& env) {
  std::vector<int32_t> expert, counts;
  Route(env, &expert, &counts);
  const int M = N * K;
  std::vector<float> xp(size_t(M) * C);
  std::vector<int32_t> offsets(E + 1), slot(size_t(N) * K);
  auto x = Uniform(env.rng, size_t(N) * C);
  ref::moe_permute_forward<float>({}, xp.data(), offsets.data(), slot.data(),
                                  x.data(), expert.data(), counts.data(), N, C,
                                  E, K);
  auto yp = Uniform(env.rng, size_t(M) * C),
       gate = Uniform(env.rng, size_t(N) * K, 0, 1);
  auto dout = Uniform(env.rng, size_t(N) * C);
  std::vector<float> out(size_t(N) * C), dyp(size_t(M) * C),
      dgate(size_t(N) * K);
  ref::moe_unpermute_forward<float>({}, out.data(), yp.data(), gate.data(),
                                    slot.data(), N, C, K);
  ref::moe_unpermute_backward<float>({}, dyp.data(), dgate.data(), dout.data(),
                                     yp.data(), gate.data(), slot.data(), N, C,
                                     K);
  DeviceVector<float> d_yp(env, yp), d_gate(env, gate), d_dout(env, dout),
      d_out(env, size_t(N) * C), d_dyp(env, size_t(M) * C),
      d_dgate(env, size_t(N) * K);
  DeviceVector<int32_t> d_slot(env, slot);
  cuda::moe_unpermute_forward(env.ctx, d_out.get(), d_yp.get(), d_gate.get(),
                              d_slot.get(), N, C, K);
  cuda::moe_unpermute_backward(env.ctx, d_dyp.get(), d_dgate.get(),
                               d_dout.get(), d_yp.get(), d_gate.get(),
                               d_slot.get(), N, C, K);
  ExpectClose(env, d_out.Host(), out, 1e-6, 1e-5, "out");
  ExpectClose(env, d_dyp.Host(), dyp, 1e-6, 1e-5, "dyp");
  ExpectClose(env, d_dgate.Host(), dgate, 1e-5, 1e-5, "dgate");
}

}  // namespace
}  // namespace moesweep::gpu_testing

int main() {
  using namespace moesweep::gpu_testing;
  return RunAll("moe_permute_gpu_test",
                {{"Permute", Permute},
                 {"PermuteManyExperts", PermuteManyExperts},
                 {"Unpermute", Unpermute}});
}
