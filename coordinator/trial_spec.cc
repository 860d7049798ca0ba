// CampaignRun::MakeSpec: what a worker trains for one proposed run, from the
// campaign's training settings.

#include <algorithm>
#include <cmath>

#include "coordinator/campaign_run.h"
#include "coordinator/records.h"

namespace moesweep::coordinator {
namespace {

// Defaults where the campaign's training section is silent.
constexpr int32_t kDefaultBatchSequences = 8;
constexpr double kDefaultWarmupFraction = 0.05;
constexpr double kFinalLearningRateFraction = 0.1;
constexpr int64_t kEvalTokens = 32768;
constexpr int32_t kReportEverySteps = 10;

}  // namespace

StatusOr<v1::TrialSpec> CampaignRun::MakeSpec(const fitter::Architecture& arch,
                                              double tokens,
                                              int32_t index) const {
  const campaign::TrainingSpec& training = spec_.training;
  v1::TrialSpec s;
  s.set_trial_id(records::TrialId(id(), index));
  s.set_campaign_id(id());
  s.set_attempt(1);
  *s.mutable_architecture() = ToArchitectureSpec(arch);
  const int64_t seq_len = std::max<int64_t>(arch.seq_len, 1);
  const int64_t batch_sequences =
      training.batch_tokens
          ? std::max<int64_t>(
                static_cast<int64_t>(*training.batch_tokens) / seq_len, 1)
          : kDefaultBatchSequences;
  const int64_t batch_tokens = batch_sequences * seq_len;
  const int64_t steps = std::max<int64_t>(
      static_cast<int64_t>(
          std::ceil(tokens / static_cast<double>(batch_tokens))),
      1);
  const int64_t train_tokens = steps * batch_tokens;
  s.set_train_tokens(train_tokens);
  s.set_batch_size_sequences(static_cast<int32_t>(batch_sequences));

  const fitter::Observation at = fitter::FeaturesOf(arch, tokens);
  v1::ScheduleSpec* schedule = s.mutable_schedule();
  schedule->set_schedule(training.schedule == campaign::Schedule::kWsd
                             ? v1::LR_SCHEDULE_WARMUP_STABLE_DECAY
                             : v1::LR_SCHEDULE_COSINE);
  schedule->set_peak_learning_rate(campaign::LearningRate(
      training, std::max(at.n_active_ne, 1.0), std::max(at.num_experts, 1.0)));
  schedule->set_final_learning_rate_fraction(kFinalLearningRateFraction);
  schedule->set_warmup_tokens(std::min<int64_t>(
      training.warmup_tokens
          ? static_cast<int64_t>(*training.warmup_tokens)
          : static_cast<int64_t>(kDefaultWarmupFraction * train_tokens),
      train_tokens / 2));
  if (training.schedule == campaign::Schedule::kWsd) {
    schedule->set_decay_tokens(
        static_cast<int64_t>(kWsdDecayFraction * train_tokens));
  }
  v1::OptimizerSpec* opt = s.mutable_optimizer();
  opt->set_weight_decay(0.1);
  opt->set_adam_beta1(0.9);
  opt->set_adam_beta2(0.95);
  opt->set_adam_epsilon(1e-8);
  opt->set_grad_clip_norm(1.0);
  opt->set_load_balance_loss_weight(0.01);
  opt->set_router_z_loss_weight(0.001);
  if (training.eval_every_tokens) {
    const double every = *training.eval_every_tokens;
    for (double t = every; t < train_tokens; t += every) {
      s.add_eval_at_tokens(static_cast<int64_t>(t));
    }
  }
  s.set_eval_tokens(kEvalTokens);
  s.set_report_every_steps(kReportEverySteps);
  s.set_dataset("default");
  s.set_seed(spec_.seed * 1000003 + static_cast<uint64_t>(index));
  s.set_max_seconds(spec_.limits.max_seconds.value_or(0));
  return s;
}

}  // namespace moesweep::coordinator
