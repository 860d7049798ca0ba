// AgentImpl: the control loop. Each pass waits (on the lock's condition, with
// the next timer as deadline) for a message, a stream end, a runner exit or a
// stop; applies it under the lock; then, with the lock released, joins
// reaped runners, delivers events and starts gRPC operations (which may run
// reactions inline, and reactions take the lock).

#include "worker/agent/agent_impl.h"

#include <algorithm>
#include <utility>

#include "absl/time/time.h"

namespace moesweep::worker::agent {
namespace {

constexpr auto kCloseGrace = std::chrono::seconds(2);

bool IsFatal(StatusCode code) {
  switch (code) {
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAborted:
    case StatusCode::kUnimplemented:
    case StatusCode::kInvalidArgument:
      return true;
    default:
      return false;
  }
}

absl::Duration Until(Time::time_point deadline, Time::time_point now) {
  return absl::FromChrono(std::max(deadline - now, Time::duration{}));
}

}  // namespace

AgentImpl::AgentImpl(AgentOptions options, TestHooks hooks)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : RealClock()),
      hooks_(std::move(hooks)),
      rng_(std::random_device{}()) {
  // A test's clock that jumps wakes the control loop to check its deadlines.
  waker_ = clock_->AddWaker([this] {
    absl::MutexLock lock(&mu_);
    clock_moved_ = true;
  });
  grpc::ChannelArguments args;
  // gRPC's own reconnect backoff (up to 120 s by default) would keep a
  // restarted coordinator unreachable long after ours says to retry.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              int(options_.backoff_initial_ms));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
              int(options_.backoff_initial_ms));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, int(options_.backoff_max_ms));
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (!options_.tls_root_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options_.tls_root_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  channel_ = grpc::CreateCustomChannel(options_.coordinator, credentials, args);
  stub_ = v1::WorkerService::NewStub(channel_);
  worker_id_ = options_.worker_id;
  backoff_ms_ = options_.backoff_initial_ms;
}

AgentImpl::~AgentImpl() { clock_->RemoveWaker(waker_); }

Time::time_point AgentImpl::Now() const {
  return Time::time_point(std::chrono::milliseconds(clock_->NowMs()));
}

void AgentImpl::Stop() {
  absl::MutexLock lock(&mu_);
  if (stop_requested_) return;
  stop_requested_ = true;
  // At once, not on the control thread's next pass: no runner takes another
  // step after Stop returns.
  BeginStop(Now());
}

AgentStats AgentImpl::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool AgentImpl::HasWork() const {
  return !inbox_.empty() || stream_status_.has_value() || runner_exited_ ||
         clock_moved_ || (stop_requested_ && !stop_noticed_);
}

Time::time_point AgentImpl::NextDeadline() const {
  Time::time_point next = Now() + std::chrono::hours(1);
  if (live_) next = std::min(next, heartbeat_at_);
  if (!connection_) next = std::min(next, reconnect_at_);
  if (connection_ && !live_ && !welcome_timed_out_) {
    next = std::min(next, welcome_deadline_);
  }
  if (stopping_) next = std::min(next, stop_deadline_);
  return next;
}

Status AgentImpl::Run() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_requested_) return OkStatus();
    reconnect_at_ = Now();
  }
  while (true) {
    Pass pass;
    bool finished = false;
    bool connect = false;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(this, &AgentImpl::HasWork),
                           Until(NextDeadline(), Now()));
      clock_moved_ = false;
      while (!inbox_.empty()) {
        v1::CoordinatorMessage message = std::move(inbox_.front());
        inbox_.pop_front();
        Handle(message, &pass);
        Reap(&pass);  // an attempt's end is logged before the next Assign
      }
      runner_exited_ = false;
      const Time::time_point now = Now();
      stop_noticed_ = stop_requested_;
      Reap(&pass);
      if (stream_status_) {
        pass.stream_ended = std::move(stream_status_);
        stream_status_.reset();
        connection_.reset();
        live_ = false;
      }
      Timers(now, &pass);
      finished = stopping_ && StopFinished(now);
      connect = !finished && !connection_ && !pass.stream_ended &&
                now >= reconnect_at_;
    }
    pass.reaped.clear();  // joins runners that have already exited
    DeliverEvents();
    if (pass.flush) pass.flush->Flush();
    if (pass.cancel) pass.cancel->Cancel();
    if (finished) {
      Shutdown();
      return OkStatus();
    }
    if (pass.stream_ended) {
      Status fatal = AfterStream(*pass.stream_ended);
      if (!fatal.ok()) {
        Shutdown();
        return fatal;
      }
    } else if (connect) {
      StartStream();
    }
  }
}

void AgentImpl::Timers(Time::time_point now, Pass* pass) {
  if (live_ && now >= heartbeat_at_) {
    v1::WorkerMessage heartbeat;
    *heartbeat.mutable_heartbeat() = attempts_.MakeHeartbeat();
    Send(std::move(heartbeat), pass);
    ++stats_.heartbeats_sent;
    heartbeat_at_ = now + std::chrono::milliseconds(heartbeat_interval_ms_);
  }
  if (connection_ && !live_ && !welcome_timed_out_ &&
      now >= welcome_deadline_) {
    welcome_timed_out_ = true;
    pass->cancel = connection_;
  }
}

bool AgentImpl::StopFinished(Time::time_point now) const {
  if (now >= stop_deadline_) return true;
  // A stream that has not had its Welcome yet may bring an Assign the
  // coordinator made before it knew: wait to answer it (preempted).
  if (connection_ && !live_ && !welcome_timed_out_) return false;
  // An attempt stays in the table until Reap has logged its end, which waits
  // for its runner's thread to exit (that exit wakes the loop): stopping on
  // Complete() alone could end before the preemption was logged.
  for (const AttemptKey& key : preempting_) {
    if (attempts_.attempts().contains(key)) return false;
  }
  return true;
}

void AgentImpl::StartStream() {
  std::shared_ptr<Connection> connection;
  {
    absl::MutexLock lock(&mu_);
    connection = std::make_shared<Connection>(stub_.get(), options_.token,
                                              MakeHello(), this);
    connection_ = connection;
    live_ = false;
    welcome_timed_out_ = false;
    welcome_deadline_ =
        Now() + std::chrono::milliseconds(options_.welcome_timeout_ms);
    ++stats_.streams_started;
  }
  connection->Start();
}

Status AgentImpl::AfterStream(const Status& status) {
  bool welcomed = false;
  std::string detail(status.message());
  {
    absl::MutexLock lock(&mu_);
    welcomed = welcomed_stream_;
    welcomed_stream_ = false;
    if (welcome_timed_out_) {
      detail = "no Welcome within " +
               std::to_string(options_.welcome_timeout_ms) + " ms";
    }
    Event(AgentEvent::Kind::kDisconnected, AttemptKey{},
          std::string(StatusCodeName(status.code())) + ": " + detail);
  }
  DeliverEvents();
  const std::string& address = options_.coordinator;
  if (IsFatal(status.code())) {
    std::string why = status.code() == StatusCode::kUnauthenticated ||
                              status.code() == StatusCode::kPermissionDenied
                          ? "refused the worker token"
                          : "refused the worker's stream";
    return Status(status.code(),
                  "the coordinator at " + address + " " + why + ": " + detail);
  }
  if (welcomed) backoff_ms_ = options_.backoff_initial_ms;
  if (!ever_welcomed_ && ++failed_streams_ >= options_.connect_attempts) {
    return UnavailableError("cannot reach the coordinator at " + address +
                            " (" + std::to_string(failed_streams_) +
                            " attempts): " + detail);
  }
  absl::MutexLock lock(&mu_);
  reconnect_at_ = Now() + std::chrono::milliseconds(Jittered(backoff_ms_));
  backoff_ms_ = std::min(2 * backoff_ms_, options_.backoff_max_ms);
  return OkStatus();
}

int64_t AgentImpl::Jittered(int64_t ms) {
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::max<int64_t>(1, int64_t(double(ms) * jitter(rng_)));
}

void AgentImpl::Shutdown() {
  std::shared_ptr<Connection> connection;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [key, runner] : runners_) {
      runner->RequestStop(TrialRunner::StopMode::kSilent);
    }
    connection = connection_;
  }
  if (connection) {
    // Half-close first so reports still queued (a Failed for an Assign that
    // came during the stop) reach the coordinator; cancel if it lingers.
    connection->CloseSend();
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(
          absl::Condition(
              +[](std::optional<Status>* s) { return s->has_value(); },
              &stream_status_),
          absl::FromChrono(kCloseGrace));
    }
    connection->Cancel();
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::optional<Status>* s) { return s->has_value(); },
        &stream_status_));
    connection_.reset();
    live_ = false;
  }
  Pass pass;
  std::map<AttemptKey, std::unique_ptr<TrialRunner>> runners;
  {
    absl::MutexLock lock(&mu_);
    // Acks that came while the stream closed still finish their attempts
    // (events); nothing else can be answered any more.
    for (const v1::CoordinatorMessage& m : inbox_) {
      if (m.has_ack()) OnAck(m.ack());
    }
    inbox_.clear();
    Reap(&pass);
    runners.swap(runners_);
  }
  pass.reaped.clear();
  runners.clear();  // joins
  DeliverEvents();
}

void AgentImpl::DeliverEvents() {
  std::vector<AgentEvent> events;
  {
    absl::MutexLock lock(&mu_);
    events.swap(events_);
  }
  for (const AgentEvent& e : events) options_.on_event(e);
}

}  // namespace moesweep::worker::agent
