// The coordinator's public API (STYLE.md H1). For now: the durable store
// (issue 6); the gRPC services, leases and metrics come next.

#ifndef MOESWEEP_COORDINATOR_COORDINATOR_H_
#define MOESWEEP_COORDINATOR_COORDINATOR_H_

#include "coordinator/store.h"  // IWYU pragma: export

#endif  // MOESWEEP_COORDINATOR_COORDINATOR_H_
