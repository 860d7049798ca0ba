// moesweep worker: trains the trials a coordinator assigns until SIGTERM or
// SIGINT, which preempt the running attempt (worker/agent/agent.h).

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <thread>

#include "CLI/CLI.hpp"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/exit_code.h"
#include "worker/agent/agent.h"
#include "worker/worker.h"

namespace moesweep::cli {
namespace {

constexpr char kStopByte = 's';
constexpr char kQuitByte = 'q';

// The write end of the stop pipe while a worker runs; -1 otherwise. A signal
// handler takes no context, so this one global stands in for it.
volatile sig_atomic_t g_signal_pipe = -1;

extern "C" void OnStopSignal(int) {
  const int saved = errno;
  const char byte = kStopByte;
  if (g_signal_pipe >= 0 && write(g_signal_pipe, &byte, 1) != 1) {
    // Nothing to do in a handler: the pipe is full of stop bytes already.
  }
  errno = saved;
}

std::string Timestamp() {
  std::time_t now =
      std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

void PrintEvent(const worker::agent::AgentEvent& e, std::ostream& out) {
  using Kind = worker::agent::AgentEvent::Kind;
  if (e.kind == Kind::kAcked) return;  // one per report: too many for a log
  out << Timestamp() << " ";
  if (!e.trial_id.empty()) {
    out << "trial " << e.trial_id << " attempt " << e.attempt << ": ";
  }
  out << (e.message.empty() ? std::string(EventKindName(e.kind)) : e.message)
      << std::endl;
}

}  // namespace

void AddWorkerCommand(CLI::App* app, WorkerCommandOptions* o) {
  CLI::App* worker = app->add_subcommand(
      "worker",
      "Train the trials a coordinator assigns; SIGTERM preempts and exits");
  AddConnectionFlags(worker, &o->connection);
  worker->add_option("--backend", o->backend, "cpu or cuda")
      ->required()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  worker->add_option("--id", o->id,
                     "Stable worker id; default: the coordinator assigns one");
  worker
      ->add_option("--data-dir", o->data_dir,
                   "Datasets: DIR/<dataset>/train.bin and val.bin")
      ->capture_default_str();
  worker
      ->add_option("--checkpoint-dir", o->checkpoint_dir,
                   "Branching runs' checkpoints: DIR/<lineage>/<tokens>.ckpt "
                   "(share one folder between workers to resume anywhere)")
      ->capture_default_str();
  worker->add_option("--threads", o->threads, "Trainer threads; 0: every core")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  worker
      ->add_option("--gpus", o->gpus,
                   "With --backend cuda: GPUs each trial trains on, data "
                   "parallel (NCCL)")
      ->capture_default_str()
      ->check(CLI::Range(1, worker::kMaxGpus));
  worker
      ->add_option("--matmul", o->matmul,
                   "With --backend cuda: fp32, or bf16 tensor cores with fp32 "
                   "accumulation")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
}

int RunWorkerCommand(const WorkerCommandOptions& o, std::ostream& out,
                     std::ostream& err) {
  namespace agent = worker::agent;
  agent::AgentOptions options;
  options.backend =
      o.backend == "cuda" ? agent::Backend::kCuda : agent::Backend::kCpu;
  options.gpus = o.gpus;
  options.matmul = o.matmul == "bf16" ? worker::MatmulMath::kBf16
                                      : worker::MatmulMath::kFp32;
  if (o.gpus > 1 && options.backend != agent::Backend::kCuda) {
    return Fail("worker",
                InvalidArgumentError("--gpus more than 1 needs --backend cuda"),
                err);
  }
  if (o.matmul == "bf16" && options.backend != agent::Backend::kCuda) {
    return Fail("worker",
                InvalidArgumentError("--matmul bf16 needs --backend cuda"),
                err);
  }
  if (Status s = agent::CheckBackend(options.backend, o.gpus); !s.ok()) {
    return Fail("worker", s, err);
  }
  StatusOr<Connection> connection =
      ResolveConnection(o.connection, coordinator::Role::kWorker);
  if (!connection.ok()) return Fail("worker", connection.status(), err);
  options.coordinator = connection->address;
  options.token = connection->token;
  options.tls_root_pem = connection->tls_root_pem;
  options.worker_id = o.id;
  options.data_dir = o.data_dir;
  options.checkpoint_dir = o.checkpoint_dir;
  options.threads = o.threads;
  options.on_event = [&out](const agent::AgentEvent& e) { PrintEvent(e, out); };

  StatusOr<std::unique_ptr<agent::Agent>> created =
      agent::Agent::Create(options);
  if (!created.ok()) return Fail("worker", created.status(), err);
  agent::Agent& worker = **created;
  // SIGTERM and SIGINT go through a pipe to `waiter`, which calls Stop: a
  // handler may do little but write(2), and a signal may land on any thread
  // (OpenBLAS starts one before main, so blocking them is not enough).
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return Fail("worker", InternalError("cannot create a pipe"), err);
  }
  g_signal_pipe = fds[1];
  struct sigaction on_stop = {}, old_term = {}, old_int = {};
  on_stop.sa_handler = OnStopSignal;
  sigemptyset(&on_stop.sa_mask);
  on_stop.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &on_stop, &old_term);
  sigaction(SIGINT, &on_stop, &old_int);
  std::thread waiter([&] {
    char byte = 0;
    while (read(fds[0], &byte, 1) == 1 && byte == kStopByte) worker.Stop();
  });
  out << Timestamp() << " worker: connecting to " << options.coordinator
      << " (backend " << o.backend << ", data " << o.data_dir << ")"
      << std::endl;
  Status status = worker.Run();
  const char quit = kQuitByte;
  while (write(fds[1], &quit, 1) != 1 && errno == EINTR) {
  }
  waiter.join();
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGINT, &old_int, nullptr);
  g_signal_pipe = -1;
  close(fds[0]);
  close(fds[1]);
  if (!status.ok()) return Fail("worker", status, err);
  out << Timestamp() << " worker: stopped" << std::endl;
  return 0;
}

}  // namespace moesweep::cli
