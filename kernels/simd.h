// Hot elementwise loops are also built for AVX2 and AVX-512 (x86-64-v3/v4)
// and the best version the CPU runs is picked at load time (GCC function
// multiversioning); elsewhere they build once. No vectorised loop reorders a
// sum, so results repeat bit for bit on a machine; across machines the
// versions may differ in the last bit where they fuse multiply-adds.
// Internal to kernels/.

#ifndef MOESWEEP_KERNELS_SIMD_H_
#define MOESWEEP_KERNELS_SIMD_H_

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MOESWEEP_SIMD_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MOESWEEP_SIMD_CLONES
#endif

#endif  // MOESWEEP_KERNELS_SIMD_H_
