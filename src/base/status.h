// Status and Result<T>: how operational errors travel (see docs/architecture.md, "Errors").
// Business outcomes (sold out, over limit) are enum classes in core/, never a Status.
// Thread-safety: value types; safe to copy between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "base/check.h"

namespace fs::base {

// The code says what the caller should do next; branch on it, never on the message.
enum class StatusCode : std::uint8_t {
  kOk = 0,
  kInvalidArgument,     // the input is wrong; do not retry as is
  kNotFound,            // the thing does not exist
  kAlreadyExists,       // it exists already
  kUnavailable,         // transient; retry the call
  kAborted,             // conflict; retry the whole operation
  kResourceExhausted,   // a bounded resource is full; back off
  kFailedPrecondition,  // the system is not in a state for this; do not retry
  kDataLoss,            // stored data is damaged
  kInternal,            // a bug
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Result<T> mirrors the parts of std::expected that we use (C++20 has no std::expected).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}        // NOLINT: implicit like std::expected
  Result(Status status) : value_(std::move(status)) {  // NOLINT
    FS_CHECK(!std::get<Status>(value_).ok());
  }

  bool has_value() const { return value_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    FS_CHECK(has_value());
    return std::get<T>(value_);
  }
  const T& value() const& {
    FS_CHECK(has_value());
    return std::get<T>(value_);
  }
  T&& value() && {
    FS_CHECK(has_value());
    return std::get<T>(std::move(value_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error; REQUIRES: !has_value().
  const Status& error() const {
    FS_CHECK(!has_value());
    return std::get<Status>(value_);
  }
  Status status() const { return has_value() ? Status::Ok() : std::get<Status>(value_); }

 private:
  std::variant<T, Status> value_;
};

}  // namespace fs::base

// Returns early from a function returning Status or Result<T> when `expr` is not ok.
#define FS_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::fs::base::Status fs_status_ = (expr);  \
    if (!fs_status_.ok()) return fs_status_; \
  } while (false)
