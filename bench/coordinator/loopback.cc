#include "bench/coordinator/loopback.h"

#include <grpcpp/grpcpp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
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

constexpr char kAdmin[] = "bench-admin-token-0123456789";
constexpr char kWorker[] = "bench-worker-token-0123456789";

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

// A campaign that never finishes during the bench: a 1e-6 target.
std::string Campaign(const std::string& name, int parallel) {
  return "name: " + name +
         "\nlaw: chinchilla\nspace:\n  d_model: [64, 128, 256, 512]\n"
         "  layers: [2, 4, 8]\n  tokens: {min: 1.0e7, max: 1.0e9, log: true}\n"
         "  vocab_size: 256\n  seq_len: 256\n  head_dim: 32\n"
         "budget: {flops: 1.0e30}\nquestion: {kind: compute_optimal_loss, "
         "flops: 1.0e21}\ntarget: {relative_width: 1.0e-6}\n"
         "max_parallel_runs: " +
         std::to_string(parallel) + "\nseed: 3\n";
}

// One worker stream of the child: Hello, then Progress with at most
// `window` unacknowledged, timing each report to the Ack that covers it.
class Streamer : public grpc::ClientBidiReactor<v1::WorkerMessage,
                                                v1::CoordinatorMessage> {
 public:
  Streamer(v1::WorkerService::Stub* stub, const std::string& token,
           const std::string& id, int window, Clock::time_point measure_from)
      : window_(window), measure_from_(measure_from) {
    context_.AddMetadata("authorization", std::string("Bearer ") + token);
    stub->async()->Connect(&context_, this);
    out_.mutable_hello()->set_worker_id(id);
    out_.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
    StartRead(&in_);
    writing_ = true;
    StartWrite(&out_);
    StartCall();
  }
  void Stop() { context_.TryCancel(); }
  void Await() {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return done_; });
  }
  std::vector<double> latencies_ms;  // read after Await
  int64_t acks = 0;

  void OnReadDone(bool ok) override {
    if (!ok) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (in_.has_assign()) {
        trial_ = in_.assign().spec().trial_id();
        attempt_ = in_.assign().spec().attempt();
      } else if (in_.has_ack()) {
        const Clock::time_point now = Clock::now();
        while (!sent_.empty() && sent_.front().first <= in_.ack().seq()) {
          if (sent_.front().second >= measure_from_) {
            latencies_ms.push_back(std::chrono::duration<double, std::milli>(
                                       now - sent_.front().second)
                                       .count());
            ++acks;
          }
          sent_.pop_front();
        }
      }
      MaybeWrite();
    }
    StartRead(&in_);
  }
  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (ok) MaybeWrite();
  }
  void OnDone(const grpc::Status&) override {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    done_cv_.notify_all();
  }

 private:
  void MaybeWrite() {
    if (writing_ || trial_.empty() ||
        static_cast<int>(sent_.size()) >= window_) {
      return;
    }
    out_.Clear();
    v1::Progress* p = out_.mutable_progress();
    p->set_trial_id(trial_);
    p->set_attempt(attempt_);
    p->set_seq(++seq_);
    p->set_step(seq_);
    p->set_trained_tokens(seq_ * 2048);
    p->set_train_loss(4.0);
    p->set_learning_rate(1e-3);
    p->set_tokens_per_second(1e5);
    sent_.emplace_back(seq_, Clock::now());
    writing_ = true;
    StartWrite(&out_);
  }

  const int window_;
  const Clock::time_point measure_from_;
  grpc::ClientContext context_;
  v1::WorkerMessage out_;
  v1::CoordinatorMessage in_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false, writing_ = false;
  std::string trial_;
  int32_t attempt_ = 0;
  int64_t seq_ = 0;
  std::deque<std::pair<int64_t, Clock::time_point>> sent_;
};

// Done -> next Assign on a campaign of one run at a time: the time the
// coordinator takes to fit the observation and propose.
void ProposalLatency(const std::string& address, LoopbackResult* out) {
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto campaigns = v1::CampaignService::NewStub(channel);
  v1::CreateCampaignRequest create;
  create.set_spec_yaml(Campaign("proposal", 1));
  v1::CreateCampaignResponse created;
  grpc::ClientContext cc;
  cc.AddMetadata("authorization", std::string("Bearer ") + kAdmin);
  if (!campaigns->Create(&cc, create, &created).ok()) std::exit(1);
  auto workers = v1::WorkerService::NewStub(channel);
  grpc::ClientContext wc;
  wc.AddMetadata("authorization", std::string("Bearer ") + kWorker);
  auto stream = workers->Connect(&wc);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id("proposal-probe");
  hello.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
  stream->Write(hello);
  std::vector<double> ms;
  v1::CoordinatorMessage m;
  Clock::time_point done_at;
  for (int run = 0; run < 60 && stream->Read(&m);) {
    if (!m.has_assign()) continue;
    if (run > 0) {
      ms.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - done_at)
              .count());
    }
    ++run;
    const v1::TrialSpec& spec = m.assign().spec();
    v1::WorkerMessage done;
    done.mutable_done()->set_trial_id(spec.trial_id());
    done.mutable_done()->set_attempt(spec.attempt());
    done.mutable_done()->set_seq(1);
    // A loss that falls with size and data, so the law becomes identifiable
    // and the proposer runs its active (not space-filling) path.
    const double d = static_cast<double>(spec.train_tokens());
    const double n = spec.architecture().d_model() * 1.0 *
                     spec.architecture().d_model() *
                     spec.architecture().num_layers() * 12.0;
    done.mutable_done()->set_final_eval_loss(1.7 + 400 / std::pow(n, 0.34) +
                                             410 / std::pow(d, 0.28));
    done.mutable_done()->set_trained_tokens(spec.train_tokens());
    done_at = Clock::now();
    stream->Write(done);
  }
  wc.TryCancel();
  out->proposal_p50_ms = Quantile(ms, 0.5);
  out->proposal_p99_ms = Quantile(ms, 0.99);
}

}  // namespace

int WorkersChildMain(int argc, char** argv) {
  if (argc != 7) return 2;
  const std::string address = argv[2], token = argv[3];
  const int count = std::atoi(argv[4]), window = std::atoi(argv[5]);
  const double seconds = std::atof(argv[6]);
  auto stub = v1::WorkerService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  // The first second warms up (connections, assignments) and is not timed.
  const Clock::time_point from = Clock::now() + std::chrono::seconds(1);
  std::vector<std::unique_ptr<Streamer>> streams;
  for (int i = 0; i < count; ++i) {
    streams.push_back(std::make_unique<Streamer>(
        stub.get(), token, "bench-" + std::to_string(i), window, from));
  }
  std::this_thread::sleep_until(from +
                                std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(seconds)));
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - from).count();
  for (auto& s : streams) s->Stop();
  std::vector<double> all;
  int64_t acks = 0;
  for (auto& s : streams) {
    s->Await();
    acks += s->acks;
    all.insert(all.end(), s->latencies_ms.begin(), s->latencies_ms.end());
  }
  std::printf("acks %lld seconds %.6f p50_ms %.6f p99_ms %.6f\n",
              static_cast<long long>(acks), elapsed, Quantile(all, 0.5),
              Quantile(all, 0.99));
  return 0;
}

LoopbackResult RunLoopback(const std::filesystem::path& dir, int workers,
                           int window, double seconds) {
  std::filesystem::remove_all(dir);
  coordinator::ServerOptions options;
  options.db_path = dir.string();
  options.credentials = {{kAdmin, coordinator::Role::kAdmin},
                         {kWorker, coordinator::Role::kWorker}};
  options.lease_ttl_ms = 60000;
  options.heartbeat_interval_ms = 10000;
  auto server = coordinator::Server::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "bench_coordinator: %s\n",
                 server.status().ToString().c_str());
    std::exit(1);
  }
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());
  {
    auto stub = v1::CampaignService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    v1::CreateCampaignRequest q;
    q.set_spec_yaml(Campaign("loopback", workers));
    v1::CreateCampaignResponse r;
    grpc::ClientContext c;
    c.AddMetadata("authorization", std::string("Bearer ") + kAdmin);
    if (!stub->Create(&c, q, &r).ok()) std::exit(1);
  }
  int out[2];
  if (::pipe(out) != 0) std::exit(1);
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out[1], 1);
    const std::string n = std::to_string(workers), w = std::to_string(window),
                      s = std::to_string(seconds);
    ::execl("/proc/self/exe", "bench_coordinator", "--workers", address.c_str(),
            kWorker, n.c_str(), w.c_str(), s.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  char buf[256];
  for (ssize_t k; (k = ::read(out[0], buf, sizeof(buf))) > 0;)
    text.append(buf, k);
  ::close(out[0]);
  ::waitpid(child, nullptr, 0);
  long long acks = 0;
  double elapsed = 1;
  LoopbackResult result;
  if (std::sscanf(text.c_str(), "acks %lld seconds %lf p50_ms %lf p99_ms %lf",
                  &acks, &elapsed, &result.p50_ms, &result.p99_ms) != 4) {
    std::fprintf(stderr, "bench_coordinator: worker child said '%s'\n",
                 text.c_str());
    std::exit(1);
  }
  result.reports_per_second = static_cast<double>(acks) / elapsed;
  ProposalLatency(address, &result);
  return result;
}

}  // namespace moesweep::bench
