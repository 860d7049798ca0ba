// One count of a model across the system: the coordinator prices and fits a
// run by fitter/arch's counts of its architecture; the worker builds the
// trainer from the spec the coordinator sends and reports its FLOPs from
// the trainer's config. For random architectures they agree exactly, and
// the trainer allocates exactly the parameters counted.

#include <gtest/gtest.h>

#include <random>

#include "coordinator/convert.h"
#include "fitter/fitter.h"
#include "tests/testing/status_matchers.h"
#include "worker/agent/spec_mapping.h"
#include "worker/trainer/model.h"

namespace moesweep::worker::agent {
namespace {

// A spec the trainer accepts, around `arch`.
v1::TrialSpec SpecOf(const fitter::Architecture& arch) {
  v1::TrialSpec s;
  s.set_trial_id("c1-t1");
  s.set_campaign_id("c1");
  *s.mutable_architecture() = coordinator::ToArchitectureSpec(arch);
  s.set_batch_size_sequences(2);
  s.set_train_tokens(arch.seq_len * 2 * 10);
  s.mutable_schedule()->set_schedule(v1::LR_SCHEDULE_COSINE);
  s.mutable_schedule()->set_peak_learning_rate(1e-3);
  s.mutable_schedule()->set_final_learning_rate_fraction(0.1);
  s.mutable_optimizer()->set_adam_beta1(0.9);
  s.mutable_optimizer()->set_adam_beta2(0.95);
  s.mutable_optimizer()->set_adam_epsilon(1e-8);
  s.mutable_optimizer()->set_grad_clip_norm(1);
  s.set_eval_tokens(arch.seq_len * 2);
  s.set_report_every_steps(1);
  s.set_dataset("d");
  s.set_seed(1);
  return s;
}

TEST(ArchParityTest, TrainerAndFitterCountTwentyRandomModelsAlike) {
  std::mt19937 rng(
      static_cast<uint32_t>(::testing::UnitTest::GetInstance()->random_seed()));
  auto pick = [&](std::initializer_list<int64_t> values) {
    return *(values.begin() + rng() % values.size());
  };
  int moe = 0, shared = 0, tied = 0;
  for (int i = 0; i < 20; ++i) {
    fitter::Architecture a;
    a.vocab_size = pick({256, 300, 1000});
    a.seq_len = pick({8, 16, 32});
    a.num_heads = pick({1, 2, 4});
    a.d_model = a.num_heads * pick({4, 8, 16});
    a.num_layers = pick({1, 2, 3});
    a.num_experts = pick({1, 2, 4, 8, 16});
    a.top_k = 1 + static_cast<int64_t>(rng() % a.num_experts);
    a.granularity = pick({1, 2, 4});
    a.ffn_hidden = a.granularity * pick({4, 8, 12});
    a.num_shared = a.num_experts > 1 ? pick({0, 0, 1, 2}) : 0;
    a.tied_embeddings = rng() % 2 == 1;
    moe += a.num_experts > 1, shared += a.num_shared > 0,
        tied += a.tied_embeddings;
    ASSERT_OK(a.Validate());
    StatusOr<fitter::ArchCounts> counts = fitter::CountArchitecture(a);
    ASSERT_OK(counts);

    StatusOr<TrainOptions> t = TrainOptionsFromSpec(SpecOf(a), "/data", 1);
    ASSERT_OK(t);
    const ModelConfig& m = t->model;
    ASSERT_OK(m.Validate());
    SCOPED_TRACE(::testing::Message()
                 << "E=" << a.num_experts << " k=" << a.top_k
                 << " G=" << a.granularity << " shared=" << a.num_shared
                 << " tied=" << a.tied_embeddings << " d=" << a.d_model);
    EXPECT_EQ(m.TotalParameters(), counts->total_params);
    EXPECT_EQ(m.ActiveParameters(), counts->active_params);
    EXPECT_EQ(m.TrainingFlopsPerToken(), counts->train_flops_per_token);
    // What the trainer allocates, tensor by tensor.
    Model model(m, 1, 1);
    EXPECT_EQ(static_cast<int64_t>(model.num_params()), counts->total_params);
    // The features the coordinator fits a run by are the same counts.
    const fitter::Observation f = fitter::FeaturesOf(a, 1e6);
    EXPECT_EQ(f.params, static_cast<double>(m.TotalParameters()));
    EXPECT_EQ(f.active_params, static_cast<double>(m.ActiveParameters()));
  }
  // The draw covered what it is meant to (any seed does, near enough).
  EXPECT_GT(moe, 5);
  EXPECT_GT(shared, 1);
  EXPECT_GT(tied, 2);
}

}  // namespace
}  // namespace moesweep::worker::agent
