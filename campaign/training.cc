// Learning-rate rules of the training settings.

#include <cassert>
#include <cmath>

#include "campaign/campaign.h"

namespace moesweep::campaign {

double LearningRate(const TrainingSpec& training, double active_non_embed,
                    double num_experts) {
  assert(active_non_embed >= 1 && num_experts >= 1);
  switch (training.lr_rule) {
    case LrRule::kConstant:
      return training.lr_constant;
    case LrRule::kLudziejewski:
      // Ludziejewski et al. 2025, finding 4: more experts call for a lower
      // rate (LAWS.md §4e).
      return std::exp(8.39 - 0.81 * std::log(active_non_embed) -
                      0.25 * std::log(num_experts));
  }
  return training.lr_constant;
}

}  // namespace moesweep::campaign
