// Rotary position embedding (Su et al. 2021), rotate-half form: within a head
// of width hs, element i < hs/2 pairs with i + hs/2 and the pair turns by
// angle t * theta^(-2i/hs). Shared by the reference and the fast attention so
// both use the very same angles. Internal to kernels/.

#ifndef MOESWEEP_KERNELS_ROPE_H_
#define MOESWEEP_KERNELS_ROPE_H_

#include <cmath>

namespace moesweep::kernels {

// cos and sin of the angle of pair i at position t, computed in double.
inline void RopeAngle(int t, int i, int hs, float theta, double* cos_out,
                      double* sin_out) {
  double angle = t * std::pow(double(theta), -2.0 * i / hs);
  *cos_out = std::cos(angle);
  *sin_out = std::sin(angle);
}

// Rotates x[0..hs) in place; inverse turns the other way (the transpose, used
// by the backward pass).
template <typename Float>
void RopeRotate(Float* x, int t, int hs, float theta, bool inverse) {
  int h2 = hs / 2;
  for (int i = 0; i < h2; ++i) {
    double c, s;
    RopeAngle(t, i, hs, theta, &c, &s);
    if (inverse) s = -s;
    Float a = x[i], b = x[i + h2];
    x[i] = a * Float(c) - b * Float(s);
    x[i + h2] = a * Float(s) + b * Float(c);
  }
}

}  // namespace moesweep::kernels

#endif  // MOESWEEP_KERNELS_ROPE_H_
