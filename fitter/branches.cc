// Branch candidates and lineage-aware information (branches.h).

#include "fitter/branches.h"

#include <algorithm>
#include <cmath>

#include "Eigen/Dense"

namespace moesweep::fitter {
namespace {

using Matrix = Eigen::MatrixXd;

// Adding information U·diag(c)·Uᵀ to Σ⁻¹ (Woodbury):
// Σ' = Σ − Σ·U·M·Uᵀ·Σ with M = (I + diag(c)·Uᵀ·Σ·U)⁻¹·diag(c).
struct Update {
  Matrix sigma_u;  // Σ·U, p×k
  Matrix m;        // k×k
};

Update MakeUpdate(const std::vector<double>& cov,
                  const std::vector<std::vector<double>>& u,
                  const std::vector<double>& c) {
  const Eigen::Index p = static_cast<Eigen::Index>(u[0].size());
  const Eigen::Index k = static_cast<Eigen::Index>(u.size());
  const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic,
                                       Eigen::RowMajor>>
      sigma(cov.data(), p, p);
  Matrix um(p, k);
  for (Eigen::Index j = 0; j < k; ++j)
    um.col(j) = Eigen::Map<const Eigen::VectorXd>(u[j].data(), p);
  Update out;
  out.sigma_u = sigma * um;
  Matrix diag = Matrix::Zero(k, k);
  for (Eigen::Index j = 0; j < k; ++j) diag(j, j) = c[j];
  const Matrix inner =
      Matrix::Identity(k, k) + diag * (um.transpose() * out.sigma_u);
  out.m = inner.partialPivLu().solve(diag);
  return out;
}

// U and diag(c) of the information a run adds to a lineage of m runs with
// scaled-Jacobian sum s, correlation ρ: I_m = [Σ J̃J̃ᵀ − a_m·s·sᵀ]/(1 − ρ),
// a_m = ρ/(1 + (m − 1)ρ), so ΔI = [J̃J̃ᵀ − a_{m+1}(s + J̃)(s + J̃)ᵀ +
// a_m·s·sᵀ]/(1 − ρ).
void LineageTerms(const std::vector<double>& scaled,
                  const LineageInformation& lineage, double rho,
                  std::vector<std::vector<double>>& u, std::vector<double>& c) {
  if (lineage.runs == 0 || rho <= 0) {
    u = {scaled};
    c = {1.0};
    return;
  }
  const double m = lineage.runs;
  const double a_m = rho / (1 + (m - 1) * rho);
  const double a_next = rho / (1 + m * rho);
  std::vector<double> both = lineage.sum;
  for (std::size_t i = 0; i < both.size(); ++i) both[i] += scaled[i];
  u = {scaled, both, lineage.sum};
  c = {1 / (1 - rho), -a_next / (1 - rho), a_m / (1 - rho)};
}

}  // namespace

double LineageReduction(const std::vector<double>& cov,
                        const std::vector<double>& g,
                        const std::vector<double>& scaled,
                        const LineageInformation& lineage, double rho) {
  std::vector<std::vector<double>> u;
  std::vector<double> c;
  LineageTerms(scaled, lineage, rho, u, c);
  const Update up = MakeUpdate(cov, u, c);
  const Eigen::Map<const Eigen::VectorXd> gv(
      g.data(), static_cast<Eigen::Index>(g.size()));
  const Eigen::VectorXd ug = up.sigma_u.transpose() * gv;  // Uᵀ·Σ·g
  return ug.dot(up.m * ug);
}

void ObserveInLineage(std::vector<double>& cov,
                      const std::vector<double>& scaled,
                      LineageInformation& lineage, double rho) {
  std::vector<std::vector<double>> u;
  std::vector<double> c;
  LineageTerms(scaled, lineage, rho, u, c);
  const Update up = MakeUpdate(cov, u, c);
  const Matrix drop = up.sigma_u * up.m * up.sigma_u.transpose();
  const std::size_t p = scaled.size();
  for (std::size_t a = 0; a < p; ++a)
    for (std::size_t b = 0; b < p; ++b)
      cov[a * p + b] -= 0.5 * (drop(a, b) + drop(b, a));
  if (lineage.sum.empty()) lineage.sum.assign(p, 0.0);
  for (std::size_t i = 0; i < p; ++i) lineage.sum[i] += scaled[i];
  ++lineage.runs;
}

std::vector<Candidate> BranchCandidates(const Law& law,
                                        const DesignSpace& space,
                                        const StableRun& run, int parent,
                                        double cooldown) {
  std::vector<Candidate> out;
  const FeatureRange* tokens = nullptr;
  for (const FeatureRange& a : space.axes) {
    if (a.feature == Feature::kTokens) tokens = &a;
  }
  if (tokens == nullptr || !tokens->values.empty() || !(run.at.tokens > 0) ||
      !(cooldown > 0 && cooldown < 1)) {
    return out;
  }
  double max_tokens = tokens->max;
  if (space.max_run_tokens > 0)
    max_tokens = std::min(max_tokens, space.max_run_tokens);
  auto add = [&](double d, double resume) {
    if (!(d >= tokens->min && d <= max_tokens)) return;
    for (double b : run.branch_tokens) {
      if (std::abs(b - d) <= 1e-9 * d) return;  // a run it has
    }
    Candidate c;
    c.at = run.at;
    c.at.tokens = d;
    c.at.unique_tokens = run.at.unique_tokens * d / run.at.tokens;
    c.at.lineage = run.lineage;
    StatusOr<double> flops = RunFlops(law, c.at);
    if (!flops.ok() || !(*flops > 0)) return;
    c.flops = *flops;
    if (space.max_run_flops > 0 && c.flops > space.max_run_flops) return;
    c.added_flops = c.flops * (d - resume) / d;
    c.parent = parent;
    c.resume_tokens = resume;
    out.push_back(std::move(c));
  };
  for (double t : run.checkpoints) {
    if (t <= run.stable_tokens) add(t / (1 - cooldown), t);
  }
  const double end = run.stable_tokens / (1 - cooldown);
  for (double factor : {std::sqrt(2.0), 2.0, 2 * std::sqrt(2.0), 4.0}) {
    add(end * factor, run.stable_tokens);
  }
  return out;
}

std::vector<double> StableCheckpoints(double from, double to) {
  std::vector<double> out;
  for (double t = to; t > from && out.size() < 4; t /= 2) out.push_back(t);
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace moesweep::fitter
