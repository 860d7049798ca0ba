#include "fitter/incremental.h"

#include <algorithm>
#include <cmath>

#include "fitter/family.h"
#include "fitter/fitter.h"
#include "fitter/lineage.h"

namespace moesweep::fitter {
namespace {

// A move of the lineages' ρ of at most this keeps the law as fitted (each
// larger one costs a warm refit under the new ρ).
constexpr double kLineageRhoStep = 0.02;

}  // namespace

Status IncrementalOptions::Validate() const {
  if (!(huber_delta > 0))
    return InvalidArgumentError("huber_delta must be > 0");
  if (num_threads < 0) return InvalidArgumentError("num_threads must be >= 0");
  if (!(full_refit_growth >= 0)) {
    return InvalidArgumentError("full_refit_growth must be >= 0");
  }
  if (max_screen_runs < 0)
    return InvalidArgumentError("max_screen_runs must be >= 0");
  if (full_refit_every < 1)
    return InvalidArgumentError("full_refit_every must be >= 1");
  if (!(surprise_sigmas > 0))
    return InvalidArgumentError("surprise_sigmas must be > 0");
  return OkStatus();
}

StatusOr<std::unique_ptr<IncrementalFitter>> IncrementalFitter::Create(
    const std::string& family, const IncrementalOptions& options) {
  MOESWEEP_RETURN_IF_ERROR(options.Validate());
  MOESWEEP_ASSIGN_OR_RETURN(const Family* f, LookupFamily(family));
  Law shape;
  shape.family = family;
  return std::unique_ptr<IncrementalFitter>(new IncrementalFitter(
      shape, options, static_cast<int>(f->params().size())));
}

StatusOr<std::unique_ptr<IncrementalFitter>> IncrementalFitter::Create(
    const ExprSpec& expr, const IncrementalOptions& options) {
  MOESWEEP_RETURN_IF_ERROR(options.Validate());
  MOESWEEP_ASSIGN_OR_RETURN(std::unique_ptr<const Family> f,
                            NewExprFamily(expr));
  Law shape;
  shape.family = "expr";
  shape.expr = expr;
  return std::unique_ptr<IncrementalFitter>(new IncrementalFitter(
      shape, options, static_cast<int>(f->params().size())));
}

IncrementalFitter::IncrementalFitter(Law shape,
                                     const IncrementalOptions& options,
                                     int num_params)
    : shape_(std::move(shape)), options_(options), num_params_(num_params) {}

IncrementalFitter::~IncrementalFitter() {
  WaitForRefits();
  if (refit_thread_.joinable()) refit_thread_.join();
}

StatusOr<FitResult> IncrementalFitter::FitRuns(
    const std::vector<Observation>& runs, const std::vector<double>* warm,
    const std::vector<double>* also, double lineage_correlation) const {
  FitOptions fit;
  fit.huber_delta = options_.huber_delta;
  fit.lineage_correlation = lineage_correlation;
  fit.num_threads = warm ? 1 : options_.num_threads;
  if (warm) {
    fit.use_grid = false;
    fit.extra_starts = {*warm};
  } else {
    fit.max_grid_starts = options_.max_grid_starts;
    fit.max_screen_runs = options_.max_screen_runs;
    if (also) fit.extra_starts = {*also};
  }
  return shape_.family == "expr" ? Fit(shape_.expr, runs, fit)
                                 : Fit(shape_.family, runs, fit);
}

Status IncrementalFitter::Add(const Observation& run) {
  return AddBatch(std::span<const Observation>(&run, 1));
}

Status IncrementalFitter::AddBatch(std::span<const Observation> batch) {
  MOESWEEP_ASSIGN_OR_RETURN(FamilyHandle family, ResolveFamily(shape_));
  for (const Observation& run : batch) {
    MOESWEEP_RETURN_IF_ERROR(CheckFeatures(*family, run));
    if (!(run.loss > 0) || !std::isfinite(run.loss)) {
      return InvalidArgumentError("loss must be a finite number > 0");
    }
  }
  if (batch.empty()) return OkStatus();
  std::unique_lock<std::mutex> lock(mu_);
  bool surprising = false;
  if (current_) {
    // The typical in-sample |residual|, read off the Huber objective: about
    // √(2·obj/n) where residuals sit inside δ, obj/(n·δ) where beyond.
    // A whitened objective (lineages, ρ) reads residuals shrunk by
    // √(1 − ρ); a new run's error is not.
    const double n = std::max<double>(runs_.size(), 1);
    const double scale =
        std::max(std::sqrt(2 * current_->objective / n),
                 current_->objective / (n * options_.huber_delta)) /
        std::sqrt(1 - current_->lineage_correlation);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      // Out of sample: the law has not seen this run.
      const double log_predicted =
          family->LogPredict(current_->law.theta.data(), batch[i]);
      const double log_error = log_predicted - std::log(batch[i].loss);
      out_of_sample_.push_back({static_cast<int>(runs_.size() + i),
                                current_->version, std::exp(log_predicted),
                                batch[i].loss, log_error});
      surprising |= std::abs(log_error) >
                    options_.surprise_sigmas * std::max(scale, 1e-4);
    }
  }
  runs_.insert(runs_.end(), batch.begin(), batch.end());
  if (static_cast<int>(runs_.size()) <= num_params_) return OkStatus();

  if (!current_) {
    // The first law: nothing to warm-start from, so a full fit now.
    MOESWEEP_ASSIGN_OR_RETURN(FitResult fit,
                              FitRuns(runs_, nullptr, nullptr, 0));
    current_ = LawSnapshot{fit.law, fit.objective, 1,
                           static_cast<int>(runs_.size()), 1};
    runs_at_last_refit_ = static_cast<int>(runs_.size());
    return UpdateLineageCorrelation();
  }
  // The warm refit is milliseconds, so it runs under the lock: Add() calls and
  // readers see one law per set of runs.
  MOESWEEP_ASSIGN_OR_RETURN(FitResult fit,
                            FitRuns(runs_, &current_->law.theta, nullptr,
                                    current_->lineage_correlation));
  current_->law = fit.law;
  current_->objective = fit.objective;
  current_->runs = static_cast<int>(runs_.size());
  ++current_->version;
  MOESWEEP_RETURN_IF_ERROR(UpdateLineageCorrelation());
  const double gap =
      std::max<double>(options_.full_refit_every,
                       options_.full_refit_growth * runs_at_last_refit_);
  if (surprising ||
      static_cast<int>(runs_.size()) - runs_at_last_refit_ >= gap) {
    StartFullRefit(lock);
  }
  return OkStatus();
}

Status IncrementalFitter::Restore(std::vector<Observation> runs,
                                  std::optional<std::vector<double>> theta,
                                  std::int64_t version,
                                  std::vector<OutOfSample> out_of_sample) {
  MOESWEEP_ASSIGN_OR_RETURN(FamilyHandle family, ResolveFamily(shape_));
  for (const Observation& run : runs) {
    MOESWEEP_RETURN_IF_ERROR(CheckFeatures(*family, run));
    if (!(run.loss > 0) || !std::isfinite(run.loss)) {
      return InvalidArgumentError("loss must be a finite number > 0");
    }
  }
  if (theta && static_cast<int>(theta->size()) != num_params_) {
    return InvalidArgumentError(
        "restored law has " + std::to_string(theta->size()) +
        " parameters; the family has " + std::to_string(num_params_));
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (!runs_.empty() || current_) {
    return FailedPreconditionError("Restore: runs were already added");
  }
  const int n = static_cast<int>(runs.size());
  if (theta) {
    Law law = shape_;
    law.theta = std::move(*theta);
    // The restored law was fitted under the ρ its runs' residuals give.
    const double rho = EstimateLineageCorrelationAt(law, runs).rho;
    MOESWEEP_ASSIGN_OR_RETURN(double objective,
                              Objective(law, runs, options_.huber_delta, rho));
    current_ = LawSnapshot{
        std::move(law), objective, std::max<int64_t>(version, 1), n, 1, rho};
  } else if (n > num_params_) {
    MOESWEEP_ASSIGN_OR_RETURN(FitResult fit,
                              FitRuns(runs, nullptr, nullptr, 0));
    current_ = LawSnapshot{fit.law, fit.objective,
                           std::max<int64_t>(version, 1), n, 1};
  }
  runs_ = std::move(runs);
  if (current_ && !theta) MOESWEEP_RETURN_IF_ERROR(UpdateLineageCorrelation());
  out_of_sample_ = std::move(out_of_sample);
  // The restored law stands for a full refit: the next is due after the
  // usual gap, not at once.
  runs_at_last_refit_ = n;
  return OkStatus();
}

void IncrementalFitter::StartFullRefit(std::unique_lock<std::mutex>& lock) {
  if (refit_running_) return;  // the next trigger after it ends will start one
  refit_running_ = true;
  runs_at_last_refit_ = static_cast<int>(runs_.size());
  std::vector<Observation> snapshot = runs_;
  std::vector<double> current = current_->law.theta;
  const double rho = current_->lineage_correlation;
  if (!options_.background) {
    lock.unlock();
    RunFullRefit(std::move(snapshot), std::move(current), rho);
    lock.lock();
    return;
  }
  if (refit_thread_.joinable())
    refit_thread_.join();  // finished: refit_running_ was false
  refit_thread_ = std::thread([this, snapshot = std::move(snapshot),
                               current = std::move(current), rho]() mutable {
    RunFullRefit(std::move(snapshot), std::move(current), rho);
  });
}

Status IncrementalFitter::UpdateLineageCorrelation() {
  if (!current_ || !SharesLineages(runs_)) return OkStatus();
  const double rho = EstimateLineageCorrelationAt(current_->law, runs_).rho;
  if (std::abs(rho - current_->lineage_correlation) <= kLineageRhoStep) {
    return OkStatus();
  }
  MOESWEEP_ASSIGN_OR_RETURN(FitResult fit,
                            FitRuns(runs_, &current_->law.theta, nullptr, rho));
  current_->law = fit.law;
  current_->objective = fit.objective;
  current_->lineage_correlation = rho;
  return OkStatus();
}

void IncrementalFitter::RunFullRefit(std::vector<Observation> runs,
                                     std::vector<double> current, double rho) {
  StatusOr<FitResult> full = FitRuns(runs, nullptr, &current, rho);
  std::lock_guard<std::mutex> lock(mu_);
  refit_running_ = false;
  if (current_) ++current_->full_refits;
  // Objectives under different ρ do not compare: a refit that began before
  // ρ moved is dropped (the next one uses the new ρ).
  if (full.ok() && current_ && rho == current_->lineage_correlation) {
    // Compare on the runs the refit saw, then bring the winner up to date.
    StatusOr<double> current_on_snapshot =
        Objective(current_->law, runs, options_.huber_delta, rho);
    if (current_on_snapshot.ok() &&
        full->objective < *current_on_snapshot * (1 - 1e-9)) {
      StatusOr<FitResult> caught_up =
          FitRuns(runs_, &full->law.theta, nullptr, rho);
      if (caught_up.ok()) {
        current_->law = caught_up->law;
        current_->objective = caught_up->objective;
        current_->runs = static_cast<int>(runs_.size());
        ++current_->version;
      }
    }
  }
  refit_done_.notify_all();
}

std::optional<LawSnapshot> IncrementalFitter::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::vector<OutOfSample> IncrementalFitter::OutOfSampleErrors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return out_of_sample_;
}

std::vector<Observation> IncrementalFitter::Runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return runs_;
}

void IncrementalFitter::WaitForRefits() {
  std::unique_lock<std::mutex> lock(mu_);
  refit_done_.wait(lock, [this] { return !refit_running_; });
}

}  // namespace moesweep::fitter
