// kernels/matmul.cu against its reference: cuBLASLt's dense matmuls and our
// grouped expert matmuls, in fp32 and on bf16 tensor cores (for ours, the
// reference multiplies the inputs rounded to bf16, the products our tile
// feeds the tensor cores: a wrong fragment layout is off by O(1), rounding
// by 1e-6).

#include "tests/gpu/gpu_testing.h"

namespace moesweep::gpu_testing {
namespace {

namespace ref = kernels::ref;
namespace cuda = kernels::cuda;
using kernels::MatmulPrecision;

// Sets the engine's precision for one test and restores fp32 after; gives
// the reference's view of an input and the tolerances.
class Precision {
 public:
  Precision(Env& env, MatmulPrecision p) : env_(env), p_(p) {
    env.engine->set_matmul_precision(p);
  }
  ~Precision() { env_.engine->set_matmul_precision(MatmulPrecision::kFp32); }
  std::vector<float> Seen(const std::vector<float>& v) const {
    return p_ == MatmulPrecision::kBf16 ? RoundedToBf16(v) : v;
  }
  double atol() const { return p_ == MatmulPrecision::kBf16 ? 1e-4 : 1e-5; }
  double rtol() const { return p_ == MatmulPrecision::kBf16 ? 1e-3 : 1e-4; }

 private:
  Env& env_;
  MatmulPrecision p_;
};

// Each device tensor starts `pad` floats into its buffer: the model packs
// its tensors one after another, so cuBLASLt sees pointers (and, with odd
// widths, rows) aligned to 4 bytes only.
void Dense(Env& env, MatmulPrecision precision, int pad) {
  Precision p(env, precision);
  const int N = 129, I = 67, O = 45;
  auto inp = Uniform(env.rng, size_t(N) * I),
       weight = Uniform(env.rng, size_t(O) * I);
  auto dout = Uniform(env.rng, size_t(N) * O);
  // cuBLASLt's FAST_16BF rounds the inputs to bf16 or not, as the algorithm
  // it picks does: compare with the fp32 product at bf16's tolerance (the
  // rounding leaves about 1e-2 here; a wrong layout is off by O(1)).
  const bool bf16 = precision == MatmulPrecision::kBf16;
  const double atol = bf16 ? 0.1 : p.atol(), rtol = bf16 ? 0.05 : p.rtol();
  auto padded = [&](const std::vector<float>& v) {
    std::vector<float> out(size_t(pad), 7.0f);
    out.insert(out.end(), v.begin(), v.end());
    return out;
  };
  std::vector<float> out(size_t(N) * O);
  ref::matmul_forward<float>({}, out.data(), inp.data(), weight.data(), N, I,
                             O);
  DeviceVector<float> d_inp(env, padded(inp)), d_weight(env, padded(weight)),
      d_dout(env, padded(dout)),
      d_out(env, padded(Uniform(env.rng, out.size())));  // noise
  cuda::matmul_forward(env.ctx, d_out.get() + pad, d_inp.get() + pad,
                       d_weight.get() + pad, N, I, O);
  auto tail = [&](const std::vector<float>& v) {
    return std::vector<float>(v.begin() + pad, v.end());
  };
  ExpectClose(env, tail(d_out.Host()), out, atol, rtol, "out");
  // Both gradients accumulate.
  auto dinp = Uniform(env.rng, size_t(N) * I),
       dweight = Uniform(env.rng, size_t(O) * I);
  DeviceVector<float> d_dinp(env, padded(dinp)),
      d_dweight(env, padded(dweight));
  ref::matmul_backward<float>({}, dinp.data(), dweight.data(), dout.data(),
                              inp.data(), weight.data(), N, I, O);
  cuda::matmul_backward(env.ctx, d_dinp.get() + pad, d_dweight.get() + pad,
                        d_dout.get() + pad, d_inp.get() + pad,
                        d_weight.get() + pad, N, I, O);
  ExpectClose(env, tail(d_dinp.Host()), dinp, atol, rtol, "dinp");
  ExpectClose(env, tail(d_dweight.Host()), dweight, atol, rtol, "dweight");
}

// Segments empty (first, inside, last), of one row, of exactly one 64-row
// tile, and across several tiles with a ragged end; I and O no multiples of
// the 64-wide tile.
void Grouped(Env& env, MatmulPrecision precision) {
  Precision p(env, precision);
  const std::vector<int32_t> offsets = {0, 0, 1, 65, 65, 129, 300, 301, 301};
  const int E = int(offsets.size()) - 1, M = offsets[E];
  for (auto [I, O] : {std::pair{40, 136}, std::pair{136, 40}}) {
    std::string tag =
        " (I " + std::to_string(I) + ", O " + std::to_string(O) + ")";
    auto inp = Uniform(env.rng, size_t(M) * I);
    auto weight = Uniform(env.rng, size_t(E) * O * I);
    auto dout = Uniform(env.rng, size_t(M) * O);
    std::vector<float> out(size_t(M) * O), dinp(size_t(M) * I);
    auto dweight = Uniform(env.rng, size_t(E) * O * I);  // accumulated into
    DeviceVector<float> d_inp(env, inp), d_weight(env, weight),
        d_dout(env, dout), d_out(env, size_t(M) * O),
        d_dinp(env, size_t(M) * I), d_dweight(env, dweight);
    DeviceVector<int32_t> d_offsets(env, offsets);
    const auto r_inp = p.Seen(inp), r_weight = p.Seen(weight),
               r_dout = p.Seen(dout);
    ref::expert_matmul_forward<float>({}, out.data(), r_inp.data(),
                                      r_weight.data(), offsets.data(), M, E, I,
                                      O);
    ref::expert_matmul_backward<float>(
        {}, dinp.data(), dweight.data(), r_dout.data(), r_inp.data(),
        r_weight.data(), offsets.data(), M, E, I, O);
    cuda::expert_matmul_forward(env.ctx, d_out.get(), d_inp.get(),
                                d_weight.get(), d_offsets.get(), M, E, I, O);
    cuda::expert_matmul_backward(env.ctx, d_dinp.get(), d_dweight.get(),
                                 d_dout.get(), d_inp.get(), d_weight.get(),
                                 d_offsets.get(), M, E, I, O);
    ExpectClose(env, d_out.Host(), out, p.atol(), p.rtol(), "out" + tag);
    ExpectClose(env, d_dinp.Host(), dinp, p.atol(), p.rtol(), "dinp" + tag);
    ExpectClose(env, d_dweight.Host(), dweight, p.atol(), p.rtol(),
                "dweight" + tag);
  }
}

// Random splits as a router makes them, including all rows on one expert.
void GroupedRandomSplits(Env& env, MatmulPrecision precision) {
  Precision p(env, precision);
  const int E = 16, I = 96, O = 64, M = 1000;
  for (int trial = 0; trial < 4; ++trial) {
    std::vector<int32_t> offsets(E + 1, 0);
    for (int m = 0; m < M; ++m) {
      int e = trial == 0 ? 7 : int(env.rng() % E);
      ++offsets[e + 1];
    }
    for (int e = 0; e < E; ++e) offsets[e + 1] += offsets[e];
    auto inp = Uniform(env.rng, size_t(M) * I);
    auto weight = Uniform(env.rng, size_t(E) * O * I);
    std::vector<float> out(size_t(M) * O);
    const auto r_inp = p.Seen(inp), r_weight = p.Seen(weight);
    ref::expert_matmul_forward<float>({}, out.data(), r_inp.data(),
                                      r_weight.data(), offsets.data(), M, E, I,
                                      O);
    DeviceVector<float> d_inp(env, inp), d_weight(env, weight),
        d_out(env, size_t(M) * O);
    DeviceVector<int32_t> d_offsets(env, offsets);
    cuda::expert_matmul_forward(env.ctx, d_out.get(), d_inp.get(),
                                d_weight.get(), d_offsets.get(), M, E, I, O);
    ExpectClose(env, d_out.Host(), out, p.atol(), p.rtol(),
                "out (split " + std::to_string(trial) + ")");
  }
}

void DenseFp32(Env& env) {
  Dense(env, MatmulPrecision::kFp32, 0);
  Dense(env, MatmulPrecision::kFp32, 1);
}
void DenseBf16(Env& env) {
  Dense(env, MatmulPrecision::kBf16, 0);
  Dense(env, MatmulPrecision::kBf16, 1);
}
void GroupedFp32(Env& env) { Grouped(env, MatmulPrecision::kFp32); }
void GroupedBf16(Env& env) { Grouped(env, MatmulPrecision::kBf16); }
void SplitsFp32(Env& env) { GroupedRandomSplits(env, MatmulPrecision::kFp32); }
void SplitsBf16(Env& env) { GroupedRandomSplits(env, MatmulPrecision::kBf16); }

}  // namespace
}  // namespace moesweep::gpu_testing

int main() {
  using namespace moesweep::gpu_testing;
  return RunAll("matmul_gpu_test", {{"DenseFp32", DenseFp32},
                                    {"DenseBf16", DenseBf16},
                                    {"GroupedFp32", GroupedFp32},
                                    {"GroupedBf16", GroupedBf16},
                                    {"GroupedRandomSplitsFp32", SplitsFp32},
                                    {"GroupedRandomSplitsBf16", SplitsBf16}});
}
