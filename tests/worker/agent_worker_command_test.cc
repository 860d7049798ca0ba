// cli/worker_command.cc: `moesweep worker` in-process for its errors, and the
// real binary in a child process for SIGTERM: the running attempt is
// reported preempted, the coordinator requeues it, and the worker exits 0.
// (Kept beside the agent's tests: it is the agent's command.)

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "tests/testing/agent_fixture.h"
#include "tests/testing/coordinator_fixture.h"
#include "tests/testing/status_matchers.h"
#include "worker/worker.h"

extern char** environ;

namespace moesweep::cli {
namespace {

namespace v1 = ::moesweep::v1;
using ::moesweep::testing::AuthContext;
using ::moesweep::testing::kAdminToken;
using ::moesweep::testing::kViewerToken;
using ::moesweep::testing::kWorkerToken;
using ::moesweep::testing::ReadFile;

// One long trial (16384 steps of a tiny model): it is still training when
// the test sends SIGTERM.
std::string LongTrialCampaignYaml() {
  return worker::agent::TinyCampaignYaml("sigterm", 4194304,
                                         /*one_small_dense_width=*/true,
                                         /*budget_flops=*/1e14, /*seed=*/4);
}

class WorkerCommandTest : public ::moesweep::testing::CoordinatorFixture {
 protected:
  WorkerCommandOptions Options(const std::string& coordinator) {
    WorkerCommandOptions o;
    o.connection.coordinator = coordinator;
    o.backend = "cpu";
    o.connection.token_file = dir_.Write(
        "worker.token", "# test\nworker " + std::string(kWorkerToken) +
                            "\nadmin " + std::string(kAdminToken) + "\n");
    o.data_dir = dir_.File("data");
    o.threads = 1;
    return o;
  }
  int Run(const WorkerCommandOptions& o) {
    out_.str("");
    err_.str("");
    return RunWorkerCommand(o, out_, err_);
  }
  std::ostringstream out_, err_;
};

TEST_F(WorkerCommandTest, CudaBackendWithoutAGpuIsRefusedNamingWhy) {
  Status cuda = worker::CheckTrainBackend(worker::TrainBackend::kCuda);
  if (cuda.ok()) GTEST_SKIP() << "a GPU is present: --backend cuda is taken";
  WorkerCommandOptions o = Options("127.0.0.1:1");
  o.backend = "cuda";
  EXPECT_EQ(Run(o), 2);
  // Why: "this build has no CUDA backend", or no GPU / no driver.
  EXPECT_EQ(err_.str(),
            "moesweep worker: " + std::string(cuda.message()) + "\n");
  EXPECT_NE(err_.str().find("CUDA"), std::string::npos) << err_.str();
}

TEST_F(WorkerCommandTest, SeveralGpusOnTheCpuBackendAreBadInput) {
  WorkerCommandOptions o = Options("127.0.0.1:1");
  o.gpus = 2;
  EXPECT_EQ(Run(o), 2);
  EXPECT_EQ(err_.str(),
            "moesweep worker: --gpus more than 1 needs --backend cuda\n");
}

TEST_F(WorkerCommandTest, Bf16MatmulsOnTheCpuBackendAreBadInput) {
  WorkerCommandOptions o = Options("127.0.0.1:1");
  o.matmul = "bf16";
  EXPECT_EQ(Run(o), 2);
  EXPECT_EQ(err_.str(),
            "moesweep worker: --matmul bf16 needs --backend cuda\n");
}

TEST_F(WorkerCommandTest, MissingTokenFileIsBadInput) {
  WorkerCommandOptions o = Options("127.0.0.1:1");
  o.connection.token_file = dir_.File("absent.token");
  EXPECT_EQ(Run(o), 2);
  EXPECT_NE(
      err_.str().find(o.connection.token_file + ": cannot read the token file"),
      std::string::npos)
      << err_.str();
}

TEST_F(WorkerCommandTest, UnreachableCoordinatorExitsOneNamingIt) {
  StartServer();
  const std::string gone = address();
  StopServer();
  EXPECT_EQ(Run(Options(gone)), 1);
  EXPECT_NE(err_.str().find(
                "moesweep worker: cannot reach the coordinator at " + gone),
            std::string::npos)
      << err_.str();
}

TEST_F(WorkerCommandTest, RefusedTokenExitsOneAndNeverPrintsIt) {
  StartServer();
  WorkerCommandOptions o = Options(address());
  const std::string token = "not-a-known-token-0123456789";
  o.connection.token_file = dir_.Write("bad.token", token + "\n");
  EXPECT_EQ(Run(o), 1);
  EXPECT_NE(err_.str().find("refused the worker token: unknown token"),
            std::string::npos)
      << err_.str();
  EXPECT_EQ((out_.str() + err_.str()).find(token), std::string::npos);
}

TEST_F(WorkerCommandTest, SigtermPreemptsTheRunningAttemptAndExitsZero) {
  StartServer();
  const std::string text_path = dir_.Write(
      "text.txt", std::string(20000, 'a') + "the quick brown fox jumps\n");
  ASSERT_OK(worker::PrepareData({{text_path}, dir_.File("data/default"), 0.1}));
  const v1::Campaign c = CreateCampaign(LongTrialCampaignYaml());
  // Watch before the worker starts, so its TrialStarted is not missed.
  auto stub = CampaignStub();
  v1::WatchCampaignRequest watch;
  watch.set_campaign_id(c.campaign_id());
  auto context = AuthContext(kViewerToken);
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(120));
  auto events = stub->Watch(context.get(), watch);

  const WorkerCommandOptions o = Options(address());
  const std::string log = dir_.File("worker.log");
  std::vector<std::string> args = {
      MOESWEEP_BINARY, "worker",     "--coordinator", o.connection.coordinator,
      "--backend",     "cpu",        "--token-file",  o.connection.token_file,
      "--id",          "cli-worker", "--data-dir",    o.data_dir,
      "--threads",     "1"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &files, nullptr, argv.data(), environ),
            0);
  posix_spawn_file_actions_destroy(&files);

  std::string trial_id;
  v1::CampaignEvent e;
  while (trial_id.empty() && events->Read(&e)) {
    if (e.has_trial_started()) {
      EXPECT_EQ(e.trial_started().worker_id(), "cli-worker");
      trial_id = e.trial_started().trial_id();
    }
  }
  ASSERT_FALSE(trial_id.empty()) << ReadFile(log);
  // The coordinator publishes the start as it sends the Assign: the SIGTERM
  // must wait until the worker has it, or there is nothing to preempt.
  const std::string assigned = "trial " + trial_id + " attempt 1: assigned";
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (ReadFile(log).find(assigned) == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(ReadFile(log).find(assigned), std::string::npos) << ReadFile(log);
  // No new assignment may race the worker's exit (see the agent's tests).
  v1::PauseCampaignRequest pause;
  pause.set_campaign_id(c.campaign_id());
  v1::PauseCampaignResponse paused;
  auto admin = AuthContext(kAdminToken);
  ASSERT_TRUE(stub->Pause(admin.get(), pause, &paused).ok());

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  const std::string output = ReadFile(log);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_NE(output.find("connected to " + o.connection.coordinator +
                        " as worker "
                        "cli-worker"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("trial " + trial_id +
                        " attempt 1: failed (FAILURE_KIND_PREEMPTED)"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("worker: stopped"), std::string::npos) << output;
  EXPECT_EQ(output.find(kWorkerToken), std::string::npos);
  // The coordinator applies the Failed after its Ack: wait for the event.
  bool finished = false;
  while (!finished && events->Read(&e)) {
    finished =
        e.has_trial_finished() && e.trial_finished().trial_id() == trial_id;
  }
  ASSERT_TRUE(finished);
  EXPECT_EQ(e.trial_finished().failure_kind(), v1::FAILURE_KIND_PREEMPTED);
  context->TryCancel();

  v1::ListTrialsRequest q;
  q.set_campaign_id(c.campaign_id());
  v1::ListTrialsResponse trials;
  auto viewer = AuthContext(kViewerToken);
  ASSERT_TRUE(stub->ListTrials(viewer.get(), q, &trials).ok());
  bool found = false;
  for (const v1::Trial& t : trials.trials()) {
    if (t.spec().trial_id() != trial_id) continue;
    found = true;
    EXPECT_EQ(t.state(), v1::TRIAL_STATE_QUEUED);
    EXPECT_EQ(t.spec().attempt(), 2);
    EXPECT_EQ(t.last_failure_kind(), v1::FAILURE_KIND_PREEMPTED);
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace moesweep::cli
