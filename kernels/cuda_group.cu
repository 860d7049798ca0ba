// CudaGroup: NCCL all-reduce across the engines of one process. Built with
// NCCL where CMake found it beside the CUDA toolkit (MOESWEEP_HAVE_NCCL);
// without it, Create says so.

#include <cuda_runtime.h>
#ifdef MOESWEEP_HAVE_NCCL
#include <nccl.h>
#endif

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "kernels/cuda_engine.h"
#include "kernels/cuda_util.cuh"

namespace moesweep::kernels {

#ifdef MOESWEEP_HAVE_NCCL

namespace {

void CheckNccl(ncclResult_t result, const char* what) {
  if (result == ncclSuccess) return;
  std::fprintf(stderr, "moesweep: NCCL error in %s: %s\n", what,
               ncclGetErrorString(result));
  std::abort();
}

}  // namespace

struct CudaGroup::State {
  std::vector<CudaEngine*> engines;
  std::vector<ncclComm_t> comms;
};

std::unique_ptr<CudaGroup> CudaGroup::Create(
    const std::vector<CudaEngine*>& engines, std::string* error) {
  std::vector<int> devices;
  std::set<int> seen;
  for (CudaEngine* engine : engines) {
    devices.push_back(engine->device());
    if (!seen.insert(engine->device()).second) {
      *error = "two replicas on CUDA device " +
               std::to_string(engine->device()) +
               ": NCCL needs one device a rank";
      return nullptr;
    }
  }
  if (devices.empty()) {
    *error = "no engines";
    return nullptr;
  }
  auto s = std::make_unique<State>();
  s->engines = engines;
  s->comms.resize(devices.size());
  ncclResult_t result =
      ncclCommInitAll(s->comms.data(), int(devices.size()), devices.data());
  if (result != ncclSuccess) {
    *error = std::string("ncclCommInitAll: ") + ncclGetErrorString(result);
    return nullptr;
  }
  return std::unique_ptr<CudaGroup>(new CudaGroup(std::move(s)));
}

CudaGroup::~CudaGroup() {
  for (ncclComm_t comm : s_->comms) ncclCommDestroy(comm);
}

void CudaGroup::AllReduceSum(const std::vector<float*>& buffers, size_t n) {
  if (buffers.size() != s_->comms.size()) {
    std::fprintf(stderr,
                 "moesweep: AllReduceSum of %zu buffers over %zu "
                 "ranks\n",
                 buffers.size(), s_->comms.size());
    std::abort();
  }
  // One thread issues every rank's call, so they go in one group.
  CheckNccl(ncclGroupStart(), "ncclGroupStart");
  for (size_t r = 0; r < buffers.size(); ++r) {
    auto stream = static_cast<cudaStream_t>(s_->engines[r]->stream());
    CheckNccl(ncclAllReduce(buffers[r], buffers[r], n, ncclFloat, ncclSum,
                            s_->comms[r], stream),
              "ncclAllReduce");
  }
  CheckNccl(ncclGroupEnd(), "ncclGroupEnd");
}

#else  // !MOESWEEP_HAVE_NCCL

struct CudaGroup::State {};

std::unique_ptr<CudaGroup> CudaGroup::Create(const std::vector<CudaEngine*>&,
                                             std::string* error) {
  *error =
      "this build has no NCCL (nccl.h and libnccl were not found beside the "
      "CUDA toolkit), so it cannot train on several GPUs";
  return nullptr;
}

CudaGroup::~CudaGroup() = default;

void CudaGroup::AllReduceSum(const std::vector<float*>&, size_t) {
  std::abort();  // never made: Create returns null
}

#endif  // MOESWEEP_HAVE_NCCL

CudaGroup::CudaGroup(std::unique_ptr<State> state) : s_(std::move(state)) {}

}  // namespace moesweep::kernels
