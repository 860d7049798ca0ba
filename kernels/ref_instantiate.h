// Explicit instantiation of a reference op for float (what the trainer and
// the fast ops are compared with) and double (what finite-difference tests
// run). Internal to kernels/.

#ifndef MOESWEEP_KERNELS_REF_INSTANTIATE_H_
#define MOESWEEP_KERNELS_REF_INSTANTIATE_H_

#define MOESWEEP_REF_INSTANTIATE(op)      \
  template decltype(op<float>) op<float>; \
  template decltype(op<double>) op<double>

#endif  // MOESWEEP_KERNELS_REF_INSTANTIATE_H_
