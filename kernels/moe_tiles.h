// The row-tile plan of the grouped expert GEMMs: expert e owns rows
// [offsets[e], offsets[e+1]) of the routed matrix, and each of its row tiles
// of `tile` rows is one thread block. The offsets live on the device (the
// router wrote them), so the host never learns the counts: it launches
// RowTileBound blocks, a bound that holds for every split of M rows over E
// experts, and each block finds its (expert, rows) with LocateRowTile, or
// learns it is surplus and returns. Nothing in a step copies to the host.
//
// Plain arithmetic, compiled for host and device alike, so CPU tests check
// the very code the GPU runs. Internal to kernels/.

#ifndef MOESWEEP_KERNELS_MOE_TILES_H_
#define MOESWEEP_KERNELS_MOE_TILES_H_

#include <cstdint>

#if defined(__CUDACC__)
#define MOESWEEP_HOST_DEVICE __host__ __device__
#else
#define MOESWEEP_HOST_DEVICE
#endif

namespace moesweep::kernels {

// The most row tiles M rows can need over E experts:
// sum_e ceil(c_e / tile) <= (M + E (tile - 1)) / tile, since each ceiling
// adds at most tile - 1 rows of padding, and the left side is an integer.
// REQUIRES: M >= 0, E >= 1, tile >= 1.
MOESWEEP_HOST_DEVICE inline int RowTileBound(int M, int E, int tile) {
  return int((int64_t(M) + int64_t(E) * (tile - 1)) / tile);
}

// Row tiles are numbered expert by expert: expert 0's tiles first. Sets
// *expert and rows [*row_begin, *row_end) (at most `tile` rows, all the
// expert's) of tile `index` and returns true; false when index is past the
// last tile. O(E) per call, from offsets alone.
MOESWEEP_HOST_DEVICE inline bool LocateRowTile(const int32_t* offsets, int E,
                                               int tile, int index, int* expert,
                                               int* row_begin, int* row_end) {
  int first = 0;  // the index of expert e's first tile
  for (int e = 0; e < E; ++e) {
    int rows = offsets[e + 1] - offsets[e];
    int tiles = (rows + tile - 1) / tile;
    if (index < first + tiles) {
      *expert = e;
      *row_begin = offsets[e] + (index - first) * tile;
      int end = *row_begin + tile;
      *row_end = end < offsets[e + 1] ? end : offsets[e + 1];
      return true;
    }
    first += tiles;
  }
  return false;
}

}  // namespace moesweep::kernels

#endif  // MOESWEEP_KERNELS_MOE_TILES_H_
