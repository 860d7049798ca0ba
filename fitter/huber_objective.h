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

// SqrtHuberResiduals for a Residual that also has a hand-written gradient,
//   bool Evaluate(const double* theta, double* residual, double* gradient)
// (gradient: kNumParams values, may be null). Families whose warm refits must
// take milliseconds over thousands of runs use it: a Jet per parameter costs
// several times the plain arithmetic. Tests compare it with autodiff.
template <typename Residual, int kNumParams>
class AnalyticSqrtHuberResiduals final : public ceres::CostFunction {
 public:
  AnalyticSqrtHuberResiduals(std::span<const ParamSpec> specs,
                             std::span<const Observation> runs, double delta)
      : specs_(specs), delta_(delta) {
    for (const Observation& run : runs) {
      runs_.emplace_back(run);
      sqrt_weights_.push_back(std::sqrt(run.weight));
    }
    set_num_residuals(static_cast<int>(runs_.size()));
    mutable_parameter_block_sizes()->push_back(kNumParams);
  }

  bool Evaluate(double const* const* parameters, double* residuals,
                double** jacobians) const override {
    const double* theta = parameters[0];
    if (!InsideBounds(specs_, theta)) return false;
    double* jacobian = jacobians ? jacobians[0] : nullptr;
    double gradient[kNumParams];
    for (std::size_t i = 0; i < runs_.size(); ++i) {
      double r = 0;
      if (!runs_[i].Evaluate(theta, &r, jacobian ? gradient : nullptr)) {
        return false;
      }
      // ψ_δ and its slope: 1 inside δ, δ/|ψ| beyond.
      double psi = r, slope = 1;
      if (r > delta_ || r < -delta_) {
        psi = std::sqrt(2 * delta_ * std::abs(r) - delta_ * delta_);
        slope = delta_ / psi;
        if (r < 0) psi = -psi;
      }
      residuals[i] = sqrt_weights_[i] * psi;
      if (!std::isfinite(residuals[i])) return false;
      if (jacobian) {
        for (int k = 0; k < kNumParams; ++k) {
          jacobian[i * kNumParams + k] = sqrt_weights_[i] * slope * gradient[k];
        }
      }
    }
    return true;
  }

 private:
  std::span<const ParamSpec> specs_;
  double delta_;
  std::vector<Residual> runs_;
  std::vector<double> sqrt_weights_;
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

// The parts of a Family every built-in family shares, from its Residual
// functor and its parameter table: prediction and both Ceres objectives.
// A family derives from this and adds name(), params(), features() and
// StartGrid().
template <typename Residual, int kNumParams>
class ResidualFamily : public Family {
 public:
  explicit ResidualFamily(std::span<const ParamSpec> specs) : specs_(specs) {}

  std::span<const ParamSpec> params() const override { return specs_; }

  double LogPredict(const double* theta,
                    const Observation& run) const override {
    Observation unit_loss = run;
    unit_loss.loss = 1;  // so the residual is log L̂ − log 1
    double log_loss = 0;
    const Residual residual(unit_loss);
    residual(theta, &log_loss);
    return log_loss;
  }

  ceres::FirstOrderFunction* NewHuberSum(std::span<const Observation> runs,
                                         double delta) const override {
    return fitter::NewHuberSum<Residual, kNumParams>(specs_, runs, delta);
  }

  ceres::CostFunction* NewSqrtHuberResiduals(std::span<const Observation> runs,
                                             double delta) const override {
    return fitter::NewSqrtHuberResiduals<Residual, kNumParams>(specs_, runs,
                                                               delta);
  }

 private:
  std::span<const ParamSpec> specs_;
};

}  // namespace moesweep::fitter

#endif  // MOESWEEP_FITTER_HUBER_OBJECTIVE_H_
