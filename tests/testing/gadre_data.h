// Reader for the Gadre et al. 2024 over-training runs
// (../shared/data/gadre-overtraining, MIT). Used by the fitter's real-data
// tests and by bench/fit. The data lives beside the project, never in it.

#ifndef MOESWEEP_TESTS_TESTING_GADRE_DATA_H_
#define MOESWEEP_TESTS_TESTING_GADRE_DATA_H_

#include <string>
#include <vector>

#include "common/status.h"

namespace moesweep::testing {

struct GadreRun {
  std::string name;   // e.g. "rpj-open_lm_1b-32.0"
  std::string model;  // e.g. "open_lm_1b"
  double params = 0;  // N, embeddings included
  double tokens = 0;  // D
  double loss = 0;    // loss on the requested validation set
};

// The folder holding models/*.json, from MOESWEEP_SHARED_DATA_DIR set at build
// time.
std::string GadreDir();

// Every run trained on `dataset` ("rpj", "c4_original", "rw_original") with its
// loss on `val_set` (e.g. "c4_val"), sorted by name. NOT_FOUND when the folder
// is absent.
StatusOr<std::vector<GadreRun>> LoadGadreRuns(const std::string& dataset,
                                              const std::string& val_set);

}  // namespace moesweep::testing

#endif  // MOESWEEP_TESTS_TESTING_GADRE_DATA_H_
