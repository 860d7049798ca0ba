#include "fitter/sobol.h"

#include <cassert>
#include <cmath>

namespace moesweep::fitter {
namespace {

// Joe and Kuo's new-joe-kuo-6.21201 table: for dimensions 2..8, the degree s
// of the primitive polynomial, its coefficients a, and initial m_1..m_s.
struct Direction {
  int s;
  std::uint32_t a;
  std::uint32_t m[5];
};
constexpr Direction kDirections[kMaxSobolDims - 1] = {
    {1, 0, {1}},
    {2, 1, {1, 3}},
    {3, 1, {1, 3, 1}},
    {3, 2, {1, 1, 1}},
    {4, 1, {1, 1, 3, 3}},
    {4, 4, {1, 3, 5, 13}},
    {5, 2, {1, 1, 5, 5, 17}},
};

constexpr int kBits = 32;

// v[d][k]: direction numbers, scaled to 32 bits.
struct Table {
  std::uint32_t v[kMaxSobolDims][kBits];
  Table() {
    for (int k = 0; k < kBits; ++k) v[0][k] = 1u << (kBits - 1 - k);
    for (int d = 1; d < kMaxSobolDims; ++d) {
      const Direction& dir = kDirections[d - 1];
      const int degree = dir.s;
      for (int k = 0; k < kBits; ++k) {
        if (k < degree) {
          v[d][k] = dir.m[k] << (kBits - 1 - k);
        } else {
          std::uint32_t value = v[d][k - degree] ^ (v[d][k - degree] >> degree);
          for (int j = 1; j < degree; ++j) {
            if ((dir.a >> (degree - 1 - j)) & 1u) value ^= v[d][k - j];
          }
          v[d][k] = value;
        }
      }
    }
  }
};

}  // namespace

std::vector<double> SobolPoint(std::uint32_t index, int dims,
                               const std::vector<double>& shift) {
  assert(dims >= 1 && dims <= kMaxSobolDims);
  static const Table table;
  std::vector<double> point(dims);
  for (int d = 0; d < dims; ++d) {
    std::uint32_t x = 0;
    for (int k = 0; k < kBits && (index >> k); ++k) {
      if ((index >> k) & 1u) x ^= table.v[d][k];
    }
    double u = x / 4294967296.0;
    if (d < static_cast<int>(shift.size())) u = std::fmod(u + shift[d], 1.0);
    point[d] = u;
  }
  return point;
}

}  // namespace moesweep::fitter
