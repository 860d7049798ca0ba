// The CPU backend, and the CUDA one where the build has the CUDA ops
// (MOESWEEP_TRAINER_CUDA: worker/CMakeLists.txt).

#include "worker/trainer/backend.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <type_traits>
#include <vector>

#include "worker/worker.h"

namespace moesweep::worker {

namespace {

// MemAvailable of /proc/meminfo: free memory plus what the kernel can
// reclaim without swapping. SIZE_MAX where it cannot be read.
size_t HostAvailableBytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  size_t kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemAvailable:") return kib * 1024;
    meminfo.ignore(64, '\n');  // the unit
  }
  return SIZE_MAX;
}

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
  void Free(void* buffer) override { std::free(buffer); }
  size_t free_bytes() const override { return HostAvailableBytes(); }
  void Zero(void* buffer, size_t bytes) override {
    if (bytes > 0) std::memset(buffer, 0, bytes);
  }

 protected:
  void* Allocate(size_t bytes) override {
    // calloc: zeroed, and the pages are touched by whichever thread first
    // writes them, as with the vectors before.
    void* p = std::calloc(bytes == 0 ? 1 : bytes, 1);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  void CopyIn(void* buffer, const void* host, size_t bytes) override {
    if (bytes > 0 && buffer != host) std::memcpy(buffer, host, bytes);
  }
  void CopyOut(void* host, const void* buffer, size_t bytes) override {
    if (bytes > 0 && buffer != host) std::memcpy(host, buffer, bytes);
  }
  bool captures() const override { return false; }
  size_t Capture(const std::function<void()>&) override { std::abort(); }
  void Launch(size_t) override { std::abort(); }

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
  CudaBackend(std::unique_ptr<kernels::CudaEngine> engine, bool graphs)
      : Backend(kCudaOps, false), engine_(std::move(engine)), graphs_(graphs) {
    ctx_.cuda = engine_.get();
  }
  std::string Describe() const override {
    return "cuda, " + engine_->Describe();
  }
  void Free(void* buffer) override { engine_->Free(buffer); }
  size_t free_bytes() const override { return engine_->FreeBytes(); }
  void Zero(void* buffer, size_t bytes) override {
    if (bytes > 0) engine_->Fill(buffer, 0, bytes);
  }

 protected:
  void* Allocate(size_t bytes) override {
    void* p = engine_->Alloc(bytes);
    engine_->Fill(p, 0, bytes);
    return p;
  }
  void CopyIn(void* buffer, const void* host, size_t bytes) override {
    if (bytes > 0) engine_->CopyToDevice(buffer, host, bytes);
  }
  void CopyOut(void* host, const void* buffer, size_t bytes) override {
    if (bytes > 0) engine_->CopyToHost(host, buffer, bytes);
  }
  bool captures() const override { return graphs_; }
  size_t Capture(const std::function<void()>& body) override {
    return engine_->Capture(body);
  }
  void Launch(size_t graph) override { engine_->Launch(graph); }
  void Activate() override { engine_->MakeCurrent(); }

 private:
  std::unique_ptr<kernels::CudaEngine> engine_;
  const bool graphs_;
};
#endif  // MOESWEEP_TRAINER_CUDA

}  // namespace

void Backend::RefuseInsideReplay(const char* what) const {
  if (!in_replay_) return;
  // A copy that waits cannot be captured into a graph; the CPU backend
  // refuses it too, so the mistake shows without a GPU.
  std::fprintf(stderr,
               "moesweep: %s inside Backend::Replay's body: a replayed step "
               "may only queue ops\n",
               what);
  std::abort();
}

void* Backend::Alloc(size_t bytes) {
  RefuseInsideReplay("Alloc");  // cudaMalloc breaks a capture
  allocated_bytes_ += bytes;
  return Allocate(bytes);
}

void Backend::Upload(void* buffer, const void* host, size_t bytes) {
  RefuseInsideReplay("Upload");
  CopyIn(buffer, host, bytes);
}

void Backend::Download(void* host, const void* buffer, size_t bytes) {
  RefuseInsideReplay("Download");
  CopyOut(host, buffer, bytes);
}

void Backend::Replay(int key, const std::function<void()>& body) {
  RefuseInsideReplay("Replay");
  in_replay_ = true;
  if (!captures()) {
    Activate();
    body();
  } else {
    auto it = graphs_.find(key);
    if (it == graphs_.end()) it = graphs_.emplace(key, Capture(body)).first;
    Launch(it->second);
  }
  in_replay_ = false;
}

Status CheckTrainBackend(TrainBackend backend, int gpus) {
  if (backend == TrainBackend::kCpu) return OkStatus();
  std::vector<std::unique_ptr<Backend>> opened;
  [[maybe_unused]] std::vector<kernels::CudaEngine*> engines;
  for (int r = 0; r < gpus; ++r) {
    MOESWEEP_ASSIGN_OR_RETURN(std::unique_ptr<Backend> one, Backend::Cuda(r));
    engines.push_back(one->ctx().cuda);
    opened.push_back(std::move(one));
  }
#ifdef MOESWEEP_TRAINER_CUDA  // else Backend::Cuda has failed above
  if (gpus > 1) {
    std::string error;
    if (kernels::CudaGroup::Create(engines, &error) == nullptr) {
      return FailedPreconditionError("data parallel over " +
                                     std::to_string(gpus) + " GPUs: " + error);
    }
  }
#endif
  return OkStatus();
}

StatusOr<GpuInfo> QueryGpus(int gpus) {
  GpuInfo info;
#ifdef MOESWEEP_TRAINER_CUDA
  for (int device = 0; device < gpus; ++device) {
    std::string name, why;
    size_t bytes = 0;
    if (!kernels::CudaDeviceInfo(device, &name, &bytes, &why)) {
      return FailedPreconditionError(why);
    }
    if (device == 0) info.model = name;
    const int64_t memory = int64_t(std::min<size_t>(bytes, INT64_MAX));
    if (device == 0 || memory < info.memory_bytes) info.memory_bytes = memory;
  }
  return info;
#else
  (void)gpus;
  return FailedPreconditionError("this build has no CUDA backend");
#endif
}

std::unique_ptr<Backend> Backend::Cpu(int threads) {
  return std::make_unique<CpuBackend>(threads);
}

StatusOr<std::unique_ptr<Backend>> Backend::Cuda(int device, bool graphs) {
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
  return std::unique_ptr<Backend>(new CudaBackend(std::move(engine), graphs));
#else
  (void)device;
  (void)graphs;
  return FailedPreconditionError("this build has no CUDA backend");
#endif
}

}  // namespace moesweep::worker
