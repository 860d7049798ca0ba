// Internal: the robust objective of a family, built from its per-run residual
// functor.
//
// A family supplies `Residual`, constructible from an Observation, with
//   template <typename T> bool operator()(const T* theta, T* residual) const
// giving log L̂(x; θ) − log L. From it this header builds, for Ceres:
//   * HuberSum: Σ w_i·Huber_δ(r_i) as a FirstOrderFunction (line-search
//   screening of many starts);
//   * SqrtHuberResiduals: s_i = √w_i·ψ_δ(r_i) with ψ_δ(r) = r for |r| ≤ δ and
//     sign(r)·√(2δ|r| − δ²) beyond, so ½Σ s_i² is the same objective written as
//     least squares (trust-region polishing with bounds, and the Jacobian for
//     covariances). ψ is C¹: at |r| = δ both its value and slope (δ/ψ = 1)
//     match.
// Both refuse θ outside the family's box bounds (return false), which keeps
// line searches inside.

#ifndef MOESWEEP_FITTER_HUBER_OBJECTIVE_H_
#define MOESWEEP_FITTER_HUBER_OBJECTIVE_H_

#include <cmath>
#include <span>
#include <vector>

#include "ceres/ceres.h"
#include "fitter/family.h"

namespace moesweep::fitter {

inline double ScalarPart(double x) { return x; }
template <typename T, int N>
double ScalarPart(const ceres::Jet<T, N>& x) {
  return x.a;
}

template <typename T>
bool InsideBounds(std::span<const ParamSpec> specs, const T* theta) {
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const double v = ScalarPart(theta[i]);
    if (!(v >= specs[i].lower && v <= specs[i].upper)) return false;
  }
  return true;
}

template <typename Residual>
struct HuberSum {
  std::vector<Residual> runs;
  std::vector<double> weights;
  std::span<const ParamSpec> specs;
  double delta;

  template <typename T>
  bool operator()(const T* theta, T* cost) const {
    if (!InsideBounds(specs, theta)) return false;
    T sum(0.0);
    for (std::size_t i = 0; i < runs.size(); ++i) {
      T r;
      if (!runs[i](theta, &r)) return false;
      const double abs_r = std::abs(ScalarPart(r));
      if (abs_r <= delta) {
        sum += weights[i] * 0.5 * r * r;
      } else {
        sum +=
            weights[i] * delta * ((ScalarPart(r) > 0 ? r : -r) - 0.5 * delta);
      }
    }
    *cost = sum;
    return std::isfinite(ScalarPart(sum));
  }
};

template <typename Residual>
struct SqrtHuberResiduals {
  std::vector<Residual> runs;
  std::vector<double> sqrt_weights;
  std::span<const ParamSpec> specs;
  double delta;

  template <typename T>
  bool operator()(const T* theta, T* out) const {
    using std::sqrt;
    if (!InsideBounds(specs, theta)) return false;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      T r;
      if (!runs[i](theta, &r)) return false;
      const double v = ScalarPart(r);
      T psi = r;
      if (v > delta) psi = sqrt(2.0 * delta * r - delta * delta);
      if (v < -delta) psi = -sqrt(-2.0 * delta * r - delta * delta);
      out[i] = sqrt_weights[i] * psi;
      if (!std::isfinite(ScalarPart(out[i]))) return false;
    }
    return true;
  }
};

// The two Ceres objects for a family with `kNumParams` parameters. The caller
// owns the results.
template <typename Residual, int kNumParams>
ceres::FirstOrderFunction* NewHuberSum(std::span<const ParamSpec> specs,
                                       std::span<const Observation> runs,
                                       double delta) {
  auto* f = new HuberSum<Residual>{{}, {}, specs, delta};
  for (const Observation& run : runs) {
    f->runs.emplace_back(run);
    f->weights.push_back(run.weight);
  }
  return new ceres::AutoDiffFirstOrderFunction<HuberSum<Residual>, kNumParams>(
      f);
}

template <typename Residual, int kNumParams>
ceres::CostFunction* NewSqrtHuberResiduals(std::span<const ParamSpec> specs,
                                           std::span<const Observation> runs,
                                           double delta) {
  auto* f = new SqrtHuberResiduals<Residual>{{}, {}, specs, delta};
  for (const Observation& run : runs) {
    f->runs.emplace_back(run);
    f->sqrt_weights.push_back(std::sqrt(run.weight));
  }
  return new ceres::AutoDiffCostFunction<SqrtHuberResiduals<Residual>,
                                         ceres::DYNAMIC, kNumParams>(
      f, static_cast<int>(runs.size()));
}

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_HUBER_OBJECTIVE_H_
