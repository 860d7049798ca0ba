#include "bench/coordinator/contention.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/coordinator.h"
#include "moesweep/v1/campaign.grpc.pb.h"
#include "moesweep/v1/worker.grpc.pb.h"

namespace moesweep::bench {
namespace {

namespace v1 = ::moesweep::v1;
using Clock = std::chrono::steady_clock;
using Stream =
    grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>;

constexpr char kAdmin[] = "bench-admin-token-0123456789";
constexpr char kWorker[] = "bench-worker-token-0123456789";
constexpr char kViewer[] = "bench-viewer-token-0123456789";
constexpr int kSlots = 64;
constexpr int64_t kLeaseTtlMs = 2000;
constexpr int64_t kHeartbeatMs = 250;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

void Die(const char* what, const grpc::Status& s) {
  std::fprintf(stderr, "bench_coordinator: contention: %s: %s\n", what,
               s.error_message().c_str());
  std::exit(1);
}

std::unique_ptr<grpc::ClientContext> Context(const char* token) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->AddMetadata("authorization", std::string("Bearer ") + token);
  return c;
}

// A campaign that never meets its target: a 1e-6 relative width.
std::string CampaignYaml() {
  return "name: contention\nlaw: chinchilla\nspace:\n"
         "  d_model: [64, 128, 256, 512]\n  layers: [2, 4, 8]\n"
         "  tokens: {min: 1.0e7, max: 1.0e9, log: true}\n"
         "  vocab_size: 256\n  seq_len: 256\n  head_dim: 32\n"
         "budget: {flops: 1.0e30}\nquestion: {kind: compute_optimal_loss, "
         "flops: 1.0e21}\ntarget: {relative_width: 1.0e-6}\n"
         "max_parallel_runs: " +
         std::to_string(kSlots) + "\nseed: 5\n";
}

// A loss that falls with size and data, with a little noise, so the law is
// identifiable and the proposer takes its active path.
v1::WorkerMessage DoneOf(const v1::TrialSpec& spec) {
  const double d = static_cast<double>(spec.train_tokens());
  const double n = spec.architecture().d_model() * 1.0 *
                   spec.architecture().d_model() *
                   spec.architecture().num_layers() * 12.0;
  const double wobble =
      1 + 0.01 * std::sin(static_cast<double>(
                     std::hash<std::string>{}(spec.trial_id()) % 1000));
  v1::WorkerMessage m;
  m.mutable_done()->set_trial_id(spec.trial_id());
  m.mutable_done()->set_attempt(spec.attempt());
  m.mutable_done()->set_seq(1);
  m.mutable_done()->set_final_eval_loss(
      wobble * (1.7 + 400 / std::pow(n, 0.34) + 410 / std::pow(d, 0.28)));
  m.mutable_done()->set_trained_tokens(spec.train_tokens());
  return m;
}

// The worker: answers Assigns with Done while `answering`, else holds them;
// a heartbeat thread renews every held lease.
class Worker {
 public:
  Worker(v1::WorkerService::Stub* stub, int answer_first)
      : context_(Context(kWorker)),
        stream_(stub->Connect(context_.get())),
        answer_left_(answer_first) {
    v1::WorkerMessage hello;
    hello.mutable_hello()->set_worker_id("contention-worker");
    hello.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
    hello.mutable_hello()->mutable_capabilities()->set_max_concurrent_trials(
        kSlots);
    Write(hello);
    reader_ = std::thread([this] { Read(); });
    beater_ = std::thread([this] { Beat(); });
  }
  ~Worker() {
    stop_ = true;
    context_->TryCancel();
    reader_.join();
    beater_.join();
  }
  int64_t done() const { return done_; }
  int64_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int64_t>(held_.size());
  }
  // Sends Done for every held trial.
  void FinishHeld() {
    std::map<std::string, v1::TrialSpec> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held.swap(held_);
    }
    for (const auto& [id, spec] : held) {
      Write(DoneOf(spec));
      ++done_;
    }
  }
  int64_t granted() const { return granted_; }
  int64_t expired() const { return expired_; }

 private:
  void Write(const v1::WorkerMessage& m) {
    std::lock_guard<std::mutex> lock(write_mu_);
    stream_->Write(m);
  }
  void Read() {
    v1::CoordinatorMessage m;
    while (stream_->Read(&m)) {
      if (m.has_cancel()) {
        if (m.cancel().reason() == v1::CANCEL_REASON_LEASE_EXPIRED) ++expired_;
        std::lock_guard<std::mutex> lock(mu_);
        held_.erase(m.cancel().trial_id());
        continue;
      }
      if (!m.has_assign()) continue;
      ++granted_;
      const v1::TrialSpec& spec = m.assign().spec();
      if (answer_left_ > 0) {
        --answer_left_;
        Write(DoneOf(spec));
        ++done_;
      } else {
        std::lock_guard<std::mutex> lock(mu_);
        held_[spec.trial_id()] = spec;
      }
    }
  }
  void Beat() {
    while (!stop_) {
      v1::WorkerMessage beat;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& [id, spec] : held_) {
          v1::TrialAttempt* a = beat.mutable_heartbeat()->add_running();
          a->set_trial_id(id);
          a->set_attempt(spec.attempt());
        }
      }
      beat.mutable_heartbeat();
      Write(beat);
      std::this_thread::sleep_for(std::chrono::milliseconds(kHeartbeatMs));
    }
  }

  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<Stream> stream_;
  std::mutex write_mu_, mu_;
  std::map<std::string, v1::TrialSpec> held_;  // guarded by mu_
  std::atomic<int64_t> answer_left_, done_{0}, granted_{0}, expired_{0};
  std::atomic<bool> stop_{false};
  std::thread reader_, beater_;
};

// Get and List, alternately, until stopped; records each call's latency.
class Viewer {
 public:
  Viewer(v1::CampaignService::Stub* stub, std::string campaign_id)
      : stub_(stub), campaign_id_(std::move(campaign_id)) {
    thread_ = std::thread([this] { Run(); });
  }
  std::vector<double> Stop() {
    stop_ = true;
    thread_.join();
    return latencies_ms_;
  }

 private:
  void Run() {
    for (int i = 0; !stop_; ++i) {
      const Clock::time_point start = Clock::now();
      auto context = Context(kViewer);
      grpc::Status s;
      if (i % 2 == 0) {
        v1::GetCampaignRequest q;
        q.set_campaign_id(campaign_id_);
        v1::GetCampaignResponse r;
        s = stub_->Get(context.get(), q, &r);
      } else {
        v1::ListCampaignsRequest q;
        v1::ListCampaignsResponse r;
        s = stub_->List(context.get(), q, &r);
      }
      if (!s.ok()) Die("viewer", s);
      latencies_ms_.push_back(Ms(Clock::now() - start));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  v1::CampaignService::Stub* const stub_;
  const std::string campaign_id_;
  std::atomic<bool> stop_{false};
  std::vector<double> latencies_ms_;  // read after Stop
  std::thread thread_;
};

v1::Campaign GetCampaign(v1::CampaignService::Stub* stub,
                         const std::string& id) {
  v1::GetCampaignRequest q;
  q.set_campaign_id(id);
  v1::GetCampaignResponse r;
  auto context = Context(kAdmin);
  grpc::Status s = stub->Get(context.get(), q, &r);
  if (!s.ok()) Die("Get", s);
  return r.campaign();
}

// Polls (the bench may) until the campaign counts `succeeded` runs.
void WaitSucceeded(v1::CampaignService::Stub* stub, const std::string& id,
                   int64_t succeeded) {
  while (GetCampaign(stub, id).trials().succeeded() < succeeded) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

ContentionResult RunContention(const std::filesystem::path& dir, int runs) {
  std::filesystem::remove_all(dir);
  coordinator::ServerOptions options;
  options.db_path = dir.string();
  options.credentials = {{kAdmin, coordinator::Role::kAdmin},
                         {kWorker, coordinator::Role::kWorker},
                         {kViewer, coordinator::Role::kViewer}};
  options.lease_ttl_ms = kLeaseTtlMs;
  options.heartbeat_interval_ms = kHeartbeatMs;
  auto server = coordinator::Server::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "bench_coordinator: %s\n",
                 server.status().ToString().c_str());
    std::exit(1);
  }
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()),
                          grpc::InsecureChannelCredentials());
  auto campaigns = v1::CampaignService::NewStub(channel);
  auto workers = v1::WorkerService::NewStub(channel);
  // The viewer has a channel of its own, as a user's would be.
  auto viewer_channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()),
                          grpc::InsecureChannelCredentials());
  auto viewer_stub = v1::CampaignService::NewStub(viewer_channel);

  const Clock::time_point start = Clock::now();
  v1::CreateCampaignRequest create;
  create.set_spec_yaml(CampaignYaml());
  v1::CreateCampaignResponse created;
  auto context = Context(kAdmin);
  grpc::Status s = campaigns->Create(context.get(), create, &created);
  if (!s.ok()) Die("Create", s);
  const std::string id = created.campaign().campaign_id();
  Viewer viewer(viewer_stub.get(), id);
  ContentionResult result;
  {
    Worker worker(workers.get(), runs - kSlots);
    WaitSucceeded(campaigns.get(), id, runs - kSlots);
    while (worker.held() < kSlots) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    v1::PauseCampaignRequest pause;
    pause.set_campaign_id(id);
    v1::PauseCampaignResponse paused;
    context = Context(kAdmin);
    s = campaigns->Pause(context.get(), pause, &paused);
    if (!s.ok()) Die("Pause", s);
    worker.FinishHeld();  // 64 observations at once: 64 refits
    WaitSucceeded(campaigns.get(), id, runs);
    result.build_seconds =
        std::chrono::duration<double>(Clock::now() - start).count();
    v1::ResumeCampaignRequest resume;
    resume.set_campaign_id(id);
    v1::ResumeCampaignResponse resumed;
    context = Context(kAdmin);
    const Clock::time_point resume_at = Clock::now();
    s = campaigns->Resume(context.get(), resume, &resumed);
    if (!s.ok()) Die("Resume", s);
    result.resume_ms = Ms(Clock::now() - resume_at);
    // The proposal is made on a fit thread, after the fits still out; it is
    // made when the whole batch is assigned. Then it is held on heartbeats
    // alone for a while.
    while (worker.held() < kSlots) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    result.proposal_ms = Ms(Clock::now() - resume_at);
    std::this_thread::sleep_for(std::chrono::milliseconds(kLeaseTtlMs));
    result.runs = GetCampaign(campaigns.get(), id).trials().succeeded();
    result.leases_granted = worker.granted();
    result.leases_expired =
        std::max(worker.expired(), (*server)->stats().lease_expiries);
  }
  std::vector<double> latencies = viewer.Stop();
  result.viewer_calls = static_cast<int64_t>(latencies.size());
  result.viewer_p50_ms = Quantile(latencies, 0.5);
  result.viewer_p99_ms = Quantile(latencies, 0.99);
  result.viewer_max_ms = Quantile(latencies, 1.0);
  (*server)->Shutdown();
  return result;
}

}  // namespace moesweep::bench
