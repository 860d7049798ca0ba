// Where the model runs: the host (kernels::cpu, host memory) or one GPU
// (kernels::cuda, device memory). The model is written once against this
// interface; a backend swaps the kernels and the memory, never the loop
// (STYLE.md H11). Internal to worker/.

#ifndef MOESWEEP_WORKER_TRAINER_BACKEND_H_
#define MOESWEEP_WORKER_TRAINER_BACKEND_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"
#include "kernels/kernels.h"

namespace moesweep::worker {

// The ops the model calls, each a pointer to one namespace's function. The
// cpu and cuda ops share their signatures (kernels/ops.inc), which
// backend.cc checks at compile time.
// clang-format off
#define MOESWEEP_TRAINER_OPS(X) \
  X(embedding_forward) \
  X(embedding_backward) \
  X(rmsnorm_forward) \
  X(rmsnorm_backward) \
  X(matmul_forward) \
  X(matmul_backward) \
  X(expert_matmul_forward) \
  X(expert_matmul_backward) \
  X(attention_forward) \
  X(attention_backward) \
  X(router_forward) \
  X(router_loss_forward) \
  X(router_backward) \
  X(moe_permute_forward) \
  X(moe_permute_backward) \
  X(moe_unpermute_forward) \
  X(moe_unpermute_backward) \
  X(swiglu_forward) \
  X(swiglu_backward) \
  X(add_forward) \
  X(crossentropy_forward) \
  X(crossentropy_backward) \
  X(adamw_update) \
  X(grad_norm_squared)
// clang-format on

struct Ops {
#define MOESWEEP_OP_FIELD(name) decltype(&kernels::cpu::name) name;
  MOESWEEP_TRAINER_OPS(MOESWEEP_OP_FIELD)
#undef MOESWEEP_OP_FIELD
};

// Not thread-safe: one model drives it.
class Backend {
 public:
  // kernels::cpu on a pool of `threads` threads (>= 1), host memory.
  static std::unique_ptr<Backend> Cpu(int threads);
  // kernels::cuda on GPU `device`; Replay captures CUDA graphs unless
  // `graphs` is false (then it runs its body eagerly, for comparison).
  // FAILED_PRECONDITION, naming why, where this build has no CUDA, no GPU is
  // visible, or the device cannot be opened.
  static StatusOr<std::unique_ptr<Backend>> Cuda(int device,
                                                 bool graphs = true);

  virtual ~Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  const Ops& ops() const { return ops_; }
  const kernels::Context& ctx() const { return ctx_; }
  // True when buffers are host memory the caller may read and write.
  bool host_memory() const { return host_memory_; }
  // "cpu, 2 threads", "cuda, NVIDIA H100 80GB HBM3, sm_90, 132 SMs".
  virtual std::string Describe() const = 0;

  // A zeroed buffer of `bytes`, freed by Free.
  void* Alloc(size_t bytes);
  virtual void Free(void* buffer) = 0;
  // Bytes Alloc has handed out so far (frees not subtracted).
  size_t allocated_bytes() const { return allocated_bytes_; }
  // Memory Alloc can still hand out: the device's free memory for CUDA, the
  // kernel's MemAvailable for the CPU (SIZE_MAX where it cannot be read).
  virtual size_t free_bytes() const = 0;
  // Copies between the host and a buffer, after the ops queued before; both
  // return once the bytes are there. Never inside Replay's body.
  void Upload(void* buffer, const void* host, size_t bytes);
  void Download(void* host, const void* buffer, size_t bytes);
  // Zeroes part of a buffer, in op order (allowed inside Replay's body).
  virtual void Zero(void* buffer, size_t bytes) = 0;

  // Queues `body`'s ops as one unit. The CUDA backend captures them into a
  // graph the first time it sees `key` and replays that graph after, without
  // calling `body`; so for one key, `body` must queue the same ops on the
  // same buffers with the same sizes every time, and values that change
  // (the learning rate) must be read by the ops from memory. `body` may only
  // queue ops: an Upload or Download inside it aborts on every backend, the
  // CPU one included, so a step that could not be captured fails in CI too.
  void Replay(int key, const std::function<void()>& body);
  // Graphs captured so far (0 on the CPU).
  int graphs() const { return int(graphs_.size()); }

 protected:
  virtual void* Allocate(size_t bytes) = 0;
  virtual void CopyIn(void* buffer, const void* host, size_t bytes) = 0;
  virtual void CopyOut(void* host, const void* buffer, size_t bytes) = 0;
  // Whether Replay captures graphs; where not, it runs each body as it
  // comes and never calls Capture or Launch.
  virtual bool captures() const = 0;
  // Records `body`'s ops as one graph and returns its index.
  virtual size_t Capture(const std::function<void()>& body) = 0;
  virtual void Launch(size_t graph) = 0;
  // Readies the calling thread to queue ops eagerly (the CUDA backend makes
  // its device current: with several GPUs, another may be).
  virtual void Activate() {}

  Backend(const Ops& ops, bool host_memory)
      : ops_(ops), host_memory_(host_memory) {}
  kernels::Context ctx_;

 private:
  void RefuseInsideReplay(const char* what) const;

  const Ops ops_;
  const bool host_memory_;
  bool in_replay_ = false;
  size_t allocated_bytes_ = 0;
  std::map<int, size_t> graphs_;  // Replay key -> captured graph
};

}  // namespace moesweep::worker

#endif  // MOESWEEP_WORKER_TRAINER_BACKEND_H_
