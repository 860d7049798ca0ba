// The coordinator process killed with SIGKILL under load and restarted on
// the same folder: every acknowledged report is there, none twice, and the
// campaign goes on.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "tests/testing/coordinator_fixture.h"

namespace moesweep::testing {
namespace {

namespace v1 = ::moesweep::v1;

// `moesweep coordinator` as a child process; its address from its stdout.
class CoordinatorProcess {
 public:
  CoordinatorProcess(const std::string& db, const std::string& tokens,
                     const std::string& grace_ms) {
    int out[2];
    EXPECT_EQ(::pipe(out), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::execl(MOESWEEP_BINARY, MOESWEEP_BINARY, "coordinator", "--db",
              db.c_str(), "--listen", "127.0.0.1:0", "--metrics", "",
              "--tokens", tokens.c_str(), "--reconnect-grace-ms",
              grace_ms.c_str(), "--lease-ttl-ms", "2000", "--heartbeat-ms",
              "500", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    std::string text;
    char c;
    while (text.find('\n', text.find("serving on")) == std::string::npos &&
           ::read(out[0], &c, 1) == 1) {
      text.push_back(c);
    }
    ::close(out[0]);
    const size_t at = text.find("serving on ");
    EXPECT_NE(at, std::string::npos) << text;
    if (at != std::string::npos) {
      address_ = text.substr(at + 11, text.find(';', at) - at - 11);
    }
  }
  ~CoordinatorProcess() { Kill(); }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  const std::string& address() const { return address_; }

 private:
  pid_t pid_ = -1;
  std::string address_;
};

// Streams Progress as fast as the coordinator takes it, for every attempt
// it is assigned, and records the highest acknowledged seq of each.
class LoadWorker {
 public:
  LoadWorker(const std::string& address, const std::string& id)
      : context_(AuthContext(kWorkerToken)) {
    stub_ = v1::WorkerService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    stream_ = stub_->Connect(context_.get());
    v1::WorkerMessage hello;
    hello.mutable_hello()->set_worker_id(id);
    hello.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
    stream_->Write(hello);
    reader_ = std::thread([this] { Read(); });
  }
  ~LoadWorker() {
    context_->TryCancel();
    reader_.join();
    if (writer_.joinable()) writer_.join();
  }
  std::map<std::pair<std::string, int>, int64_t> acked() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  int64_t ack_count() const { return acks_.load(); }

 private:
  void Read() {
    v1::CoordinatorMessage m;
    while (stream_->Read(&m)) {
      if (m.has_assign() && !writer_.joinable()) {
        writer_ =
            std::thread([this, spec = m.assign().spec()] { Write(spec); });
      }
      if (m.has_ack()) {
        std::lock_guard<std::mutex> lock(mu_);
        int64_t& seq = acked_[{m.ack().trial_id(), m.ack().attempt()}];
        seq = std::max(seq, m.ack().seq());
        ++acks_;
      }
    }
  }
  void Write(const v1::TrialSpec& spec) {
    for (int64_t seq = 1;; ++seq) {
      v1::WorkerMessage m;
      m.mutable_progress()->set_trial_id(spec.trial_id());
      m.mutable_progress()->set_attempt(spec.attempt());
      m.mutable_progress()->set_seq(seq);
      m.mutable_progress()->set_step(seq);
      m.mutable_progress()->set_train_loss(5.0);
      if (!stream_->Write(m)) return;
    }
  }

  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>>
      stream_;
  std::thread reader_, writer_;
  std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> acked_;
  std::atomic<int64_t> acks_{0};
};

TEST(CrashTest, SigkillUnderLoadLosesNoAcknowledgedReport) {
  TempDir dir;
  const std::string db = dir.File("db");
  const std::string tokens =
      dir.Write("tokens", std::string("admin ") + kAdminToken + "\nworker " +
                              kWorkerToken + "\nviewer " + kViewerToken + "\n");
  auto process = std::make_unique<CoordinatorProcess>(db, tokens, "30000");
  ASSERT_FALSE(process->address().empty());
  auto channel = grpc::CreateChannel(process->address(),
                                     grpc::InsecureChannelCredentials());
  v1::CreateCampaignRequest create;
  create.set_spec_yaml(SmallCampaignYaml("crash", 4, 1e22));
  v1::CreateCampaignResponse created;
  auto context = AuthContext(kAdminToken);
  ASSERT_TRUE(v1::CampaignService::NewStub(channel)
                  ->Create(context.get(), create, &created)
                  .ok());
  std::map<std::pair<std::string, int>, int64_t> acked;
  {
    std::vector<std::unique_ptr<LoadWorker>> workers;
    for (int i = 0; i < 4; ++i) {
      workers.push_back(std::make_unique<LoadWorker>(
          process->address(), "load-" + std::to_string(i)));
    }
    int64_t total = 0;
    while (total < 4000) {
      total = 0;
      for (auto& w : workers) total += w->ack_count();
      std::this_thread::yield();
    }
    process->Kill();  // mid-stream, with reports in flight
    for (auto& w : workers) {
      for (const auto& [key, seq] : w->acked()) acked[key] = seq;
    }
  }
  ASSERT_FALSE(acked.empty());

  // Restarted with a short grace: the dead workers' leases expire soon.
  process = std::make_unique<CoordinatorProcess>(db, tokens, "300");
  auto stub = v1::CampaignService::NewStub(grpc::CreateChannel(
      process->address(), grpc::InsecureChannelCredentials()));
  for (const auto& [key, seq] : acked) {
    v1::GetCurveRequest q;
    q.set_campaign_id(created.campaign().campaign_id());
    q.set_trial_id(key.first);
    q.set_attempt(key.second);
    // Every page of the curve: a loaded machine stores far more reports
    // than one reply holds.
    std::vector<int64_t> steps;
    do {
      v1::GetCurveResponse curve;
      auto c = AuthContext(kViewerToken);
      const grpc::Status read = stub->GetCurve(c.get(), q, &curve);
      ASSERT_TRUE(read.ok())
          << key.first << " attempt " << key.second << ": " << read.error_code()
          << " " << read.error_message();
      for (const v1::LossPoint& p : curve.points()) steps.push_back(p.step());
      q.set_page_token(curve.next_page_token());
    } while (!q.page_token().empty());
    ASSERT_GE(static_cast<int64_t>(steps.size()), seq)
        << key.first << " lost reports";
    for (size_t i = 0; i < steps.size(); ++i) {
      ASSERT_EQ(steps[i], static_cast<int64_t>(i + 1))
          << "stored twice or out of order";
    }
  }
  // The campaign goes on: its trials are requeued and a new worker
  // finishes some.
  SimWorkerOptions o;
  o.address = process->address();
  o.token = kWorkerToken;
  o.worker_id = "after";
  o.truth = *fitter::PublishedLaw("chinchilla", "epoch");
  SimWorker w(o);
  v1::WatchCampaignRequest watch;
  watch.set_campaign_id(created.campaign().campaign_id());
  auto c = AuthContext(kViewerToken);
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = stub->Watch(c.get(), watch);
  v1::CampaignEvent e;
  int succeeded = 0;
  while (succeeded < 3 && reader->Read(&e)) {
    succeeded += e.has_trial_finished() &&
                 e.trial_finished().state() == v1::TRIAL_STATE_SUCCEEDED;
  }
  c->TryCancel();
  EXPECT_EQ(succeeded, 3);
}

}  // namespace
}  // namespace moesweep::testing
