// SimulateRuns(): synthetic runs drawn from a known law, for tests, demos and
// planning.

#include <cmath>
#include <random>

#include "fitter/family.h"
#include "fitter/fitter.h"

namespace moesweep::fitter {

Status SimulationOptions::Validate() const {
  if (!(min_params > 0) || !(max_params >= min_params)) {
    return InvalidArgumentError("need 0 < min_params <= max_params");
  }
  if (param_points < 1)
    return InvalidArgumentError("param_points must be >= 1");
  if (tokens_per_param.empty())
    return InvalidArgumentError("tokens_per_param is empty");
  for (double m : tokens_per_param) {
    if (!(m > 0))
      return InvalidArgumentError("tokens_per_param values must be > 0");
  }
  if (!(noise_sigma >= 0))
    return InvalidArgumentError("noise_sigma must be >= 0");
  if (!(outlier_fraction >= 0 && outlier_fraction <= 1)) {
    return InvalidArgumentError("outlier_fraction must be in [0, 1]");
  }
  return OkStatus();
}

StatusOr<std::vector<Observation>> SimulateLosses(
    const Law& truth, std::vector<Observation> design, double noise_sigma,
    double outlier_fraction, std::uint64_t seed) {
  if (!(noise_sigma >= 0))
    return InvalidArgumentError("noise_sigma must be >= 0");
  if (!(outlier_fraction >= 0 && outlier_fraction <= 1)) {
    return InvalidArgumentError("outlier_fraction must be in [0, 1]");
  }
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (Observation& run : design) {
    MOESWEEP_ASSIGN_OR_RETURN(const double clean, PredictLoss(truth, run));
    double log_loss = std::log(clean) + noise_sigma * normal(rng);
    // Always draw, so the noise of later runs does not depend on the outlier
    // fraction.
    const double u = uniform(rng), shift = 0.1 + 0.3 * uniform(rng),
                 sign = uniform(rng);
    if (u < outlier_fraction) log_loss += sign < 0.5 ? -shift : shift;
    run.loss = std::exp(log_loss);
  }
  return design;
}

StatusOr<std::vector<Observation>> SimulateRuns(
    const Law& truth, const SimulationOptions& options) {
  MOESWEEP_RETURN_IF_ERROR(options.Validate());
  std::vector<Observation> design;
  const double log_lo = std::log(options.min_params);
  const double log_hi = std::log(options.max_params);
  for (int i = 0; i < options.param_points; ++i) {
    const double t = options.param_points == 1
                         ? 0.0
                         : double(i) / (options.param_points - 1);
    const double n = std::exp(log_lo + t * (log_hi - log_lo));
    for (double m : options.tokens_per_param) {
      design.push_back({.params = std::round(n), .tokens = std::round(m * n)});
    }
  }
  return SimulateLosses(truth, std::move(design), options.noise_sigma,
                        options.outlier_fraction, options.seed);
}

}  // namespace moesweep::fitter
