// Status and StatusOr: errors as values (STYLE.md H3).
//
// Codes are numbered as google.rpc.Code, the same numbers as grpc::StatusCode,
// so an error crosses the library/RPC boundary by copying code and message.
// Standard library only, so kernels/ and the trainer build with CUDA and CMake
// alone. Debian 12's abseil lacks the RETURN_IF_ERROR macros, so they are
// defined here.
//
// Thread-safety: Status and StatusOr are values; distinct objects may be used
// from distinct threads, and const access from several threads is safe.

#ifndef MOESWEEP_COMMON_STATUS_H_
#define MOESWEEP_COMMON_STATUS_H_

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace moesweep {

// Stored and sent over the wire: never renumber.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// The canonical upper-case name of a code ("INVALID_ARGUMENT").
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // OK. Success holds no allocation.
  Status() = default;
  Status(StatusCode code, std::string_view message);

  Status(const Status& other)
      : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}
  Status& operator=(const Status& other) {
    rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  std::string_view message() const {
    return rep_ ? std::string_view(rep_->message) : std::string_view();
  }
  // "INVALID_ARGUMENT: runs.csv:3: column D: ..." or "OK".
  std::string ToString() const;

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::unique_ptr<Rep> rep_;
};

inline Status OkStatus() { return Status(); }
Status InvalidArgumentError(std::string_view message);
Status NotFoundError(std::string_view message);
Status AlreadyExistsError(std::string_view message);
Status FailedPreconditionError(std::string_view message);
Status AbortedError(std::string_view message);
Status UnavailableError(std::string_view message);
Status ResourceExhaustedError(std::string_view message);
Status DataLossError(std::string_view message);
Status InternalError(std::string_view message);
Status UnauthenticatedError(std::string_view message);
Status PermissionDeniedError(std::string_view message);
Status OutOfRangeError(std::string_view message);

// Holds a T or a non-OK Status. REQUIRES: ok() before value().
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(const T& value) : value_(value) {}  // NOLINT: implicit by design
  StatusOr(T&& value) : value_(std::move(value)) {}       // NOLINT
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "StatusOr built from an OK Status has no value");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T& value() & {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace moesweep

#define MOESWEEP_STATUS_CONCAT_INNER_(a, b) a##b
#define MOESWEEP_STATUS_CONCAT_(a, b) MOESWEEP_STATUS_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the calling function when it is not OK.
#define MOESWEEP_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::moesweep::Status moesweep_status_ = (expr);        \
    if (!moesweep_status_.ok()) return moesweep_status_; \
  } while (0)

// `lhs = value of expr`, or returns its Status from the calling function.
#define MOESWEEP_ASSIGN_OR_RETURN(lhs, expr) \
  MOESWEEP_ASSIGN_OR_RETURN_IMPL_(           \
      MOESWEEP_STATUS_CONCAT_(moesweep_or_, __LINE__), lhs, expr)
#define MOESWEEP_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return tmp.status();                   \
  lhs = std::move(tmp).value()

#endif  // MOESWEEP_COMMON_STATUS_H_
