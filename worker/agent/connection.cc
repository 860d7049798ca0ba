// Connection: one WorkerService.Connect stream, client side.
//
// Invariant: the hold taken in Start is released exactly once, when the read
// side has ended and no write is in flight, so OnDone cannot run while a
// write started outside a reaction (Flush) is still to be issued.

#include "worker/agent/connection.h"

#include <utility>

namespace moesweep::worker::agent {

Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return OkStatus();
  return Status(static_cast<StatusCode>(status.error_code()),
                status.error_message());
}

Connection::Connection(v1::WorkerService::Stub* stub, const std::string& token,
                       v1::WorkerMessage hello, StreamListener* listener)
    : stub_(stub), listener_(listener) {
  context_.AddMetadata("authorization", "Bearer " + token);
  queue_.push_back(std::move(hello));
}

void Connection::Start() {
  stub_->async()->Connect(&context_, this);
  AddHold();
  StartRead(&incoming_);
  Flush();
  StartCall();
}

void Connection::Enqueue(v1::WorkerMessage message) {
  absl::MutexLock lock(&mu_);
  if (read_done_ || write_failed_ || closing_) return;
  queue_.push_back(std::move(message));
}

void Connection::Flush() {
  bool write = false;
  {
    absl::MutexLock lock(&mu_);
    if (writing_ || read_done_ || write_failed_ || writes_done_) return;
    if (!queue_.empty()) {
      current_ = std::move(queue_.front());
      queue_.pop_front();
      write = true;
    } else if (!closing_) {
      return;
    } else {
      writes_done_ = true;
    }
    writing_ = true;
  }
  // current_ is not touched again until OnWriteDone: writing_ keeps every
  // other Flush out.
  if (write) {
    StartWrite(&current_);
  } else {
    StartWritesDone();
  }
}

void Connection::CloseSend() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  Flush();
}

void Connection::OnReadDone(bool ok) {
  if (ok) {
    listener_->OnStreamMessage(this, std::move(incoming_));
    incoming_.Clear();
    StartRead(&incoming_);
    return;
  }
  bool release = false;
  {
    absl::MutexLock lock(&mu_);
    read_done_ = true;
    queue_.clear();
    release = !writing_ && !hold_released_;
    if (release) hold_released_ = true;
  }
  if (release) RemoveHold();
}

void Connection::OnWriteDone(bool ok) { AfterWrite(ok); }

void Connection::OnWritesDoneDone(bool ok) { AfterWrite(ok); }

void Connection::AfterWrite(bool ok) {
  bool release = false;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      // The call is broken; its read fails too and ends the stream.
      write_failed_ = true;
      queue_.clear();
    }
    release = read_done_ && !hold_released_;
    if (release) hold_released_ = true;
  }
  if (release) {
    RemoveHold();
    return;
  }
  Flush();
}

void Connection::OnDone(const grpc::Status& status) {
  // Last use of `this`: the listener may destroy the connection after this.
  listener_->OnStreamDone(this, FromGrpcStatus(status));
}

}  // namespace moesweep::worker::agent
