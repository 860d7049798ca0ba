#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <sstream>

#include "worker/worker.h"

namespace moesweep::worker {
namespace {

// The real corpus: Debian's `fortunes` package (BSD licence), installed by
// scripts/setup.
constexpr const char* kCorpusDir = "/usr/share/games/fortunes";
const char* const kCorpusFiles[] = {
    "computers", "cookie",     "definitions", "fortunes", "humorists",
    "law",       "literature", "people",      "science",  "wisdom"};

TrainOptions SmallRun() {
  TrainOptions o;
  o.model.vocab_size = 256;
  o.model.d_model = 64;
  o.model.n_layers = 2;
  o.model.n_heads = 4;
  o.model.seq_len = 64;
  o.model.n_experts = 4;
  o.model.top_k = 2;
  o.model.ffn_hidden = 128;
  o.optimizer.lr = 3e-3f;
  o.optimizer.warmup_steps = 10;
  o.batch_size = 8;
  o.threads = 2;
  o.eval_tokens = 8192;
  return o;
}

TokenShard Synthetic(size_t n, uint32_t seed) {
  TokenShard s;
  std::mt19937 rng(seed);
  for (size_t i = 0; i < n; ++i) s.tokens.push_back(uint16_t(rng() % 256));
  return s;
}

TEST(TrainerTest, SameSeedGivesBitIdenticalCurve) {
  TrainOptions o = SmallRun();
  o.steps = 6;
  o.eval_every_tokens = 3 * 8 * 64;
  auto run = [&](int threads) {
    o.threads = threads;
    auto trainer = Trainer::Create(o, Synthetic(20000, 1), Synthetic(9000, 2));
    EXPECT_TRUE(trainer.ok()) << trainer.status().ToString();
    std::vector<float> curve;
    while (!(*trainer)->Done()) {
      StatusOr<StepReport> r = (*trainer)->Step();
      EXPECT_TRUE(r.ok());
      curve.push_back(r->loss);
      curve.push_back(r->grad_norm);
      if (r->eval_loss) curve.push_back(*r->eval_loss);
    }
    return curve;
  };
  std::vector<float> a = run(2), b = run(2);
  ASSERT_EQ(a.size(), 6u * 2 + 2);  // evals after steps 3 and 6
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof(float)), 0)
        << "entry " << i << ": " << a[i] << " vs " << b[i];
  }
  // A different seed gives a different curve.
  o.seed = 2;
  EXPECT_NE(run(2), a);
}

// A run that stops at a checkpoint and resumes reports, bit for bit, what
// the run that never stopped did: losses, gradient norms, evals, and the
// parameters at the end.
TEST(TrainerTest, ResumingFromACheckpointIsBitExact) {
  TrainOptions o = SmallRun();
  o.steps = 12;
  o.eval_every_tokens = 4 * 8 * 64;
  o.seed = 11;
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/run.ckpt";
  auto make = [&] {
    auto t = Trainer::Create(o, Synthetic(30000, 1), Synthetic(9000, 2));
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return std::move(*t);
  };
  auto report = [](const StepReport& r) {
    return std::vector<float>{r.loss, r.grad_norm, r.lr, r.aux_loss,
                              r.eval_loss.value_or(-1.0f)};
  };
  std::vector<std::vector<float>> straight;
  std::unique_ptr<Trainer> whole = make();
  while (!whole->Done()) straight.push_back(report(*whole->Step()));

  std::unique_ptr<Trainer> first = make();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(first->Step().ok());
  ASSERT_TRUE(first->SaveCheckpoint(path).ok());
  first.reset();  // the process that wrote it is gone

  std::unique_ptr<Trainer> resumed = make();
  ASSERT_TRUE(resumed->RestoreCheckpoint(path).ok());
  EXPECT_EQ(resumed->step(), 5);
  std::vector<std::vector<float>> after;
  while (!resumed->Done()) after.push_back(report(*resumed->Step()));
  ASSERT_EQ(after.size(), 7u);
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i], straight[5 + i]) << "step " << 6 + i;
  }
  // The parameters too: both trainers save, and the files are identical.
  ASSERT_TRUE(whole->SaveCheckpoint(dir + "/a.ckpt").ok());
  ASSERT_TRUE(resumed->SaveCheckpoint(dir + "/b.ckpt").ok());
  auto read = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read(dir + "/a.ckpt"), read(dir + "/b.ckpt"));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

// A checkpoint of another model, a damaged file or none is refused, naming
// why, and the trainer carries on as if it had not been asked.
TEST(TrainerTest, RefusesACheckpointOfAnotherRunOrADamagedOne) {
  TrainOptions o = SmallRun();
  o.steps = 6;
  const std::string dir = ::testing::TempDir();
  auto make = [&](const TrainOptions& options) {
    auto t = Trainer::Create(options, Synthetic(30000, 1), Synthetic(9000, 2));
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return std::move(*t);
  };
  std::unique_ptr<Trainer> writer = make(o);
  ASSERT_TRUE(writer->Step().ok());
  const std::string good = dir + "/good.ckpt";
  ASSERT_TRUE(writer->SaveCheckpoint(good).ok());
  std::ifstream in(good, std::ios::binary);
  const std::string bytes(std::istreambuf_iterator<char>(in), {});

  std::unique_ptr<Trainer> fresh = make(o);
  std::unique_ptr<Trainer> control = make(o);
  auto refused = [&](const std::string& path, StatusCode code,
                     const std::string& says) {
    Status s = fresh->RestoreCheckpoint(path);
    EXPECT_EQ(s.code(), code) << s.ToString();
    EXPECT_NE(s.message().find(says), std::string::npos) << s.ToString();
  };
  TrainOptions wider = o;
  wider.model.d_model = 128;
  wider.model.ffn_hidden = 256;
  std::unique_ptr<Trainer> other = make(wider);
  ASSERT_TRUE(other->SaveCheckpoint(dir + "/other.ckpt").ok());
  refused(dir + "/other.ckpt", StatusCode::kDataLoss, "not a checkpoint of");
  TrainOptions reseeded = o;
  reseeded.seed = 99;
  ASSERT_TRUE(make(reseeded)->SaveCheckpoint(dir + "/seed.ckpt").ok());
  refused(dir + "/seed.ckpt", StatusCode::kInvalidArgument, "seed 99");
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x10;
  std::ofstream(dir + "/flipped.ckpt", std::ios::binary) << flipped;
  refused(dir + "/flipped.ckpt", StatusCode::kDataLoss, "checksum");
  std::ofstream(dir + "/short.ckpt", std::ios::binary)
      << bytes.substr(0, bytes.size() / 2);
  refused(dir + "/short.ckpt", StatusCode::kDataLoss, "bytes is not");
  refused(dir + "/none.ckpt", StatusCode::kNotFound, "none.ckpt");
  // Unchanged: it trains as a trainer never asked does.
  EXPECT_EQ(fresh->step(), 0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(fresh->Step()->loss, control->Step()->loss) << i;
  }
}

TEST(TrainerTest, StepAfterTheLastFails) {
  TrainOptions o = SmallRun();
  o.steps = 1;
  auto trainer = Trainer::Create(o, Synthetic(5000, 1), Synthetic(5000, 2));
  ASSERT_TRUE(trainer.ok());
  StatusOr<StepReport> first = (*trainer)->Step();
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->eval_loss.has_value());  // the last step evaluates
  EXPECT_EQ((*trainer)->Step().status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(TrainerTest, RefusesBadOptionsNamingTheField) {
  TrainOptions o = SmallRun();
  o.model.top_k = 5;
  auto trainer = Trainer::Create(o, Synthetic(5000, 1), Synthetic(5000, 2));
  ASSERT_FALSE(trainer.ok());
  EXPECT_EQ(trainer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(trainer.status().message().find("model.top_k"), std::string::npos);
  o = SmallRun();
  auto short_val = Trainer::Create(o, Synthetic(5000, 1), Synthetic(10, 2));
  EXPECT_EQ(short_val.status().code(), StatusCode::kInvalidArgument);
}

// The cross-entropy (nats/token) of the held-out bytes under the training
// split's byte frequencies (add-one smoothed): what a model that ignores
// context reaches.
double UnigramCrossEntropy(const TokenShard& train, const TokenShard& val) {
  std::vector<double> counts(256, 1.0);
  for (uint16_t t : train.tokens) counts[t] += 1;
  double total = double(train.tokens.size()) + 256;
  double ce = 0;
  for (uint16_t t : val.tokens) ce -= std::log(counts[t] / total);
  return ce / double(val.tokens.size());
}

TEST(TrainerTest, LearnsRealTextWellBelowUnigramEntropy) {
  std::string text;
  for (const char* name : kCorpusFiles) {
    std::ifstream in(std::string(kCorpusDir) + "/" + name);
    ASSERT_TRUE(in) << kCorpusDir << "/" << name
                    << " is missing: install Debian's `fortunes` package "
                       "(scripts/setup does)";
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text += buffer.str();
  }
  std::vector<uint16_t> tokens = ByteTokenize(text);
  size_t val = tokens.size() / 20;
  TokenShard train{256, {tokens.begin(), tokens.end() - val}};
  TokenShard held_out{256, {tokens.end() - val, tokens.end()}};
  double unigram = UnigramCrossEntropy(train, held_out);
  TrainOptions o = SmallRun();
  o.steps = 300;
  auto trainer = Trainer::Create(o, train, held_out);
  ASSERT_TRUE(trainer.ok()) << trainer.status().ToString();
  float eval = 0;
  while (!(*trainer)->Done()) {
    StatusOr<StepReport> r = (*trainer)->Step();
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(std::isfinite(r->loss)) << "diverged at step " << r->step;
    if (r->eval_loss) eval = *r->eval_loss;
  }
  RecordProperty("unigram_nats", std::to_string(unigram));
  RecordProperty("eval_nats", std::to_string(eval));
  // Unigram English bytes: about 3 nats. A model that reads context gets
  // well under it.
  EXPECT_LT(eval, unigram - 0.6) << "unigram " << unigram;
}

}  // namespace
}  // namespace moesweep::worker
