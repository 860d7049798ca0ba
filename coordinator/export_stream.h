// Export: a campaign table as CSV or JSON Lines (ExportText), sent in 1 MiB
// chunks by ExportStream, the reactor of CampaignService.Export (H7).
// Internal to coordinator/.

#ifndef MOESWEEP_COORDINATOR_EXPORT_STREAM_H_
#define MOESWEEP_COORDINATOR_EXPORT_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "common/status.h"
#include "coordinator/convert.h"
#include "moesweep/v1/campaign.pb.h"

namespace moesweep::coordinator {

class Scheduler;
class Store;

// The whole file. NOT_FOUND for an unknown campaign; INVALID_ARGUMENT for
// an unknown table or format.
StatusOr<std::string> ExportText(const Scheduler& scheduler, const Store& store,
                                 const v1::ExportRequest& request);

// Thread-safe. Finishes with the text's error, or after the last chunk.
class ExportStream : public grpc::ServerWriteReactor<v1::ExportChunk> {
 public:
  explicit ExportStream(StatusOr<std::string> text);
  void OnWriteDone(bool ok) override;
  void OnDone() override { delete this; }

 private:
  void WriteNext();  // only from the constructor and OnWriteDone

  std::string text_;
  size_t offset_ = 0;
  v1::ExportChunk chunk_;
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_EXPORT_STREAM_H_
