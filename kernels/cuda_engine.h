// What the CUDA ops of kernels.h run on: one device, one stream, a cuBLASLt
// handle and its workspace; and NCCL across engines (CudaGroup). The header
// names no CUDA type, so code that never touches a GPU (the CPU trainer,
// CI's tests) includes it freely.
//
// Thread-safety: an engine is used by one thread at a time; ops queued on
// its stream run in order. Every engine call makes the engine's device
// current on the calling thread, so the ops a thread queues after it go to
// that device: one thread can drive engines on several GPUs in turn.

#ifndef MOESWEEP_KERNELS_CUDA_ENGINE_H_
#define MOESWEEP_KERNELS_CUDA_ENGINE_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace moesweep::kernels {

// CUDA devices this process can use. 0, with the reason in *why, where the
// driver is missing, no GPU is visible, or the build has no CUDA.
int CudaDeviceCount(std::string* why);

// The driver's name and the total memory of `device`, without opening it
// (no context, stream or library handle). False, with the reason in *why,
// where it cannot be queried.
bool CudaDeviceInfo(int device, std::string* name, size_t* total_bytes,
                    std::string* why);

// How the CUDA matmuls (cuBLASLt's and the grouped expert GEMMs) multiply
// their fp32 operands: kFp32 in fp32 (no TF32), matching the references to
// rounding; kBf16 rounded to bf16 on tensor cores with fp32 accumulation,
// about 1e-2 relative (the mixed-precision recipe's matmul error) and many
// times faster.
enum class MatmulPrecision { kFp32, kBf16 };

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

  // The device's free memory now (cudaMemGetInfo).
  size_t FreeBytes() const;
  // Device memory (cudaMalloc: never managed memory). Aborts, naming the
  // size, when the device has none left: a training step cannot go on, so
  // callers check FreeBytes first (Replicas::Create does).
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

  // kFp32 until set. A captured graph keeps the precision it was captured
  // with.
  void set_matmul_precision(MatmulPrecision p);
  MatmulPrecision matmul_precision() const;

  // CUDA graphs: a training step's hundreds of launches replayed as one.
  // Capture runs `body` with the stream capturing, so the ops it queues are
  // recorded rather than run, and returns the graph's index. `body` must only
  // queue ops: a copy that waits, or an allocation, breaks the capture, and
  // Capture aborts naming the error. Launch queues graph `index` on the
  // stream. Graphs live as long as the engine.
  size_t Capture(const std::function<void()>& body);
  void Launch(size_t index);

  int device() const;
  // For the ops (kernels/*.cu): the cudaStream_t, the cublasLtHandle_t and
  // the GEMM workspace.
  void* stream() const;
  void* lt_handle() const;
  void* workspace() const;
  size_t workspace_bytes() const;
  // Makes this engine's device the calling thread's current one (a no-op
  // where it is already): ops only name the stream, and a launch into the
  // stream of a device that is not current fails.
  void MakeCurrent() const;

 private:
  struct State;
  explicit CudaEngine(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

// NCCL communicators over engines on distinct GPUs of this process
// (ncclCommInitAll): the gradient all-reduce of data parallelism inside one
// worker. One thread drives every engine (the collectives are grouped).
class CudaGroup {
 public:
  // Null, with the reason in *error, where the build has no NCCL, two
  // engines share a device, or NCCL fails. The engines must outlive it.
  static std::unique_ptr<CudaGroup> Create(
      const std::vector<CudaEngine*>& engines, std::string* error);
  ~CudaGroup();
  CudaGroup(const CudaGroup&) = delete;
  CudaGroup& operator=(const CudaGroup&) = delete;

  // buffers[r], n floats on engine r's device, all become the elementwise
  // sum over r; queued on each engine's stream after the ops before it.
  void AllReduceSum(const std::vector<float*>& buffers, size_t n);

 private:
  struct State;
  explicit CudaGroup(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace moesweep::kernels

#endif  // MOESWEEP_KERNELS_CUDA_ENGINE_H_
