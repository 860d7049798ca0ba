// kernels/cuda_engine.cu: memory round trips and fills on the device.

#include "tests/gpu/gpu_testing.h"

namespace moesweep::gpu_testing {
namespace {

void RoundTrip(Env& env) {
  auto host = Uniform(env.rng, 12345);
  DeviceVector<float> d(env, host);
  ExpectClose(env, d.Host(), host, 0, 0, "copy there and back");
}

void FillWritesEveryByte(Env& env) {
  DeviceVector<int32_t> d(env, std::vector<int32_t>(1000, 7));
  env.engine->Fill(d.get(), 0, sizeof(int32_t) * 1000);
  ExpectClose(env, d.Host(), std::vector<int32_t>(1000, 0), 0, 0, "zeroed");
  d.Poison();
  ExpectClose(env, d.Host(), std::vector<int32_t>(1000, -1), 0, 0, "poisoned");
}

void DescribeNamesTheDevice(Env& env) {
  std::string d = env.engine->Describe();
  Expect(
      env,
      d.find("sm_") != std::string::npos && d.find("SMs") != std::string::npos,
      "Describe() = '" + d + "' names the architecture and SM count");
}

}  // namespace
}  // namespace moesweep::gpu_testing

int main() {
  using namespace moesweep::gpu_testing;
  return RunAll("cuda_engine_gpu_test",
                {{"RoundTrip", RoundTrip},
                 {"FillWritesEveryByte", FillWritesEveryByte},
                 {"DescribeNamesTheDevice", DescribeNamesTheDevice}});
}
