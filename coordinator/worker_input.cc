// Bounds on worker messages (worker_input.h).

#include "coordinator/worker_input.h"

#include <cmath>
#include <cstdint>

namespace moesweep::coordinator {
namespace {

// Beyond any run this coordinator schedules (the campaign spec caps a run's
// tokens far below), yet well inside every wire type.
constexpr int64_t kMaxCount = int64_t{1} << 50;
constexpr double kMaxFlops = 1e30;
constexpr double kMaxSeconds = 1e8;  // three years
constexpr double kMaxLoss = 1e6;

Status Bad(std::string_view field, std::string_view why) {
  return InvalidArgumentError(std::string(field) + ": " + std::string(why));
}

Status CheckId(std::string_view field, std::string_view id, size_t max_bytes) {
  if (id.size() > max_bytes) {
    return Bad(field, "longer than " + std::to_string(max_bytes) + " bytes");
  }
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) {
      return Bad(field, "not printable ASCII: '" + Prefix(id) + "'");
    }
  }
  return OkStatus();
}

Status CheckCount(std::string_view field, int64_t v) {
  if (v < 0 || v > kMaxCount) {
    return Bad(field, "must be in [0, 2^50], got " + std::to_string(v));
  }
  return OkStatus();
}

// Finite and in [0, max].
Status CheckReal(std::string_view field, double v, double max) {
  if (!std::isfinite(v) || v < 0 || v > max) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "must be finite and in [0, %g], got %g",
                  max, v);
    return Bad(field, buf);
  }
  return OkStatus();
}

Status CheckAttempt(std::string_view kind, std::string_view trial_id,
                    int32_t attempt, int64_t seq) {
  const std::string k(kind);
  if (trial_id.empty()) return Bad(k + ".trial_id", "required");
  MOESWEEP_RETURN_IF_ERROR(CheckId(k + ".trial_id", trial_id, 256));
  if (attempt < 1) return Bad(k + ".attempt", "must be >= 1");
  if (seq < 1 || seq > kMaxReportsPerAttempt) {
    return Bad(k + ".seq", "must be in [1, " +
                               std::to_string(kMaxReportsPerAttempt) +
                               "] (the most reports one attempt stores), got " +
                               std::to_string(seq));
  }
  return OkStatus();
}

Status CheckProgress(const v1::Progress& p) {
  MOESWEEP_RETURN_IF_ERROR(
      CheckAttempt("progress", p.trial_id(), p.attempt(), p.seq()));
  MOESWEEP_RETURN_IF_ERROR(CheckCount("progress.step", p.step()));
  MOESWEEP_RETURN_IF_ERROR(
      CheckCount("progress.trained_tokens", p.trained_tokens()));
  MOESWEEP_RETURN_IF_ERROR(
      CheckReal("progress.train_loss", p.train_loss(), kMaxLoss));
  if (p.has_eval_loss()) {
    MOESWEEP_RETURN_IF_ERROR(
        CheckReal("progress.eval_loss", p.eval_loss(), kMaxLoss));
  }
  MOESWEEP_RETURN_IF_ERROR(
      CheckReal("progress.learning_rate", p.learning_rate(), 1e6));
  // A gradient norm may overflow to +inf on a step that still has a finite
  // loss; only NaN and negatives are nonsense.
  if (std::isnan(p.grad_norm()) || p.grad_norm() < 0) {
    return Bad("progress.grad_norm", "must be >= 0");
  }
  MOESWEEP_RETURN_IF_ERROR(
      CheckReal("progress.tokens_per_second", p.tokens_per_second(), 1e15));
  MOESWEEP_RETURN_IF_ERROR(
      CheckCount("progress.peak_memory_bytes", p.peak_memory_bytes()));
  return CheckReal("progress.elapsed_seconds", p.elapsed_seconds(),
                   kMaxSeconds);
}

Status CheckDone(const v1::Done& d) {
  MOESWEEP_RETURN_IF_ERROR(
      CheckAttempt("done", d.trial_id(), d.attempt(), d.seq()));
  // 0 is let through: a run that never evaluated reports 0, and the
  // scheduler fails that trial with a message (CampaignRun::Observe).
  MOESWEEP_RETURN_IF_ERROR(
      CheckReal("done.final_eval_loss", d.final_eval_loss(), kMaxLoss));
  MOESWEEP_RETURN_IF_ERROR(
      CheckReal("done.final_train_loss", d.final_train_loss(), kMaxLoss));
  MOESWEEP_RETURN_IF_ERROR(
      CheckCount("done.trained_tokens", d.trained_tokens()));
  MOESWEEP_RETURN_IF_ERROR(CheckCount("done.steps", d.steps()));
  MOESWEEP_RETURN_IF_ERROR(
      CheckReal("done.training_flops", d.training_flops(), kMaxFlops));
  return CheckReal("done.elapsed_seconds", d.elapsed_seconds(), kMaxSeconds);
}

Status CheckFailed(const v1::Failed& f) {
  MOESWEEP_RETURN_IF_ERROR(
      CheckAttempt("failed", f.trial_id(), f.attempt(), f.seq()));
  if (!v1::FailureKind_IsValid(f.kind())) {
    return Bad("failed.kind", "unknown value " + std::to_string(f.kind()));
  }
  MOESWEEP_RETURN_IF_ERROR(CheckCount("failed.step", f.step()));
  MOESWEEP_RETURN_IF_ERROR(
      CheckCount("failed.trained_tokens", f.trained_tokens()));
  MOESWEEP_RETURN_IF_ERROR(
      CheckCount("failed.needed_memory_bytes", f.needed_memory_bytes()));
  return CheckReal("failed.elapsed_seconds", f.elapsed_seconds(), kMaxSeconds);
}

// Length of the longest prefix of `s` of at most `max` bytes that does not
// split a UTF-8 sequence.
size_t Utf8Cut(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t cut = max;
  // Back off continuation bytes (10xxxxxx) so the cut lands on a lead byte.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
  return cut;
}

}  // namespace

Status CheckHello(const v1::Hello& hello) {
  MOESWEEP_RETURN_IF_ERROR(
      CheckId("hello.worker_id", hello.worker_id(), kMaxWorkerIdBytes));
  if (hello.hostname().size() > kMaxWorkerIdBytes) {
    return Bad("hello.hostname", "longer than 128 bytes");
  }
  if (hello.software_version().size() > kMaxWorkerIdBytes) {
    return Bad("hello.software_version", "longer than 128 bytes");
  }
  const v1::WorkerCapabilities& caps = hello.capabilities();
  if (caps.gpu_model().size() > kMaxWorkerIdBytes) {
    return Bad("hello.capabilities.gpu_model", "longer than 128 bytes");
  }
  MOESWEEP_RETURN_IF_ERROR(CheckCount("hello.capabilities.device_memory_bytes",
                                      caps.device_memory_bytes()));
  MOESWEEP_RETURN_IF_ERROR(CheckCount("hello.capabilities.host_memory_bytes",
                                      caps.host_memory_bytes()));
  const int slots = hello.capabilities().max_concurrent_trials();
  if (slots < 0 || slots > kMaxWorkerSlots) {
    return Bad("hello.capabilities.max_concurrent_trials",
               "must be in [0, 64], got " + std::to_string(slots));
  }
  if (hello.held_leases_size() > kMaxWorkerSlots) {
    return Bad("hello.held_leases", "more than 64");
  }
  return OkStatus();
}

Status CheckHeartbeat(const v1::Heartbeat& heartbeat) {
  if (heartbeat.running_size() > kMaxWorkerSlots) {
    return Bad("heartbeat.running", "more than 64");
  }
  return OkStatus();
}

Status CheckReport(const v1::WorkerMessage& report) {
  switch (report.kind_case()) {
    case v1::WorkerMessage::kProgress:
      return CheckProgress(report.progress());
    case v1::WorkerMessage::kDone:
      return CheckDone(report.done());
    case v1::WorkerMessage::kFailed:
      return CheckFailed(report.failed());
    default:
      return InvalidArgumentError("a WorkerMessage with no kind set");
  }
}

void TrimReport(v1::WorkerMessage* report) {
  if (!report->has_failed()) return;
  std::string* message = report->mutable_failed()->mutable_message();
  message->resize(Utf8Cut(*message, kMaxFailureMessageBytes));
}

std::string Prefix(std::string_view s, size_t max_bytes) {
  const size_t cut = Utf8Cut(s, max_bytes);
  std::string out(s.substr(0, cut));
  if (cut < s.size()) out += "...";
  return out;
}

}  // namespace moesweep::coordinator
