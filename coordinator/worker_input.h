// Bounds on what a worker sends, checked in the reaction that reads it,
// before the store or the scheduler does any work for it (issue 13: inputs
// are not trusted). Internal to coordinator/.

#ifndef MOESWEEP_COORDINATOR_WORKER_INPUT_H_
#define MOESWEEP_COORDINATOR_WORKER_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "coordinator/convert.h"

namespace moesweep::coordinator {

// Most bytes of a worker id, a host name or a software version.
inline constexpr size_t kMaxWorkerIdBytes = 128;
// Most leases a Hello may list and attempts a Heartbeat may renew; also the
// most slots a worker may claim.
inline constexpr int kMaxWorkerSlots = 64;
// Most bytes of a Failed.message kept (longer ones are cut, not refused: a
// long stack trace is no reason to lose the attempt).
inline constexpr size_t kMaxFailureMessageBytes = 1024;

// Most reports (so stored loss points) of one attempt: seq is refused past
// it. A run that reports every step for a million steps still fits; a
// worker streaming without end does not fill the disk or a curve reply.
inline constexpr int64_t kMaxReportsPerAttempt = 1'000'000;

// INVALID_ARGUMENT naming the field: ids too long or not printable ASCII,
// counts out of range.
Status CheckHello(const v1::Hello& hello);
Status CheckHeartbeat(const v1::Heartbeat& heartbeat);
// A Progress, Done or Failed: INVALID_ARGUMENT naming the field for a
// negative count, a non-finite or negative loss, time or FLOP count, a FLOP
// count above 1e30, an unknown failure kind. Other kinds: INVALID_ARGUMENT.
Status CheckReport(const v1::WorkerMessage& report);
// Cuts Failed.message to kMaxFailureMessageBytes on a UTF-8 boundary.
void TrimReport(v1::WorkerMessage* report);

// `s` cut to at most `max_bytes` on a UTF-8 boundary, with "..." appended
// when cut: error messages quote a short prefix of a bad value, never all of
// it.
std::string Prefix(std::string_view s, size_t max_bytes = 64);

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_WORKER_INPUT_H_
