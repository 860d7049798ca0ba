// Every compute op of the MoE transformer with one parameter list (STYLE.md
// H9): a plain C++ reference in namespace `ref` (<op>_ref.cc, loops that read
// like the maths; a template on the element type so tests can run it in
// fp64), a fast CPU version in namespace `cpu` (threaded, GEMMs through
// OpenBLAS when the build found it) and a CUDA version in namespace `cuda`
// (<op>.cu, on device memory). ref<float>, cpu and cuda take the same
// arguments, so the same call runs through each.
//
// Shape letters, used in every signature:
//   B batch, T sequence, C model width, NH attention heads (head width C/NH),
//   E experts, K top-k, H expert hidden width, V vocabulary,
//   N rows = tokens (B*T), M routed rows (N*K), I/O in/out features of a
//   matmul. Gradients start with `d`. Matrices are row-major.
//
// Backward contracts: parameter gradients (dweight, dwte) are always
// accumulated (+=), so grads are zeroed once per step. Input gradients are
// accumulated where an input can feed several ops (matmul dinp, rmsnorm
// dinp, moe_permute_backward dx) and overwritten (=) elsewhere; each
// function says which.
//
// Thread-safety: the functions are reentrant; concurrent calls must not share
// output buffers or a ThreadPool.

#ifndef MOESWEEP_KERNELS_KERNELS_H_
#define MOESWEEP_KERNELS_KERNELS_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "kernels/cuda_engine.h"  // CudaEngine, CudaDeviceCount

namespace moesweep::kernels {

class ThreadPool;

// What the fast ops run on. The reference ignores it. Both are borrowed and
// must outlive every call. `pool`: the cpu ops' threads; null runs on the
// calling thread alone. `cuda`: the device and stream of the cuda ops,
// required by them.
struct Context {
  ThreadPool* pool = nullptr;
  CudaEngine* cuda = nullptr;
};

// A fixed set of worker threads. Run(n, f) calls f(i) once for every i in
// [0, n) and returns when all are done. Threads claim tasks as they come free
// (so a thread slowed by another process does not hold the rest up); callers
// keep results bit-identical by making each task's output depend on its index
// alone, never on which thread ran it or when.
// Creating a pool also sets OpenBLAS to one thread: the pool owns the cores,
// and two thread teams on two cores fight. Not thread-safe: one caller at a
// time.
class ThreadPool {
 public:
  // REQUIRES: threads >= 1.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }

  // A buffer of at least `floats` floats, owned by the pool and valid until
  // the next Scratch call. It only grows, so once a training step has run,
  // later steps allocate nothing. For the calling thread, between Runs.
  float* Scratch(size_t floats);

  template <typename F>
  void Run(int n, F&& f) {
    using Fn = std::remove_reference_t<F>;
    RunTasks(
        n, [](void* fn, int i) { (*static_cast<Fn*>(fn))(i); },
        const_cast<void*>(static_cast<const void*>(&f)));
  }

 private:
  void RunTasks(int n, void (*task)(void*, int), void* arg);
  struct State;
  static void WorkerLoop(State* s);
  int threads_;
  std::unique_ptr<State> state_;
};

// Marks what device code may call too, where nvcc compiles it.
#ifdef __CUDACC__
#define MOESWEEP_HOST_DEVICE __host__ __device__
#else
#define MOESWEEP_HOST_DEVICE
#endif

// One optimizer step's settings, read by adamw_update from memory the op can
// read (device memory for the cuda op): a captured training step (a CUDA
// graph) bakes in pointers, not values, so the learning rate and the step
// change between replays by rewriting this struct.
struct AdamwStep {
  float lr = 0;
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0;   // where adamw_update's `decay` is set
  float max_norm = 0;       // clip the global gradient norm to it; 0: never
  int32_t step = 1;         // 1-based, for the bias corrections
  double norm_squared = 0;  // of all the gradients (grad_norm_squared)
};

// The factor adamw_update puts on the gradients: max_norm / norm where the
// norm exceeds max_norm, else 1.
MOESWEEP_HOST_DEVICE inline float AdamwClipScale(const AdamwStep& s) {
  float norm = float(sqrt(s.norm_squared));
  return s.max_norm > 0 && norm > s.max_norm ? s.max_norm / norm : 1.0f;
}

// The threads the machine offers (at least 1).
int HardwareThreads();
// "openblas" or "builtin": which GEMM the fast ops use.
const char* GemmBackend();

namespace ref {
#define MOESWEEP_KERNEL template <typename Float>
#include "kernels/ops.inc"
#undef MOESWEEP_KERNEL
}  // namespace ref

namespace cpu {
using Float = float;
#define MOESWEEP_KERNEL
#include "kernels/ops.inc"
#undef MOESWEEP_KERNEL
}  // namespace cpu

// The same ops on one GPU (kernels/<op>.cu), built where the CUDA toolkit is
// found (target moesweep_kernels_cuda). Every pointer is device memory, the
// scalars router_loss_forward and grad_norm_squared write and adamw_update's
// settings too; each op is queued on ctx.cuda's stream and returns without
// waiting, so a training step's ops can be captured as one CUDA graph.
namespace cuda {
using Float = float;
#define MOESWEEP_KERNEL
#include "kernels/ops.inc"
#undef MOESWEEP_KERNEL
}  // namespace cuda

}  // namespace moesweep::kernels

#endif  // MOESWEEP_KERNELS_KERNELS_H_
