// The harness of the GPU tests (STYLE.md H9): each tests/gpu/<op>_gpu_test.cc
// runs its kernels/<op>.cu ops and their C++ references on the same fresh
// random inputs and compares them llm.c's way. Without a GPU a test binary
// prints why and exits 77, which ctest reports as skipped.
//
// A harness of our own rather than GoogleTest: the GPU machines that run
// scripts/gpu-check have CUDA and CMake but no Debian -dev packages, so no
// gtest; these binaries build with kernels/ alone.

#ifndef MOESWEEP_TESTS_GPU_GPU_TESTING_H_
#define MOESWEEP_TESTS_GPU_GPU_TESTING_H_

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/kernels.h"
#include "tests/testing/close_compare.h"

namespace moesweep::gpu_testing {

// What every test gets: the engine, a context on it, a seeded generator and
// the count of failed checks.
struct Env {
  kernels::CudaEngine* engine = nullptr;
  kernels::Context ctx;
  std::mt19937 rng;
  int failures = 0;
};

// n values uniform in [lo, hi].
inline std::vector<float> Uniform(std::mt19937& rng, size_t n, double lo = -1,
                                  double hi = 1) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = float(dist(rng));
  return v;
}

// v with every value rounded to the nearest bf16 (ties to even), as the
// bf16 matmuls round their operands: a reference on these inputs sees the
// products the tensor cores see. (No NaN or infinity in test inputs.)
inline std::vector<float> RoundedToBf16(std::vector<float> v) {
  for (float& x : v) {
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    std::memcpy(&x, &u, sizeof u);
  }
  return v;
}

inline std::vector<int32_t> Integers(std::mt19937& rng, size_t n, int below) {
  std::vector<int32_t> v(n);
  for (int32_t& x : v) x = int32_t(rng() % unsigned(below));
  return v;
}

// A device copy of a host vector that frees itself. Poison() fills it with
// NaN bytes (0xff), so an output element a kernel never wrote fails the
// comparison instead of passing as a stale value.
template <typename T>
class DeviceVector {
 public:
  DeviceVector(Env& env, const std::vector<T>& host)
      : engine_(env.engine), n_(host.size()) {
    ptr_ = static_cast<T*>(engine_->Alloc(sizeof(T) * n_));
    engine_->CopyToDevice(ptr_, host.data(), sizeof(T) * n_);
  }
  DeviceVector(Env& env, size_t n) : engine_(env.engine), n_(n) {
    ptr_ = static_cast<T*>(engine_->Alloc(sizeof(T) * n_));
    Poison();
  }
  ~DeviceVector() { engine_->Free(ptr_); }
  DeviceVector(const DeviceVector&) = delete;
  DeviceVector& operator=(const DeviceVector&) = delete;

  T* get() { return ptr_; }
  void Poison() { engine_->Fill(ptr_, 0xff, sizeof(T) * n_); }
  std::vector<T> Host() const {
    std::vector<T> v(n_);
    engine_->CopyToHost(v.data(), ptr_, sizeof(T) * n_);
    return v;
  }

 private:
  kernels::CudaEngine* engine_;
  size_t n_;
  T* ptr_;
};

// Accepts |actual - expected| <= atol + rtol |expected| everywhere; else
// counts a failure and prints the first bad index, both values and the
// largest error. NaN never passes.
template <typename A, typename B>
void ExpectClose(Env& env, const std::vector<A>& actual,
                 const std::vector<B>& expected, double atol, double rtol,
                 const std::string& what) {
  if (actual.size() != expected.size()) {
    std::printf("  FAIL %s: %zu elements, expected %zu\n", what.c_str(),
                actual.size(), expected.size());
    ++env.failures;
    return;
  }
  testing::CloseReport r =
      testing::CompareClose(actual, expected, atol, rtol, what);
  if (r.bad == 0) return;
  std::printf("  FAIL %s\n", r.message.c_str());
  ++env.failures;
}

inline void Expect(Env& env, bool ok, const std::string& what) {
  if (ok) return;
  std::printf("  FAIL %s\n", what.c_str());
  ++env.failures;
}

using TestFn = void (*)(Env&);

// Runs each named test on device 0 with one seed (MOESWEEP_TEST_SEED, else a
// random one, printed so a failure can be replayed). Returns the exit code:
// 0 all passed, 1 some failed, 77 no GPU (skipped, saying why).
inline int RunAll(const char* binary,
                  std::vector<std::pair<const char*, TestFn>> tests) {
  std::string why;
  if (kernels::CudaDeviceCount(&why) == 0) {
    std::printf(
        "SKIP %s: %s; the CUDA ops are checked against their references on "
        "a GPU machine (scripts/gpu-check)\n",
        binary, why.c_str());
    return 77;
  }
  std::string error;
  auto engine = kernels::CudaEngine::Create(0, &error);
  if (engine == nullptr) {
    std::printf("FAIL %s: cannot open device 0: %s\n", binary, error.c_str());
    return 1;
  }
  const char* env_seed = std::getenv("MOESWEEP_TEST_SEED");
  uint32_t seed = env_seed != nullptr
                      ? uint32_t(std::strtoul(env_seed, nullptr, 10))
                      : std::random_device()();
  std::printf("%s on %s, seed %u (MOESWEEP_TEST_SEED=%u replays it)\n", binary,
              engine->Describe().c_str(), seed, seed);
  int failed = 0;
  for (auto& [name, fn] : tests) {
    Env env;
    env.engine = engine.get();
    env.ctx.cuda = engine.get();
    env.rng.seed(seed);
    fn(env);
    engine->Synchronize();
    std::printf("%s %s\n", env.failures == 0 ? "PASS" : "FAIL", name);
    failed += env.failures > 0;
  }
  std::printf("%s: %zu tests, %d failed\n", binary, tests.size(), failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace moesweep::gpu_testing

#endif  // MOESWEEP_TESTS_GPU_GPU_TESTING_H_
