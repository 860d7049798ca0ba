// Test seams of the agent (STYLE.md H1: <name>_internal.h gives the folder's
// own tests extra access). Not for use outside worker/agent/ and its tests.

#ifndef MOESWEEP_WORKER_AGENT_AGENT_INTERNAL_H_
#define MOESWEEP_WORKER_AGENT_AGENT_INTERNAL_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "common/status.h"
#include "moesweep/v1/common.pb.h"
#include "worker/agent/agent.h"

namespace moesweep::worker::agent {

struct TestHooks {
  // Called on an attempt's runner thread before each optimizer step (and
  // before its stop and time-limit checks) with the steps done so far. A
  // test blocks in it to hold training at a known step while it drops the
  // stream, cancels the campaign or stops the agent.
  std::function<void(const ::moesweep::v1::TrialSpec& spec, int64_t steps_done)>
      before_step;
};

// Agent::Create with hooks.
StatusOr<std::unique_ptr<Agent>> CreateAgentForTest(const AgentOptions& options,
                                                    TestHooks hooks);

}  // namespace moesweep::worker::agent

#endif  // MOESWEEP_WORKER_AGENT_AGENT_INTERNAL_H_
