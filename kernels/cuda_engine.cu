// The CUDA engine: device, stream, cuBLASLt handle and workspace.

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/cuda_engine.h"
#include "kernels/cuda_util.cuh"

namespace moesweep::kernels {

namespace {

// cuBLASLt's recommended workspace for Hopper is 32 MiB; smaller GPUs use
// less of it.
constexpr size_t kWorkspaceBytes = size_t(32) << 20;

}  // namespace

struct CudaEngine::State {
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasLtHandle_t lt = nullptr;
  void* workspace = nullptr;
  cudaDeviceProp props{};
  int clock_khz = 0;
  MatmulPrecision precision = MatmulPrecision::kFp32;
  std::vector<cudaGraphExec_t> graphs;
};

int CudaDeviceCount(std::string* why) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    if (why != nullptr) {
      *why = std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    }
    cudaGetLastError();  // the error is not sticky; clear it
    return 0;
  }
  if (n == 0 && why != nullptr) *why = "no CUDA device is visible";
  return n;
}

bool CudaDeviceInfo(int device, std::string* name, size_t* total_bytes,
                    std::string* why) {
  cudaDeviceProp props;
  cudaError_t err = cudaGetDeviceProperties(&props, device);
  if (err != cudaSuccess) {
    *why = std::string("CUDA device ") + std::to_string(device) + ": " +
           cudaGetErrorString(err);
    cudaGetLastError();  // not sticky; clear it
    return false;
  }
  *name = props.name;
  *total_bytes = props.totalGlobalMem;
  return true;
}

std::unique_ptr<CudaEngine> CudaEngine::Create(int device, std::string* error) {
  auto s = std::make_unique<State>();
  s->device = device;
  auto fail = [&](const char* what, cudaError_t err) {
    *error = std::string(what) + ": " + cudaGetErrorString(err);
    if (s->workspace != nullptr) cudaFree(s->workspace);
    if (s->stream != nullptr) cudaStreamDestroy(s->stream);
    return std::unique_ptr<CudaEngine>();
  };
  cudaError_t err = cudaSetDevice(device);
  if (err != cudaSuccess) return fail("cudaSetDevice", err);
  err = cudaGetDeviceProperties(&s->props, device);
  if (err != cudaSuccess) return fail("cudaGetDeviceProperties", err);
  err = cudaDeviceGetAttribute(&s->clock_khz, cudaDevAttrClockRate, device);
  if (err != cudaSuccess) return fail("cudaDeviceGetAttribute", err);
  err = cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking);
  if (err != cudaSuccess) return fail("cudaStreamCreate", err);
  err = cudaMalloc(&s->workspace, kWorkspaceBytes);
  if (err != cudaSuccess) return fail("cudaMalloc (cuBLASLt workspace)", err);
  cublasStatus_t st = cublasLtCreate(&s->lt);
  if (st != CUBLAS_STATUS_SUCCESS) {
    *error = "cublasLtCreate failed with status " + std::to_string(int(st));
    cudaFree(s->workspace);
    cudaStreamDestroy(s->stream);
    return nullptr;
  }
  return std::unique_ptr<CudaEngine>(new CudaEngine(std::move(s)));
}

CudaEngine::CudaEngine(std::unique_ptr<State> state) : s_(std::move(state)) {}

// Only where another device is current: no driver call on the common path,
// and none that could disturb a capture in progress.
void CudaEngine::MakeCurrent() const {
  int current = -1;
  MOESWEEP_CUDA_CHECK(cudaGetDevice(&current));
  if (current != s_->device) MOESWEEP_CUDA_CHECK(cudaSetDevice(s_->device));
}

CudaEngine::~CudaEngine() {
  cudaSetDevice(s_->device);
  cudaStreamSynchronize(s_->stream);
  for (cudaGraphExec_t graph : s_->graphs) cudaGraphExecDestroy(graph);
  cublasLtDestroy(s_->lt);
  cudaFree(s_->workspace);
  cudaStreamDestroy(s_->stream);
}

std::string CudaEngine::Describe() const {
  const cudaDeviceProp& p = s_->props;
  return std::string(p.name) + ", sm_" + std::to_string(p.major) +
         std::to_string(p.minor) + ", " +
         std::to_string(p.multiProcessorCount) + " SMs";
}

double CudaEngine::PeakBf16Flops() const {
  const cudaDeviceProp& p = s_->props;
  double per_cycle = p.major >= 9 ? 4096 : p.major == 8 ? 2048 : 0;
  return per_cycle * p.multiProcessorCount * s_->clock_khz * 1e3;
}

size_t CudaEngine::FreeBytes() const {
  MakeCurrent();
  size_t free = 0, total = 0;
  MOESWEEP_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return free;
}

void* CudaEngine::Alloc(size_t bytes) {
  MakeCurrent();
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, bytes == 0 ? 1 : bytes);
  if (err != cudaSuccess) {
    std::fprintf(stderr, "moesweep: cudaMalloc of %zu bytes failed: %s\n",
                 bytes, cudaGetErrorString(err));
    std::abort();
  }
  return p;
}

void CudaEngine::Free(void* device_ptr) {
  MakeCurrent();
  MOESWEEP_CUDA_CHECK(cudaFree(device_ptr));
}

void CudaEngine::CopyToDevice(void* device_dst, const void* host_src,
                              size_t bytes) {
  MakeCurrent();
  MOESWEEP_CUDA_CHECK(cudaMemcpyAsync(device_dst, host_src, bytes,
                                      cudaMemcpyHostToDevice, s_->stream));
  // The host buffer may be freed as soon as we return.
  MOESWEEP_CUDA_CHECK(cudaStreamSynchronize(s_->stream));
}

void CudaEngine::CopyToHost(void* host_dst, const void* device_src,
                            size_t bytes) {
  MakeCurrent();
  MOESWEEP_CUDA_CHECK(cudaMemcpyAsync(host_dst, device_src, bytes,
                                      cudaMemcpyDeviceToHost, s_->stream));
  MOESWEEP_CUDA_CHECK(cudaStreamSynchronize(s_->stream));
}

void CudaEngine::Fill(void* device_dst, int byte, size_t bytes) {
  MakeCurrent();
  MOESWEEP_CUDA_CHECK(cudaMemsetAsync(device_dst, byte, bytes, s_->stream));
}

void CudaEngine::Synchronize() {
  MakeCurrent();
  MOESWEEP_CUDA_CHECK(cudaStreamSynchronize(s_->stream));
}

size_t CudaEngine::Capture(const std::function<void()>& body) {
  MakeCurrent();
  // Thread-local mode: another thread's unrelated CUDA calls (a second
  // engine's allocations) do not break this capture.
  MOESWEEP_CUDA_CHECK(
      cudaStreamBeginCapture(s_->stream, cudaStreamCaptureModeThreadLocal));
  body();
  cudaGraph_t graph = nullptr;
  MOESWEEP_CUDA_CHECK(cudaStreamEndCapture(s_->stream, &graph));
  cudaGraphExec_t exec = nullptr;
  MOESWEEP_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  MOESWEEP_CUDA_CHECK(cudaGraphDestroy(graph));
  s_->graphs.push_back(exec);
  return s_->graphs.size() - 1;
}

void CudaEngine::Launch(size_t index) {
  MakeCurrent();
  MOESWEEP_CUDA_CHECK(cudaGraphLaunch(s_->graphs.at(index), s_->stream));
}

int CudaEngine::device() const { return s_->device; }
void CudaEngine::set_matmul_precision(MatmulPrecision p) { s_->precision = p; }
MatmulPrecision CudaEngine::matmul_precision() const { return s_->precision; }
void* CudaEngine::stream() const { return s_->stream; }
void* CudaEngine::lt_handle() const { return s_->lt; }
void* CudaEngine::workspace() const { return s_->workspace; }
size_t CudaEngine::workspace_bytes() const { return kWorkspaceBytes; }

}  // namespace moesweep::kernels
