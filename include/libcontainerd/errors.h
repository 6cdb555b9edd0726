// libcontainerd: the one error type of the library.
//
// Every failing operation throws libcontainerd::Error (see docs/error-model.md for why
// exceptions). An exit status is never an error: Process::Delete and Process::Wait return it.
// Thread-safety: Error is an immutable value; copying it is safe from any thread.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "libcontainerd/export.h"

namespace libcontainerd {

// The fixed set of error kinds. Callers branch on kind(), never on message text.
enum class ErrorKind {
  kNotFound,            // the object (container, task, exec, file) does not exist
  kAlreadyExists,       // an object with that id exists already
  kFailedPrecondition,  // the object is in the wrong state (conflict): e.g. delete a running task
  kInvalidArgument,     // the caller's input is malformed (id, spec, signal, size)
  kUnavailable,         // the daemon cannot be reached or went away; retry may succeed
  kDeadlineExceeded,    // the call's deadline passed
  kCancelled,           // the call's context was cancelled
  kNotImplemented,      // the backend or platform does not support the operation
  kUnknown,             // anything else, including runtime failures reported by the daemon
};

// Stable lower-case name of a kind: "not found", "already exists", ...
LCD_EXPORT std::string_view ToString(ErrorKind kind) noexcept;

// Context attached to an error; every field is optional (empty / 0 when not known).
struct LCD_EXPORT ErrorContext {
  std::string op;  // operation, e.g. "NewTask", "Tasks.Create"
  std::string container_id;
  std::string exec_id;
  std::string path;   // file system path involved
  int sys_errno = 0;  // errno of a failed system call
};

// The library's exception. what() is a complete one-line message:
// "<op> <container>[/<exec>]: <message> [(path: ..., errno ...)]".
class LCD_EXPORT Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, ErrorContext ctx = {});

  ErrorKind kind() const noexcept { return kind_; }
  // The bare message without the context prefix.
  const std::string& message() const noexcept { return message_; }
  const ErrorContext& context() const noexcept { return ctx_; }

 private:
  ErrorKind kind_;
  std::string message_;
  ErrorContext ctx_;
};

// Convenience predicates.
inline bool IsNotFound(const Error& e) noexcept { return e.kind() == ErrorKind::kNotFound; }
inline bool IsAlreadyExists(const Error& e) noexcept {
  return e.kind() == ErrorKind::kAlreadyExists;
}
inline bool IsFailedPrecondition(const Error& e) noexcept {
  return e.kind() == ErrorKind::kFailedPrecondition;
}
inline bool IsInvalidArgument(const Error& e) noexcept {
  return e.kind() == ErrorKind::kInvalidArgument;
}
inline bool IsUnavailable(const Error& e) noexcept { return e.kind() == ErrorKind::kUnavailable; }

// Throws Error{kind, message + ": " + strerror(err), ctx with sys_errno=err}.
[[noreturn]] LCD_EXPORT void ThrowErrno(ErrorKind kind, int err, std::string message,
                                        ErrorContext ctx = {});

}  // namespace libcontainerd
