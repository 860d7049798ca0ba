// exp(x) for the fast ops, written so the compiler vectorises loops that call
// it (std::exp is a scalar libm call): Cody-Waite range reduction
// x = n ln2 + r, a degree-6 polynomial for exp(r) (the Cephes expf
// coefficients), and 2^n assembled in the exponent bits. Relative error
// below 1e-7 on [-87, 88]; inputs are clamped to that range, so far tails
// give exp(-87) ~ 1.6e-38 rather than 0 (harmless in a softmax) and no
// input gives inf. Internal to kernels/.

#ifndef MOESWEEP_KERNELS_FAST_EXP_H_
#define MOESWEEP_KERNELS_FAST_EXP_H_

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace moesweep::kernels {

inline float FastExp(float x_in) {
  float x = std::min(std::max(x_in, -87.0f), 88.0f);
  // Round x / ln2 to the nearest integer by the 1.5 * 2^23 trick (no libm).
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

}  // namespace moesweep::kernels

#endif  // MOESWEEP_KERNELS_FAST_EXP_H_
