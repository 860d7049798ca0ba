// The fitter's public API (STYLE.md H1: other folders include only this).
//
// core.h         run features, laws, the robust multi-start fit, presets
// arch.h         parameter, FLOP and byte counts of MoE architectures
// uncertainty.h  covariance, prediction and delta-method intervals, bootstrap
// optimal.h      the compute-optimal solver under caps
// incremental.h  a law kept current as runs arrive
// proposer.h     active learning: which runs to train next
// oracle.h       a simulated ground truth that "trains" runs
// campaign_sim.h a whole campaign against the oracle
//
// The fitter builds with Ceres and Eigen alone: no gRPC, no RocksDB.

#ifndef MOESWEEP_FITTER_FITTER_H_
#define MOESWEEP_FITTER_FITTER_H_

#include "fitter/arch.h"          // IWYU pragma: export
#include "fitter/campaign_sim.h"  // IWYU pragma: export
#include "fitter/core.h"          // IWYU pragma: export
#include "fitter/holistic.h"      // IWYU pragma: export
#include "fitter/incremental.h"   // IWYU pragma: export
#include "fitter/optimal.h"       // IWYU pragma: export
#include "fitter/oracle.h"        // IWYU pragma: export
#include "fitter/proposer.h"      // IWYU pragma: export
#include "fitter/uncertainty.h"   // IWYU pragma: export

#endif  // MOESWEEP_FITTER_FITTER_H_
