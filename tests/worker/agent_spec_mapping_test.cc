// worker/agent/spec_mapping.cc: every TrialSpec field reaches the trainer's
// options, and a spec the trainer cannot run is refused naming its field.

#include <gtest/gtest.h>

#include <functional>

#include "tests/testing/status_matchers.h"
#include "worker/agent/spec_mapping.h"

namespace moesweep::worker::agent {
namespace {

v1::TrialSpec GoodSpec() {
  v1::TrialSpec s;
  s.set_trial_id("c1-t3");
  s.set_campaign_id("c1");
  s.set_attempt(2);
  v1::ArchitectureSpec* a = s.mutable_architecture();
  a->set_vocab_size(300);
  a->set_seq_len(64);
  a->set_d_model(96);
  a->set_num_layers(3);
  a->set_num_heads(6);
  a->set_num_experts(8);
  a->set_top_k(2);
  a->set_granularity(4);
  a->set_num_shared_experts(1);
  a->set_expert_hidden_dim(48);
  a->set_tied_embeddings(true);
  s.set_train_tokens(64 * 4 * 100 + 1);  // 100 steps and one token: 101
  s.set_batch_size_sequences(4);
  v1::ScheduleSpec* sc = s.mutable_schedule();
  sc->set_schedule(v1::LR_SCHEDULE_WARMUP_STABLE_DECAY);
  sc->set_peak_learning_rate(2e-3);
  sc->set_final_learning_rate_fraction(0.25);
  sc->set_warmup_tokens(256 * 5 + 1);  // 6 steps, rounded up
  sc->set_decay_tokens(256 * 20);      // 20 steps
  v1::OptimizerSpec* o = s.mutable_optimizer();
  o->set_weight_decay(0.05);
  o->set_adam_beta1(0.8);
  o->set_adam_beta2(0.99);
  o->set_adam_epsilon(1e-7);
  o->set_grad_clip_norm(0.5);
  o->set_load_balance_loss_weight(0.02);
  o->set_router_z_loss_weight(0.003);
  s.add_eval_at_tokens(1000);
  s.add_eval_at_tokens(5000);
  s.set_eval_tokens(4096);
  s.set_report_every_steps(10);
  s.set_dataset("web");
  s.set_seed(77);
  s.set_max_seconds(60);
  return s;
}

TEST(SpecMappingTest, EveryFieldReachesTheTrainer) {
  StatusOr<TrainOptions> t = TrainOptionsFromSpec(GoodSpec(), "/d", 3);
  ASSERT_OK(t);
  const ModelConfig& m = t->model;
  EXPECT_EQ(m.vocab_size, 300);
  EXPECT_EQ(m.seq_len, 64);
  EXPECT_EQ(m.d_model, 96);
  EXPECT_EQ(m.n_layers, 3);
  EXPECT_EQ(m.n_heads, 6);
  EXPECT_EQ(m.n_experts, 8);
  EXPECT_EQ(m.top_k, 2);
  EXPECT_EQ(m.granularity, 4);
  EXPECT_EQ(m.ffn_hidden, 48 * 4);
  EXPECT_EQ(m.expert_hidden(), 48);
  EXPECT_EQ(m.n_shared_experts, 1);
  EXPECT_TRUE(m.tied_embeddings);
  EXPECT_FLOAT_EQ(m.aux_loss_coef, 0.02f);
  EXPECT_FLOAT_EQ(m.z_loss_coef, 0.003f);
  EXPECT_EQ(t->batch_size, 4);
  EXPECT_EQ(t->steps, 101);
  const OptimizerConfig& o = t->optimizer;
  EXPECT_EQ(o.schedule, Schedule::kWarmupStableDecay);
  EXPECT_FLOAT_EQ(o.lr, 2e-3f);
  EXPECT_FLOAT_EQ(o.min_lr_ratio, 0.25f);
  EXPECT_EQ(o.warmup_steps, 6);
  EXPECT_FLOAT_EQ(o.weight_decay, 0.05f);
  EXPECT_FLOAT_EQ(o.beta1, 0.8f);
  EXPECT_FLOAT_EQ(o.beta2, 0.99f);
  EXPECT_FLOAT_EQ(o.eps, 1e-7f);
  EXPECT_FLOAT_EQ(o.grad_clip, 0.5f);
  EXPECT_EQ(t->eval_at_tokens, (std::vector<int64_t>{1000, 5000}));
  EXPECT_EQ(t->eval_every_tokens, 0);
  EXPECT_EQ(t->eval_tokens, 4096);
  EXPECT_EQ(t->seed, 77u);
  EXPECT_EQ(t->threads, 3);
  EXPECT_EQ(t->data_dir, "/d/web");
}

TEST(SpecMappingTest, WsdDecaysOverExactlyTheDecayTokens) {
  // 101 steps, the last 20 decaying: the peak holds through step 80 and the
  // rate falls from step 81 on, reaching lr x min_lr_ratio at the end.
  StatusOr<TrainOptions> t = TrainOptionsFromSpec(GoodSpec(), "/d", 0);
  ASSERT_OK(t);
  const OptimizerConfig& o = t->optimizer;
  EXPECT_FLOAT_EQ(LearningRate(o, 80, 101), o.lr);
  EXPECT_LT(LearningRate(o, 81, 101), o.lr);
  EXPECT_FLOAT_EQ(LearningRate(o, 100, 101), o.lr * o.min_lr_ratio);
  // Decay lengths that are an exact fraction of the steps, where a float
  // fraction times the steps would round up one step too many.
  for (int64_t steps : {10, 50, 100, 1000, 4096}) {
    for (int64_t decay :
         {int64_t{0}, int64_t{1}, steps / 5, steps / 3, steps}) {
      v1::TrialSpec s = GoodSpec();
      s.set_train_tokens(steps * 256);
      s.mutable_schedule()->set_warmup_tokens(0);
      s.mutable_schedule()->set_decay_tokens(decay * 256);
      StatusOr<TrainOptions> u = TrainOptionsFromSpec(s, "/d", 0);
      ASSERT_OK(u);
      const int64_t first_decay = steps - decay;
      if (first_decay > 0) {
        EXPECT_FLOAT_EQ(LearningRate(u->optimizer, first_decay - 1, steps),
                        u->optimizer.lr)
            << steps << " steps, " << decay << " decaying";
      }
      if (decay > 0) {
        EXPECT_LT(LearningRate(u->optimizer, first_decay, steps),
                  u->optimizer.lr)
            << steps << " steps, " << decay << " decaying";
      }
    }
  }
}

TEST(SpecMappingTest, CosineEmptyDatasetAndNoWarmup) {
  v1::TrialSpec s = GoodSpec();
  s.mutable_schedule()->set_schedule(v1::LR_SCHEDULE_COSINE);
  s.mutable_schedule()->set_warmup_tokens(0);
  s.set_dataset("");
  s.set_train_tokens(256);
  StatusOr<TrainOptions> t = TrainOptionsFromSpec(s, "data", 0);
  ASSERT_OK(t);
  EXPECT_EQ(t->optimizer.schedule, Schedule::kCosine);
  EXPECT_EQ(t->optimizer.warmup_steps, 0);
  EXPECT_EQ(t->steps, 1);
  EXPECT_EQ(t->data_dir, "data/default");
}

struct BadCase {
  std::function<void(v1::TrialSpec*)> mutate;
  std::string message;  // the start of the expected message
};

TEST(SpecMappingTest, BadSpecsAreRefusedNamingTheField) {
  const BadCase cases[] = {
      {[](v1::TrialSpec* s) {
         s->mutable_architecture()->set_vocab_size(70000);
       },
       "architecture.vocab_size: must be in [2, 65536], got 70000"},
      {[](v1::TrialSpec* s) { s->mutable_architecture()->set_seq_len(0); },
       "architecture.seq_len: must be >= 1, got 0"},
      {[](v1::TrialSpec* s) { s->mutable_architecture()->set_d_model(0); },
       "architecture.d_model: must be >= 2, got 0"},
      {[](v1::TrialSpec* s) { s->mutable_architecture()->set_num_layers(0); },
       "architecture.num_layers: must be >= 1, got 0"},
      {[](v1::TrialSpec* s) { s->mutable_architecture()->set_num_heads(5); },
       "architecture.num_heads: must divide architecture.d_model, got 5"},
      {[](v1::TrialSpec* s) { s->mutable_architecture()->set_num_heads(32); },
       "architecture.num_heads: head width d_model / num_heads must be even"},
      {[](v1::TrialSpec* s) { s->mutable_architecture()->set_num_experts(0); },
       "architecture.num_experts: must be >= 1, got 0"},
      {[](v1::TrialSpec* s) { s->mutable_architecture()->set_top_k(9); },
       "architecture.top_k: must be in [1, architecture.num_experts], got 9"},
      {[](v1::TrialSpec* s) { s->mutable_architecture()->set_granularity(0); },
       "architecture.granularity: must be >= 1, got 0"},
      {[](v1::TrialSpec* s) {
         s->mutable_architecture()->set_num_shared_experts(-1);
       },
       "architecture.num_shared_experts: must be >= 0, got -1"},
      {[](v1::TrialSpec* s) {
         s->mutable_architecture()->set_expert_hidden_dim(0);
       },
       "architecture.expert_hidden_dim: must be >= 1, got 0"},
      {[](v1::TrialSpec* s) { s->set_batch_size_sequences(0); },
       "batch_size_sequences: must be >= 1, got 0"},
      {[](v1::TrialSpec* s) { s->set_train_tokens(0); },
       "train_tokens: must be >= 1, got 0"},
      {[](v1::TrialSpec* s) {
         s->mutable_schedule()->set_schedule(v1::LR_SCHEDULE_UNSPECIFIED);
       },
       "schedule.schedule: must be LR_SCHEDULE_COSINE or"},
      {[](v1::TrialSpec* s) {
         s->mutable_schedule()->set_peak_learning_rate(0);
       },
       "schedule.peak_learning_rate: must be finite and > 0, got 0"},
      {[](v1::TrialSpec* s) {
         s->mutable_schedule()->set_final_learning_rate_fraction(1.5);
       },
       "schedule.final_learning_rate_fraction: must be in [0, 1], got 1.5"},
      {[](v1::TrialSpec* s) { s->mutable_schedule()->set_warmup_tokens(-1); },
       "schedule.warmup_tokens: must be in [0, train_tokens], got -1"},
      {[](v1::TrialSpec* s) {
         s->mutable_schedule()->set_decay_tokens(s->train_tokens() + 1);
       },
       "schedule.decay_tokens: must be in [0, train_tokens]"},
      {[](v1::TrialSpec* s) { s->mutable_optimizer()->set_weight_decay(-1); },
       "optimizer.weight_decay: must be >= 0, got -1"},
      {[](v1::TrialSpec* s) { s->mutable_optimizer()->set_adam_beta1(1); },
       "optimizer.adam_beta1: must be in [0, 1), got 1"},
      {[](v1::TrialSpec* s) { s->mutable_optimizer()->set_adam_beta2(-0.1); },
       "optimizer.adam_beta2: must be in [0, 1), got -0.1"},
      {[](v1::TrialSpec* s) { s->mutable_optimizer()->set_adam_epsilon(0); },
       "optimizer.adam_epsilon: must be > 0, got 0"},
      {[](v1::TrialSpec* s) { s->mutable_optimizer()->set_grad_clip_norm(-1); },
       "optimizer.grad_clip_norm: must be >= 0, got -1"},
      {[](v1::TrialSpec* s) {
         s->mutable_optimizer()->set_load_balance_loss_weight(-1);
       },
       "optimizer.load_balance_loss_weight: must be >= 0, got -1"},
      {[](v1::TrialSpec* s) {
         s->mutable_optimizer()->set_router_z_loss_weight(-1);
       },
       "optimizer.router_z_loss_weight: must be >= 0, got -1"},
      {[](v1::TrialSpec* s) { s->add_eval_at_tokens(0); },
       "eval_at_tokens[2]: must be >= 1, got 0"},
      {[](v1::TrialSpec* s) { s->set_eval_tokens(64); },
       "eval_tokens: must be at least architecture.seq_len + 1, got 64"},
      {[](v1::TrialSpec* s) { s->set_report_every_steps(0); },
       "report_every_steps: must be >= 1, got 0"},
      {[](v1::TrialSpec* s) { s->set_max_seconds(-1); },
       "max_seconds: must be finite and >= 0 (0: no limit), got -1"},
      {[](v1::TrialSpec* s) { s->set_dataset("../etc"); },
       "dataset: must be one folder name under the data directory, got "
       "'../etc'"},
      {[](v1::TrialSpec* s) { s->set_dataset(".."); },
       "dataset: must be one folder name"},
      // Branching fields: the lineage names a folder of checkpoints.
      {[](v1::TrialSpec* s) { s->set_lineage("../c1-t2"); },
       "lineage: must be at most 64 characters of [A-Za-z0-9_-], got "
       "'../c1-t2'"},
      {[](v1::TrialSpec* s) { s->set_lineage(std::string(65, 'a')); },
       "lineage: must be at most 64 characters"},
      {[](v1::TrialSpec* s) { s->set_resume_from_tokens(128); },
       "lineage: required with checkpoint_at_tokens or resume_from_tokens"},
      {[](v1::TrialSpec* s) {
         s->set_lineage("c1-t2");
         s->set_resume_from_tokens(s->train_tokens());
       },
       "resume_from_tokens: must be in [0, train_tokens) (0: from scratch)"},
      {[](v1::TrialSpec* s) {
         s->set_lineage("c1-t2");
         s->add_checkpoint_at_tokens(256);
         s->add_checkpoint_at_tokens(256);
       },
       "checkpoint_at_tokens[1]: must ascend, past resume_from_tokens, to at "
       "most train_tokens, got 256"},
      {[](v1::TrialSpec* s) {
         s->set_lineage("c1-t2");
         s->set_resume_from_tokens(512);
         s->add_checkpoint_at_tokens(256);
       },
       "checkpoint_at_tokens[0]: must ascend, past resume_from_tokens"},
      {[](v1::TrialSpec* s) {
         s->set_lineage("c1-t2");
         s->add_checkpoint_at_tokens(s->train_tokens() + 1);
       },
       "checkpoint_at_tokens[0]: must ascend"},
      {[](v1::TrialSpec* s) {
         s->set_lineage("c1-t2");
         for (int i = 1; i <= 17; ++i) s->add_checkpoint_at_tokens(i);
       },
       "checkpoint_at_tokens: at most 16 entries, got 17"},
  };
  for (const BadCase& c : cases) {
    v1::TrialSpec s = GoodSpec();
    c.mutate(&s);
    StatusOr<TrainOptions> t = TrainOptionsFromSpec(s, "/d", 0);
    ASSERT_FALSE(t.ok()) << c.message;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(t.status().message().substr(0, c.message.size()), c.message);
  }
}

TEST(SpecMappingTest, TokensPerStepIsBatchTimesSequence) {
  EXPECT_EQ(TokensPerStep(GoodSpec()), 4 * 64);
}

}  // namespace
}  // namespace moesweep::worker::agent
