// Internal: the Sobol low-discrepancy sequence (Joe and Kuo 2008 direction
// numbers, first 8 dimensions), for space-filling designs and candidates.

#ifndef MOESWEEP_FITTER_SOBOL_H_
#define MOESWEEP_FITTER_SOBOL_H_

#include <cstdint>
#include <vector>

namespace moesweep::fitter {

inline constexpr int kMaxSobolDims = 8;

// Point `index` (0, 1, 2, ...) of the `dims`-dimensional sequence in [0,
// 1)^dims, each coordinate shifted by `shift[d]` modulo 1 (a random shift keeps
// the points evenly spread while making seeds differ). REQUIRES: dims <= 8.
std::vector<double> SobolPoint(std::uint32_t index, int dims,
                               const std::vector<double>& shift);

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_SOBOL_H_
