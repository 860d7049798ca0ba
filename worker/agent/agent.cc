// Agent's public surface: options, backends, event names, and the wrapper
// over AgentImpl (agent_impl.cc runs the control loop).

#include "worker/agent/agent.h"

#include <utility>

#include "worker/agent/agent_impl.h"
#include "worker/worker.h"

namespace moesweep::worker::agent {

Status CheckBackend(Backend backend, int gpus) {
  return CheckTrainBackend(
      backend == Backend::kCuda ? TrainBackend::kCuda : TrainBackend::kCpu,
      gpus);
}

std::string_view EventKindName(AgentEvent::Kind kind) {
  switch (kind) {
    case AgentEvent::Kind::kConnected:
      return "connected";
    case AgentEvent::Kind::kDisconnected:
      return "disconnected";
    case AgentEvent::Kind::kAssigned:
      return "assigned";
    case AgentEvent::Kind::kResumed:
      return "resumed";
    case AgentEvent::Kind::kVoided:
      return "voided";
    case AgentEvent::Kind::kAcked:
      return "acked";
    case AgentEvent::Kind::kFinished:
      return "finished";
    case AgentEvent::Kind::kCancelled:
      return "cancelled";
    case AgentEvent::Kind::kRefused:
      return "refused";
  }
  return "unknown";
}

Status AgentOptions::Validate() const {
  if (gpus < 1 || gpus > kMaxGpus) {
    return InvalidArgumentError("gpus: must be in [1, " +
                                std::to_string(kMaxGpus) + "], got " +
                                std::to_string(gpus));
  }
  if (gpus > 1 && backend != Backend::kCuda) {
    return InvalidArgumentError("gpus: more than 1 needs the cuda backend");
  }
  if (matmul == MatmulMath::kBf16 && backend != Backend::kCuda) {
    return InvalidArgumentError("matmul: bf16 needs the cuda backend");
  }
  MOESWEEP_RETURN_IF_ERROR(CheckBackend(backend, gpus));
  size_t colon = coordinator.rfind(':');
  if (colon == std::string::npos || colon == 0 ||
      colon + 1 == coordinator.size()) {
    return InvalidArgumentError("coordinator: must be HOST:PORT, got '" +
                                coordinator + "'");
  }
  if (token.empty()) return InvalidArgumentError("token: required");
  struct Positive {
    const char* field;
    int64_t value;
  };
  for (const Positive& p :
       {Positive{"max_concurrent_trials", max_concurrent_trials},
        Positive{"connect_attempts", connect_attempts},
        Positive{"welcome_timeout_ms", welcome_timeout_ms},
        Positive{"backoff_initial_ms", backoff_initial_ms},
        Positive{"stop_timeout_ms", stop_timeout_ms}}) {
    if (p.value < 1) {
      return InvalidArgumentError(std::string(p.field) +
                                  ": must be >= 1, got " +
                                  std::to_string(p.value));
    }
  }
  if (backoff_max_ms < backoff_initial_ms) {
    return InvalidArgumentError(
        "backoff_max_ms: must be >= backoff_initial_ms"
        ", got " +
        std::to_string(backoff_max_ms));
  }
  if (threads < 0) {
    return InvalidArgumentError("threads: must be >= 0, got " +
                                std::to_string(threads));
  }
  return OkStatus();
}

Agent::Agent(std::unique_ptr<AgentImpl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() = default;

StatusOr<std::unique_ptr<Agent>> Agent::Create(const AgentOptions& options) {
  return CreateAgentForTest(options, TestHooks{});
}

StatusOr<std::unique_ptr<Agent>> CreateAgentForTest(const AgentOptions& options,
                                                    TestHooks hooks) {
  MOESWEEP_RETURN_IF_ERROR(options.Validate());
  return std::unique_ptr<Agent>(
      new Agent(std::make_unique<AgentImpl>(options, std::move(hooks))));
}

Status Agent::Run() { return impl_->Run(); }
void Agent::Stop() { impl_->Stop(); }
AgentStats Agent::stats() const { return impl_->stats(); }

}  // namespace moesweep::worker::agent
