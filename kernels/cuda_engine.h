// What the CUDA ops of kernels.h run on: one device, one stream, a cuBLASLt
// handle and its workspace. The header names no CUDA type, so code that
// never touches a GPU (the CPU trainer, CI's tests) includes it freely.
//
// Thread-safety: an engine is used by one thread at a time; ops queued on
// its stream run in order.

#ifndef MOESWEEP_KERNELS_CUDA_ENGINE_H_
#define MOESWEEP_KERNELS_CUDA_ENGINE_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace moesweep::kernels {

// CUDA devices this process can use. 0, with the reason in *why, where the
// driver is missing, no GPU is visible, or the build has no CUDA.
int CudaDeviceCount(std::string* why);

class CudaEngine {
 public:
  // Opens `device` and creates the stream, the cuBLASLt handle and its
  // workspace. Null, with the reason in *error, when any of that fails.
  static std::unique_ptr<CudaEngine> Create(int device, std::string* error);
  ~CudaEngine();
  CudaEngine(const CudaEngine&) = delete;
  CudaEngine& operator=(const CudaEngine&) = delete;

  // "NVIDIA H100 80GB HBM3, sm_90, 132 SMs".
  std::string Describe() const;
  // The dense bf16 tensor-core peak in FLOP/s at the device's reported
  // highest clock (the denominator of MFU): SMs x clock x 2048 FLOP a cycle
  // on sm_80, 4096 on sm_90 and later; 0 on older devices.
  double PeakBf16Flops() const;

  // Device memory (cudaMalloc: never managed memory). Aborts, naming the
  // size, when the device has none left: a training step cannot go on.
  void* Alloc(size_t bytes);
  void Free(void* device_ptr);
  // Copies in stream order (after the ops queued before) and return once the
  // bytes are there, so the host buffer is free again at once.
  void CopyToDevice(void* device_dst, const void* host_src, size_t bytes);
  void CopyToHost(void* host_dst, const void* device_src, size_t bytes);
  // Fills with a byte (cudaMemsetAsync), in stream order.
  void Fill(void* device_dst, int byte, size_t bytes);
  // Waits for everything queued so far; aborts on a kernel's error.
  void Synchronize();

  // CUDA graphs: a training step's hundreds of launches replayed as one.
  // Capture runs `body` with the stream capturing, so the ops it queues are
  // recorded rather than run, and returns the graph's index. `body` must only
  // queue ops: a copy that waits, or an allocation, breaks the capture, and
  // Capture aborts naming the error. Launch queues graph `index` on the
  // stream. Graphs live as long as the engine.
  size_t Capture(const std::function<void()>& body);
  void Launch(size_t index);

  // For the ops (kernels/*.cu): the cudaStream_t, the cublasLtHandle_t and
  // the GEMM workspace.
  void* stream() const;
  void* lt_handle() const;
  void* workspace() const;
  size_t workspace_bytes() const;

 private:
  struct State;
  explicit CudaEngine(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace moesweep::kernels

#endif  // MOESWEEP_KERNELS_CUDA_ENGINE_H_
