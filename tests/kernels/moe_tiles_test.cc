#include "kernels/moe_tiles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "tests/kernels/kernel_testing.h"

namespace moesweep::kernels {
namespace {

// Every row of every expert lies in exactly one tile of that expert, tiles
// are numbered expert by expert, and past the last one LocateRowTile says so.
void ExpectPlanCoversEachRowOnce(const std::vector<int32_t>& offsets,
                                 int tile) {
  const int E = int(offsets.size()) - 1, M = offsets[E];
  std::vector<int> seen(M, 0);
  int bound = RowTileBound(M, E, tile);
  int tiles = 0, last_expert = 0;
  for (int index = 0; index < bound + 3; ++index) {
    int e = -1, begin = -1, end = -1;
    if (!LocateRowTile(offsets.data(), E, tile, index, &e, &begin, &end)) {
      continue;
    }
    ASSERT_EQ(index, tiles) << "tile indices have a gap";
    ++tiles;
    ASSERT_GE(e, last_expert) << "tiles go expert by expert";
    last_expert = e;
    ASSERT_GE(begin, offsets[e]);
    ASSERT_LE(end, offsets[e + 1]);
    ASSERT_LT(begin, end) << "a tile with no rows";
    ASSERT_LE(end - begin, tile);
    for (int r = begin; r < end; ++r) ++seen[r];
  }
  EXPECT_LE(tiles, bound) << "RowTileBound launches too few blocks";
  for (int r = 0; r < M; ++r) ASSERT_EQ(seen[r], 1) << "row " << r;
}

TEST(MoeTilesTest, UnevenAndEmptyExpertsAreEachCoveredOnce) {
  // Empty experts first, last and in the middle; counts no multiple of the
  // tile; a single-row expert.
  ExpectPlanCoversEachRowOnce({0, 0, 130, 131, 131, 300, 300}, 64);
  ExpectPlanCoversEachRowOnce({0, 64, 128}, 64);
  ExpectPlanCoversEachRowOnce({0, 0, 0}, 16);
  ExpectPlanCoversEachRowOnce({0, 1}, 128);
}

TEST(MoeTilesTest, RandomSplitsStayWithinTheBound) {
  std::mt19937 rng(testing::KernelSeed());
  for (int trial = 0; trial < 500; ++trial) {
    int E = 1 + int(rng() % 64), tile = 1 << (rng() % 8);
    int M = int(rng() % 5000);
    // A random split of M rows over E experts, often very uneven.
    std::vector<int32_t> cuts(E - 1);
    for (int32_t& c : cuts) c = M == 0 ? 0 : int32_t(rng() % (M + 1));
    std::sort(cuts.begin(), cuts.end());
    std::vector<int32_t> offsets = {0};
    for (int32_t c : cuts) offsets.push_back(c);
    offsets.push_back(M);
    ExpectPlanCoversEachRowOnce(offsets, tile);
    if (HasFatalFailure()) return;
  }
}

TEST(MoeTilesTest, TheBoundIsReachedWhenEveryExpertHasOneRowPastATile) {
  // Each of E experts with tile + 1 rows needs 2 tiles: 2E in all, which is
  // exactly (M + E (tile - 1)) / tile.
  const int E = 8, tile = 64;
  std::vector<int32_t> offsets = {0};
  for (int e = 0; e < E; ++e) offsets.push_back(offsets.back() + tile + 1);
  EXPECT_EQ(RowTileBound(offsets[E], E, tile), 2 * E);
  int e = -1, b = -1, end = -1;
  EXPECT_TRUE(LocateRowTile(offsets.data(), E, tile, 2 * E - 1, &e, &b, &end));
  EXPECT_EQ(e, E - 1);
  EXPECT_EQ(end - b, 1);
  EXPECT_FALSE(LocateRowTile(offsets.data(), E, tile, 2 * E, &e, &b, &end));
}

}  // namespace
}  // namespace moesweep::kernels
