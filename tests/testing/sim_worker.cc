#include "tests/testing/sim_worker.h"

#include <cmath>
#include <random>

#include "moesweep/v1/worker.grpc.pb.h"

namespace moesweep::testing {

namespace v1 = ::moesweep::v1;

void SimCheckpoints::Save(const std::string& lineage, std::int64_t tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  saved_.emplace(lineage, tokens);
}

bool SimCheckpoints::Has(const std::string& lineage,
                         std::int64_t tokens) const {
  std::lock_guard<std::mutex> lock(mu_);
  return saved_.count({lineage, tokens}) > 0;
}

void SimCheckpoints::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  saved_.clear();
}

std::unique_ptr<grpc::ClientContext> AuthContext(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", "Bearer " + token);
  return context;
}

SimWorker::SimWorker(SimWorkerOptions options) : options_(std::move(options)) {
  context_.AddMetadata("authorization", "Bearer " + options_.token);
  thread_ = std::thread([this] { Run(); });
}

SimWorker::~SimWorker() { Stop(); }

void SimWorker::Stop() {
  context_.TryCancel();
  if (thread_.joinable()) thread_.join();
}

grpc::Status SimWorker::status() const { return status_; }

void SimWorker::Run() {
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (!options_.tls_root_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options_.tls_root_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  auto channel = grpc::CreateChannel(options_.address, credentials);
  auto stub = v1::WorkerService::NewStub(channel);
  auto stream = stub->Connect(&context_);
  std::mt19937_64 rng(options_.seed);
  std::normal_distribution<double> noise(0, options_.noise_sigma);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id(options_.worker_id);
  hello.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
  hello.mutable_hello()->mutable_capabilities()->set_backend(v1::BACKEND_CPU);
  hello.mutable_hello()->mutable_capabilities()->set_max_concurrent_trials(1);
  stream->Write(hello);
  v1::CoordinatorMessage in;
  while (stream->Read(&in)) {
    if (in.has_ack()) ++acks_;
    if (!in.has_assign()) continue;
    const v1::TrialSpec& spec = in.assign().spec();
    SimCheckpoints* disk = options_.checkpoints.get();
    if (spec.resume_from_tokens() > 0) {
      if (disk == nullptr ||
          !disk->Has(spec.lineage(), spec.resume_from_tokens())) {
        v1::WorkerMessage m;
        v1::Failed* f = m.mutable_failed();
        f->set_trial_id(spec.trial_id());
        f->set_attempt(spec.attempt());
        f->set_seq(1);
        f->set_kind(v1::FAILURE_KIND_CHECKPOINT_MISSING);
        f->set_message("no checkpoint of lineage " + spec.lineage() + " at " +
                       std::to_string(spec.resume_from_tokens()) + " tokens");
        stream->Write(m);
        ++missing_;
        continue;
      }
      ++resumed_;
    }
    fitter::Architecture arch;
    const v1::ArchitectureSpec& a = spec.architecture();
    arch.vocab_size = a.vocab_size();
    arch.seq_len = a.seq_len();
    arch.d_model = a.d_model();
    arch.num_layers = a.num_layers();
    arch.num_heads = a.num_heads();
    arch.num_experts = a.num_experts();
    arch.top_k = a.top_k();
    arch.granularity = a.granularity();
    arch.num_shared = a.num_shared_experts();
    arch.expert_hidden = a.expert_hidden_dim();
    arch.ffn_hidden = int64_t{a.expert_hidden_dim()} * a.granularity();
    arch.tied_embeddings = a.tied_embeddings();
    const double tokens = static_cast<double>(spec.train_tokens());
    const fitter::Observation at = fitter::FeaturesOf(arch, tokens);
    StatusOr<double> loss = fitter::PredictLoss(options_.truth, at);
    const double final_loss = (loss.ok() ? *loss : 10.0) * std::exp(noise(rng));
    int64_t seq = 0;
    for (int i = 1; i <= options_.progress_reports; ++i) {
      v1::WorkerMessage m;
      v1::Progress* p = m.mutable_progress();
      p->set_trial_id(spec.trial_id());
      p->set_attempt(spec.attempt());
      p->set_seq(++seq);
      p->set_step(i);
      p->set_trained_tokens(
          static_cast<int64_t>(tokens * i / (options_.progress_reports + 1)));
      p->set_train_loss(final_loss * (1 + 1.0 / i));
      // What a worker's gauges show (moesweep_worker_*): plausible figures
      // for a small CPU run.
      p->set_tokens_per_second(2.0e5);
      p->set_peak_memory_bytes(int64_t{256} << 20);
      stream->Write(m);
    }
    v1::WorkerMessage m;
    v1::Done* d = m.mutable_done();
    d->set_trial_id(spec.trial_id());
    d->set_attempt(spec.attempt());
    d->set_seq(++seq);
    d->set_final_eval_loss(final_loss);
    d->set_final_train_loss(final_loss);
    d->set_trained_tokens(spec.train_tokens());
    d->set_training_flops(6 * at.active_params * tokens);
    if (disk != nullptr) {
      for (int64_t t : spec.checkpoint_at_tokens())
        disk->Save(spec.lineage(), t);
    }
    stream->Write(m);
    ++done_;
  }
  status_ = stream->Finish();
  finished_ = true;
}

}  // namespace moesweep::testing
