// Conversions between the fitter's structs and the wire messages. Internal to
// coordinator/.

#ifndef MOESWEEP_COORDINATOR_CONVERT_H_
#define MOESWEEP_COORDINATOR_CONVERT_H_

#include <grpcpp/support/status.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "fitter/fitter.h"
#include "moesweep/v1/campaign.pb.h"
#include "moesweep/v1/campaign_state.pb.h"
#include "moesweep/v1/worker.pb.h"

namespace moesweep::coordinator {

namespace v1 = ::moesweep::v1;

v1::RunFeatures ToRunFeatures(const fitter::Observation& at);
fitter::Observation FromRunFeatures(const v1::RunFeatures& features);

v1::ArchitectureSpec ToArchitectureSpec(const fitter::Architecture& arch);
fitter::Architecture FromArchitectureSpec(const v1::ArchitectureSpec& spec);

v1::Interval ToInterval(const fitter::Interval& interval, double level);

// The law with its parameters (θ, the optimiser's coordinates), standard
// errors and 95% intervals from `uncertainty` (absent: none); a parameter on
// its bound has at_bound set and a warning (fitter::ParametersAtBound).
// INVALID_ARGUMENT/NOT_FOUND when the law's family cannot be resolved.
StatusOr<v1::LawEstimate> ToLawEstimate(
    const std::string& campaign_id, const fitter::LawSnapshot& snapshot,
    const fitter::LawUncertainty* uncertainty, double huber_delta,
    int64_t now_unix_ms);

// The law a LawEstimate holds (θ from the parameter values).
fitter::Law LawOf(const v1::LawEstimate& estimate, const fitter::Law& shape);

// The curve point a stored report (Progress, Done or Failed) stands for.
v1::LossPoint LossPointOf(const v1::WorkerMessage& report);

// Our Status as a grpc::Status: the same code and message (STYLE.md H4:
// the numbering matches). The one conversion on the coordinator's side.
grpc::Status ToGrpcStatus(const Status& s);

// SUCCEEDED, BUDGET_EXHAUSTED, CANCELLED or FAILED.
bool IsFinalState(v1::CampaignState state);

// The state as a metric label: "running", "budget_exhausted" (the enum name
// less its CAMPAIGN_STATE_ prefix, in lower case).
std::string CampaignStateLabel(v1::CampaignState state);

// The first index of a page: page tokens are decimal offsets into a list.
// INVALID_ARGUMENT for a token this server did not give.
StatusOr<size_t> PageOffset(const std::string& token);

// Most items a List or ListTrials page may ask for.
inline constexpr int kMaxPageSize = 1000;
// A page stops growing past this many bytes (at least one item is sent):
// specs of up to 64 KiB ride on every campaign, and a page must stay well
// inside gRPC's 4 MiB default message limit.
inline constexpr size_t kMaxPageBytes = 1 << 20;

// Copies items[first, first + size) into `out`, stopping early once the
// page holds kMaxPageBytes; returns the index after the last one copied.
template <typename T>
size_t FillPage(const std::vector<T>& items, size_t first, size_t size,
                google::protobuf::RepeatedPtrField<T>* out) {
  size_t bytes = 0, i = first;
  for (; i < items.size() && i < first + size; ++i) {
    if (i > first && bytes + items[i].ByteSizeLong() > kMaxPageBytes) break;
    bytes += items[i].ByteSizeLong();
    *out->Add() = items[i];
  }
  return i;
}

int64_t NowUnixMs();

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_CONVERT_H_
