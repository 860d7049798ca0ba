// Quasi-demeaning within lineages (lineage.h).

#include "fitter/lineage.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

namespace moesweep::fitter {
namespace {

// Large enough that ψ_δ(r) = r for every residual: the raw log residuals.
constexpr double kNoHuber = 1e12;

// The runs of each lineage, by index; a run of lineage 0 is a lineage of its
// own. Every run is in one.
std::vector<std::vector<std::size_t>> Groups(
    std::span<const Observation> runs) {
  std::map<std::uint64_t, std::vector<std::size_t>> by_lineage;
  std::vector<std::vector<std::size_t>> out;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].lineage == 0) {
      out.push_back({i});
    } else {
      by_lineage[runs[i].lineage].push_back(i);
    }
  }
  for (auto& [lineage, members] : by_lineage) out.push_back(std::move(members));
  return out;
}

void WhitenGroups(const std::vector<std::vector<std::size_t>>& groups,
                  double rho, double* values, std::size_t cols) {
  std::vector<double> mean(cols);
  for (const std::vector<std::size_t>& g : groups) {
    const double m = static_cast<double>(g.size());
    const double lambda = 1 - std::sqrt((1 - rho) / (1 + (m - 1) * rho));
    std::fill(mean.begin(), mean.end(), 0.0);
    for (std::size_t i : g)
      for (std::size_t c = 0; c < cols; ++c)
        mean[c] += values[i * cols + c] / m;
    for (std::size_t i : g)
      for (std::size_t c = 0; c < cols; ++c)
        values[i * cols + c] -= lambda * mean[c];
  }
}

class WhitenedSqrtHuber final : public ceres::CostFunction {
 public:
  WhitenedSqrtHuber(const Family& family, std::span<const Observation> runs,
                    double delta, double rho)
      : raw_(family.NewSqrtHuberResiduals(runs, kNoHuber)),
        groups_(Groups(runs)),
        params_(static_cast<std::size_t>(family.params().size())),
        delta_(delta),
        rho_(rho) {
    set_num_residuals(static_cast<int>(runs.size()));
    mutable_parameter_block_sizes()->push_back(static_cast<int>(params_));
  }

  bool Evaluate(double const* const* parameters, double* residuals,
                double** jacobians) const override {
    const std::size_t n = static_cast<std::size_t>(num_residuals());
    std::vector<double> jac;
    double* raw_jacobians[] = {nullptr};
    if (jacobians && jacobians[0]) {
      jac.resize(n * params_);
      raw_jacobians[0] = jac.data();
    }
    if (!raw_->Evaluate(parameters, residuals,
                        raw_jacobians[0] ? raw_jacobians : nullptr)) {
      return false;
    }
    WhitenGroups(groups_, rho_, residuals, 1);
    if (!jac.empty()) WhitenGroups(groups_, rho_, jac.data(), params_);
    for (std::size_t i = 0; i < n; ++i) {
      const double r = residuals[i];
      double slope = 1;
      if (std::abs(r) > delta_) {
        const double psi =
            std::sqrt(2 * delta_ * std::abs(r) - delta_ * delta_);
        residuals[i] = r > 0 ? psi : -psi;
        slope = delta_ / psi;
      }
      if (!std::isfinite(residuals[i])) return false;
      if (!jac.empty()) {
        for (std::size_t c = 0; c < params_; ++c)
          jacobians[0][i * params_ + c] = slope * jac[i * params_ + c];
      }
    }
    return true;
  }

 private:
  std::unique_ptr<ceres::CostFunction> raw_;
  std::vector<std::vector<std::size_t>> groups_;
  std::size_t params_;
  double delta_, rho_;
};

}  // namespace

bool SharesLineages(std::span<const Observation> runs) {
  // Called on every fit: runs of their own (lineage 0) cost no grouping.
  std::vector<std::uint64_t> lineages;
  for (const Observation& run : runs) {
    if (run.lineage != 0) lineages.push_back(run.lineage);
  }
  std::sort(lineages.begin(), lineages.end());
  return std::adjacent_find(lineages.begin(), lineages.end()) != lineages.end();
}

void Whiten(std::span<const Observation> runs, double rho, double* values,
            std::size_t cols) {
  if (rho > 0) WhitenGroups(Groups(runs), rho, values, cols);
}

ceres::CostFunction* NewWhitenedSqrtHuberResiduals(
    const Family& family, std::span<const Observation> runs, double delta,
    double rho) {
  return new WhitenedSqrtHuber(family, runs, delta, rho);
}

}  // namespace moesweep::fitter
