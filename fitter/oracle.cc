#include "fitter/oracle.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "fitter/fitter.h"

namespace moesweep::fitter {

Status OracleOptions::Validate() const {
  if (!(noise_sigma >= 0))
    return InvalidArgumentError("noise_sigma must be >= 0");
  if (!(reference_flops > 0))
    return InvalidArgumentError("reference_flops must be > 0");
  if (!(divergence_probability >= 0 && divergence_probability < 1)) {
    return InvalidArgumentError("divergence_probability must be in [0, 1)");
  }
  if (!(flops_per_second > 0))
    return InvalidArgumentError("flops_per_second must be > 0");
  if (curve_points < 1)
    return InvalidArgumentError("curve_points must be >= 1");
  if (!(cooldown_drop >= 0 && cooldown_drop < 1))
    return InvalidArgumentError("cooldown_drop must be in [0, 1)");
  if (!(lineage_correlation >= 0 && lineage_correlation <= 1))
    return InvalidArgumentError("lineage_correlation must be in [0, 1]");
  return OkStatus();
}

Oracle::Oracle(Law truth, const OracleOptions& options, std::uint64_t seed)
    : truth_(std::move(truth)), options_(options), seed_(seed) {}

StatusOr<SimulatedRun> Oracle::Train(const Observation& at, double flops,
                                     std::uint64_t run_index) const {
  MOESWEEP_RETURN_IF_ERROR(options_.Validate());
  if (!(flops > 0)) return InvalidArgumentError("a run must cost > 0 FLOPs");
  std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + run_index);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  const double sigma =
      options_.noise_sigma *
      std::pow(std::max(options_.reference_flops / flops, 1.0), 0.15);
  // A run's offset from the law persists along its curve (seed, data order);
  // each eval adds a little of its own.
  const double run_offset = sigma * normal(rng);
  const bool diverges = uniform(rng) < options_.divergence_probability;
  const double diverge_at = 0.2 + 0.7 * uniform(rng);

  SimulatedRun run;
  for (int i = 1; i <= options_.curve_points; ++i) {
    const double fraction = double(i) / options_.curve_points;
    if (diverges && fraction > diverge_at) {
      run.diverged = true;
      run.curve.push_back({fraction * at.tokens, std::nan("")});
      break;
    }
    Observation partial = at;
    partial.tokens = fraction * at.tokens;
    MOESWEEP_ASSIGN_OR_RETURN(const double clean, PredictLoss(truth_, partial));
    const double eval_noise =
        i == options_.curve_points ? 0 : 0.2 * sigma * normal(rng);
    run.curve.push_back(
        {partial.tokens, clean * std::exp(run_offset + eval_noise)});
  }
  run.flops_spent = run.diverged ? diverge_at * flops : flops;
  if (!run.diverged) run.final_loss = run.curve.back().loss;
  run.gpu_seconds = run.flops_spent / options_.flops_per_second;
  return run;
}

StatusOr<SimulatedRun> Oracle::TrainWsd(const Observation& at, double flops,
                                        const WsdRun& wsd,
                                        std::uint64_t run_index) const {
  MOESWEEP_RETURN_IF_ERROR(options_.Validate());
  if (!(flops > 0)) return InvalidArgumentError("a run must cost > 0 FLOPs");
  if (!(wsd.cooldown_fraction > 0 && wsd.cooldown_fraction < 1)) {
    return InvalidArgumentError("cooldown_fraction must be in (0, 1)");
  }
  const double cooldown_start = (1 - wsd.cooldown_fraction) * at.tokens;
  if (!(wsd.resume_tokens >= 0 && wsd.resume_tokens < at.tokens)) {
    return InvalidArgumentError("resume_tokens must be in [0, tokens)");
  }
  // The lineage's offset: its own generator, shared by its runs.
  std::mt19937_64 lineage_rng(seed_ * 0xBF58476D1CE4E5B9ull + wsd.lineage);
  std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + run_index);
  // Distributions of their own: one shared would hand the run's generator
  // a value cached from the lineage's.
  std::normal_distribution<double> lineage_normal(0, 1), normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  const double sigma =
      options_.noise_sigma *
      std::pow(std::max(options_.reference_flops / flops, 1.0), 0.15);
  const double lineage_offset = sigma *
                                std::sqrt(options_.lineage_correlation) *
                                lineage_normal(lineage_rng);
  const double cooldown_offset =
      sigma * std::sqrt(1 - options_.lineage_correlation) * normal(rng);
  const bool diverges = uniform(rng) < options_.divergence_probability;
  const double diverge_at = 0.2 + 0.7 * uniform(rng);

  SimulatedRun run;
  const double span = at.tokens - wsd.resume_tokens;
  for (int i = 1; i <= options_.curve_points; ++i) {
    const double fraction = double(i) / options_.curve_points;
    Observation partial = at;
    partial.tokens = wsd.resume_tokens + fraction * span;
    if (diverges && fraction > diverge_at) {
      run.diverged = true;
      run.curve.push_back({partial.tokens, std::nan("")});
      break;
    }
    MOESWEEP_ASSIGN_OR_RETURN(const double clean, PredictLoss(truth_, partial));
    // The share of the cooldown's drop reached: the annealing area of a
    // linear decay grows as the square of the cooldown's progress.
    const double progress = std::clamp(
        (partial.tokens - cooldown_start) / (at.tokens - cooldown_start), 0.0,
        1.0);
    const double lift = options_.cooldown_drop * (1 - progress * progress);
    const bool last = i == options_.curve_points;
    const double eval_noise =
        last ? cooldown_offset : 0.2 * sigma * normal(rng);
    run.curve.push_back(
        {partial.tokens, clean * std::exp(lineage_offset + lift + eval_noise)});
  }
  const double added = flops * span / at.tokens;
  run.flops_spent = run.diverged ? diverge_at * added : added;
  if (!run.diverged) run.final_loss = run.curve.back().loss;
  run.gpu_seconds = run.flops_spent / options_.flops_per_second;
  return run;
}

}  // namespace moesweep::fitter
