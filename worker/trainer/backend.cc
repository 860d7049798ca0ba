// The CPU backend, and the CUDA one where the build has the CUDA ops
// (MOESWEEP_TRAINER_CUDA: worker/CMakeLists.txt).

#include "worker/trainer/backend.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

#include "worker/worker.h"

namespace moesweep::worker {

namespace {

constexpr Ops kCpuOps = {
#define MOESWEEP_OP_POINTER(name) &kernels::cpu::name,
    MOESWEEP_TRAINER_OPS(MOESWEEP_OP_POINTER)
#undef MOESWEEP_OP_POINTER
};

class CpuBackend : public Backend {
 public:
  explicit CpuBackend(int threads) : Backend(kCpuOps, true), pool_(threads) {
    ctx_.pool = &pool_;
  }
  std::string Describe() const override {
    return "cpu, " + std::to_string(pool_.threads()) + " threads";
  }
  void* Alloc(size_t bytes) override {
    // calloc: zeroed, and the pages are touched by whichever thread first
    // writes them, as with the vectors before.
    void* p = std::calloc(bytes == 0 ? 1 : bytes, 1);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  void Free(void* buffer) override { std::free(buffer); }
  void Upload(void* buffer, const void* host, size_t bytes) override {
    if (bytes > 0 && buffer != host) std::memcpy(buffer, host, bytes);
  }
  void Download(void* host, const void* buffer, size_t bytes) override {
    if (bytes > 0 && buffer != host) std::memcpy(host, buffer, bytes);
  }
  void Zero(void* buffer, size_t bytes) override {
    if (bytes > 0) std::memset(buffer, 0, bytes);
  }

 private:
  kernels::ThreadPool pool_;
};

#ifdef MOESWEEP_TRAINER_CUDA
#define MOESWEEP_SAME_SIGNATURE(name)                           \
  static_assert(std::is_same_v<decltype(&kernels::cpu::name),   \
                               decltype(&kernels::cuda::name)>, \
                "kernels::cuda::" #name " differs from kernels::cpu's");
MOESWEEP_TRAINER_OPS(MOESWEEP_SAME_SIGNATURE)
#undef MOESWEEP_SAME_SIGNATURE

constexpr Ops kCudaOps = {
#define MOESWEEP_OP_POINTER(name) &kernels::cuda::name,
    MOESWEEP_TRAINER_OPS(MOESWEEP_OP_POINTER)
#undef MOESWEEP_OP_POINTER
};

class CudaBackend : public Backend {
 public:
  explicit CudaBackend(std::unique_ptr<kernels::CudaEngine> engine)
      : Backend(kCudaOps, false), engine_(std::move(engine)) {
    ctx_.cuda = engine_.get();
  }
  std::string Describe() const override {
    return "cuda, " + engine_->Describe();
  }
  void* Alloc(size_t bytes) override {
    void* p = engine_->Alloc(bytes);
    engine_->Fill(p, 0, bytes);
    return p;
  }
  void Free(void* buffer) override { engine_->Free(buffer); }
  void Upload(void* buffer, const void* host, size_t bytes) override {
    if (bytes > 0) engine_->CopyToDevice(buffer, host, bytes);
  }
  void Download(void* host, const void* buffer, size_t bytes) override {
    if (bytes > 0) engine_->CopyToHost(host, buffer, bytes);
  }
  void Zero(void* buffer, size_t bytes) override {
    if (bytes > 0) engine_->Fill(buffer, 0, bytes);
  }

 private:
  std::unique_ptr<kernels::CudaEngine> engine_;
};
#endif  // MOESWEEP_TRAINER_CUDA

}  // namespace

Status CheckTrainBackend(TrainBackend backend) {
  if (backend == TrainBackend::kCpu) return OkStatus();
  return Backend::Cuda(0).status();
}

std::unique_ptr<Backend> Backend::Cpu(int threads) {
  return std::make_unique<CpuBackend>(threads);
}

StatusOr<std::unique_ptr<Backend>> Backend::Cuda(int device) {
#ifdef MOESWEEP_TRAINER_CUDA
  std::string why;
  int devices = kernels::CudaDeviceCount(&why);
  if (devices == 0) return FailedPreconditionError(why);
  if (device < 0 || device >= devices) {
    return FailedPreconditionError("no CUDA device " + std::to_string(device) +
                                   " (" + std::to_string(devices) +
                                   " visible)");
  }
  std::string error;
  auto engine = kernels::CudaEngine::Create(device, &error);
  if (engine == nullptr) {
    return FailedPreconditionError("CUDA device " + std::to_string(device) +
                                   ": " + error);
  }
  return std::unique_ptr<Backend>(new CudaBackend(std::move(engine)));
#else
  (void)device;
  return FailedPreconditionError("this build has no CUDA backend");
#endif
}

}  // namespace moesweep::worker
