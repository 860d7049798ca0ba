// Branching runs (training.branching, issue 18): a lineage is a first
// warmup-stable-decay trial and the trials that continue its stable phase.
// Everything here is derived from the stored trial specs (lineage,
// checkpoint_at_tokens, resume_from_tokens), so lineages survive a restart
// with nothing else to store. All token counts are whole optimizer steps:
// the trainer checkpoints after a step and decays over
// ceil(decay_tokens / batch) steps (worker/agent/spec_mapping.cc).

#include <algorithm>
#include <cmath>
#include <map>

#include "coordinator/campaign_run.h"
#include "coordinator/records.h"

namespace moesweep::coordinator {
namespace {

int64_t TokensPerStep(const v1::TrialSpec& s) {
  return std::max<int64_t>(
      int64_t{s.batch_size_sequences()} * s.architecture().seq_len(), 1);
}

int64_t DecayTokens(int64_t train_tokens) {
  return static_cast<int64_t>(kWsdDecayFraction *
                              static_cast<double>(train_tokens));
}

// Steps at the peak learning rate (warmup included) of a run of `steps`.
int64_t StableSteps(int64_t steps, int64_t tokens_per_step) {
  const int64_t decay = DecayTokens(steps * tokens_per_step);
  return steps - (decay + tokens_per_step - 1) / tokens_per_step;
}

// StableCheckpoints(from, to) on whole steps: each rounded down to a step,
// at least one step, above `from`, ascending and distinct.
std::vector<int64_t> CheckpointTokens(int64_t from, int64_t to,
                                      int64_t tokens_per_step) {
  std::vector<int64_t> out;
  for (double t : fitter::StableCheckpoints(static_cast<double>(from),
                                            static_cast<double>(to))) {
    const int64_t steps =
        std::max<int64_t>(static_cast<int64_t>(t) / tokens_per_step, 1);
    const int64_t tokens = steps * tokens_per_step;
    if (tokens > from && (out.empty() || tokens > out.back())) {
      out.push_back(tokens);
    }
  }
  return out;
}

bool Live(const v1::Trial& t) {
  return t.state() != v1::TRIAL_STATE_FAILED &&
         t.state() != v1::TRIAL_STATE_CANCELLED;
}

}  // namespace

double CampaignRun::PlannedFlops(const TrialEntry& t) const {
  StatusOr<double> flops = fitter::RunFlops(plan_.shape, t.at);
  if (!flops.ok()) return 0;
  const v1::TrialSpec& s = t.trial.spec();
  if (s.resume_from_tokens() <= 0 || s.train_tokens() <= 0) return *flops;
  return *flops *
         static_cast<double>(s.train_tokens() - s.resume_from_tokens()) /
         static_cast<double>(s.train_tokens());
}

StatusOr<v1::TrialSpec> CampaignRun::BranchSpec(const TrialEntry& root,
                                                double tokens, double resume,
                                                bool extension,
                                                int32_t index) const {
  v1::TrialSpec s = root.trial.spec();
  const int64_t per_step = TokensPerStep(s);
  const int64_t resume_tokens = static_cast<int64_t>(resume);
  if (resume_tokens <= 0 || resume_tokens % per_step != 0) {
    return InternalError("branch of " + s.trial_id() + ": resume point " +
                         std::to_string(resume_tokens) +
                         " is not a checkpoint step");
  }
  const int64_t resume_steps = resume_tokens / per_step;
  // The fewest steps near `tokens` whose stable phase still reaches the
  // checkpoint: the steps before it are the lineage's, bit for bit.
  int64_t steps = std::max<int64_t>(
      static_cast<int64_t>(std::ceil(tokens / static_cast<double>(per_step))),
      resume_steps + 1);
  while (StableSteps(steps, per_step) < resume_steps) ++steps;
  const int64_t train_tokens = steps * per_step;
  s.set_trial_id(records::TrialId(id(), index));
  s.set_attempt(1);
  s.set_train_tokens(train_tokens);
  s.mutable_schedule()->set_decay_tokens(DecayTokens(train_tokens));
  s.set_resume_from_tokens(resume_tokens);
  s.clear_checkpoint_at_tokens();
  if (extension) {
    for (int64_t t : CheckpointTokens(
             resume_tokens, StableSteps(steps, per_step) * per_step, per_step))
      s.add_checkpoint_at_tokens(t);
  }
  s.clear_eval_at_tokens();
  if (spec_.training.eval_every_tokens) {
    const double every = *spec_.training.eval_every_tokens;
    for (double t = every; t < train_tokens; t += every) {
      if (t > resume_tokens) s.add_eval_at_tokens(static_cast<int64_t>(t));
    }
  }
  return s;
}

void CampaignRun::SetLineage(TrialEntry& t) const {
  const std::string& lineage = t.trial.spec().lineage();
  if (lineage.empty()) return;
  auto it = by_id_.find(lineage);
  // Lineage numbers are the first trial's index + 1: 0 means none.
  if (it != by_id_.end()) t.at.lineage = static_cast<uint64_t>(it->second) + 1;
}

void CampaignRun::StartLineage(v1::TrialSpec& s) const {
  const int64_t per_step = TokensPerStep(s);
  const int64_t steps = s.train_tokens() / per_step;
  s.set_lineage(s.trial_id());
  for (int64_t t :
       CheckpointTokens(0, StableSteps(steps, per_step) * per_step, per_step))
    s.add_checkpoint_at_tokens(t);
}

std::vector<fitter::StableRun> CampaignRun::StableRuns(
    std::vector<int32_t>* roots) const {
  const double c = kWsdDecayFraction;
  std::map<int32_t, fitter::StableRun> runs;  // by first trial
  for (const TrialEntry& t : trials_) {
    const v1::TrialSpec& s = t.trial.spec();
    if (s.lineage().empty() || t.trial.has_validation() || !Live(t.trial)) {
      continue;
    }
    auto root = by_id_.find(s.lineage());
    if (root == by_id_.end()) continue;
    fitter::StableRun& run = runs[root->second];
    if (run.lineage == 0) {
      run.at = trials_[root->second].at;
      run.lineage = static_cast<uint64_t>(root->second) + 1;
    }
    // The run itself, and the cooldown branches it stands for: from its
    // checkpoint and from its own stable end (the proposer names a branch
    // by checkpoint / (1 - c), which step rounding moves off train_tokens).
    const int64_t per_step = TokensPerStep(s);
    const double stable_end = static_cast<double>(
        StableSteps(s.train_tokens() / per_step, per_step) * per_step);
    run.branch_tokens.push_back(static_cast<double>(s.train_tokens()));
    run.branch_tokens.push_back(stable_end / (1 - c));
    if (s.resume_from_tokens() > 0) {
      run.branch_tokens.push_back(static_cast<double>(s.resume_from_tokens()) /
                                  (1 - c));
    }
    if (t.trial.state() != v1::TRIAL_STATE_SUCCEEDED) continue;
    for (int64_t ck : s.checkpoint_at_tokens()) {
      const double tokens = static_cast<double>(ck);
      if (std::find(run.checkpoints.begin(), run.checkpoints.end(), tokens) ==
          run.checkpoints.end())
        run.checkpoints.push_back(tokens);
      run.stable_tokens = std::max(run.stable_tokens, tokens);
    }
  }
  std::vector<fitter::StableRun> out;
  roots->clear();
  for (auto& [root, run] : runs) {
    if (run.stable_tokens <= 0) continue;  // nothing saved yet
    std::sort(run.checkpoints.begin(), run.checkpoints.end());
    out.push_back(std::move(run));
    roots->push_back(root);
  }
  if (out.size() > fitter::kMaxStableRuns) {
    const auto drop =
        static_cast<std::ptrdiff_t>(out.size() - fitter::kMaxStableRuns);
    out.erase(out.begin(), out.begin() + drop);
    roots->erase(roots->begin(), roots->begin() + drop);
  }
  return out;
}

std::string CampaignRun::CheckpointHolder(const TrialEntry& t) const {
  const v1::TrialSpec& s = t.trial.spec();
  if (s.resume_from_tokens() <= 0) return "";
  std::string holder;
  for (const TrialEntry& other : trials_) {
    const v1::TrialSpec& o = other.trial.spec();
    if (o.lineage() != s.lineage() ||
        other.trial.state() != v1::TRIAL_STATE_SUCCEEDED)
      continue;
    const auto& saved = o.checkpoint_at_tokens();
    if (std::find(saved.begin(), saved.end(), s.resume_from_tokens()) !=
        saved.end())
      holder = other.trial.worker_id();
  }
  return holder;
}

void CampaignRun::ReplanFresh(TrialEntry& t) {
  v1::TrialSpec& s = *t.trial.mutable_spec();
  const int64_t lost = s.resume_from_tokens();
  if (lost <= 0) return;
  s.set_resume_from_tokens(0);
  // Saving the lost checkpoint again lets later branches of the lineage use
  // the worker that trains this one.
  std::vector<int64_t> saved(s.checkpoint_at_tokens().begin(),
                             s.checkpoint_at_tokens().end());
  saved.push_back(lost);
  std::sort(saved.begin(), saved.end());
  saved.erase(std::unique(saved.begin(), saved.end()), saved.end());
  s.clear_checkpoint_at_tokens();
  for (int64_t tokens : saved) s.add_checkpoint_at_tokens(tokens);
  t.planned_flops = PlannedFlops(t);
}

}  // namespace moesweep::coordinator
