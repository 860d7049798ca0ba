// What `moesweep campaign` prints for a person: tables of campaigns, trials
// and law parameters, a campaign's fields, and watch's progress line. The
// --json output is the proto itself (proto3 JSON) and lives in the command.

#ifndef MOESWEEP_CLI_CAMPAIGN_PRINT_H_
#define MOESWEEP_CLI_CAMPAIGN_PRINT_H_

#include <ostream>
#include <string>
#include <vector>

#include "moesweep/v1/campaign.pb.h"

namespace moesweep::cli {

// "RUNNING", "BUDGET_EXHAUSTED": the enum name less its prefix.
std::string StateName(v1::CampaignState state);

void PrintCampaigns(const std::vector<v1::Campaign>& campaigns,
                    std::ostream& out);
void PrintCampaign(const v1::Campaign& c, std::ostream& out);
void PrintLaw(const v1::GetLawResponse& law, std::ostream& out);
void PrintTrials(const std::vector<v1::Trial>& trials, std::ostream& out);
void PrintOptimal(const v1::OptimalResponse& r, std::ostream& out);

// One line on the campaign's progress: state, budget spent, runs done,
// running and queued, the answer's interval width against the target, and
// an ETA from `flops_per_second` (the spend rate seen so far; 0: unknown):
// the time to the budget's end, or sooner to the target when the width
// shrinks as 1/sqrt(FLOPs) would take it there first.
std::string ProgressLine(const v1::Campaign& c, double flops_per_second);

}  // namespace moesweep::cli

#endif  // MOESWEEP_CLI_CAMPAIGN_PRINT_H_
