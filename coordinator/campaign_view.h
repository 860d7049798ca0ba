// CampaignView and ReadView: immutable copies of the campaigns as readers
// see them. The scheduler thread publishes a new ReadView after each durable
// write, and read RPCs (Get, List, GetLaw, Predict, Optimal, ListTrials,
// Watch's snapshot) answer from the one they hold, so no read waits for the
// scheduler's lock, a fit, a proposal or a disk sync. Unchanged parts are
// shared between views, never copied. Internal to coordinator/.

#ifndef MOESWEEP_COORDINATOR_CAMPAIGN_VIEW_H_
#define MOESWEEP_COORDINATOR_CAMPAIGN_VIEW_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "campaign/campaign.h"
#include "coordinator/convert.h"
#include "fitter/fitter.h"

namespace moesweep::coordinator {

struct CampaignView {
  v1::Campaign campaign;
  // Rebuilt at a restart from records that no longer validate: FAILED, shown
  // (Get, List), and nothing else (the fields below are empty).
  bool quarantined = false;
  std::vector<std::shared_ptr<const v1::Trial>> trials;      // by index
  std::vector<std::shared_ptr<const v1::LawEstimate>> laws;  // oldest first
  std::shared_ptr<const std::vector<v1::OutOfSampleError>> out_of_sample;
  std::shared_ptr<const campaign::CampaignPlan> plan;
  std::optional<fitter::LawUncertainty> uncertainty;  // of the latest law
};

struct ReadView {
  std::map<std::string, std::shared_ptr<const CampaignView>> campaigns;
};

}  // namespace moesweep::coordinator

#endif  // MOESWEEP_COORDINATOR_CAMPAIGN_VIEW_H_
