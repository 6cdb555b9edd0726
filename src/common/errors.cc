#include "libcontainerd/errors.h"

#include <cstring>

namespace libcontainerd {

std::string_view ToString(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::kNotFound:
      return "not found";
    case ErrorKind::kAlreadyExists:
      return "already exists";
    case ErrorKind::kFailedPrecondition:
      return "failed precondition";
    case ErrorKind::kInvalidArgument:
      return "invalid argument";
    case ErrorKind::kUnavailable:
      return "unavailable";
    case ErrorKind::kDeadlineExceeded:
      return "deadline exceeded";
    case ErrorKind::kCancelled:
      return "cancelled";
    case ErrorKind::kNotImplemented:
      return "not implemented";
    case ErrorKind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

namespace {
std::string Format(const std::string& message, const ErrorContext& c) {
  std::string s;
  if (!c.op.empty()) s += c.op;
  if (!c.container_id.empty()) {
    s += s.empty() ? "" : " ";
    s += c.container_id;
    if (!c.exec_id.empty()) s += "/" + c.exec_id;
  } else if (!c.exec_id.empty()) {
    s += (s.empty() ? "exec " : " exec ") + c.exec_id;
  }
  if (!s.empty()) s += ": ";
  s += message;
  if (!c.path.empty() && message.find(c.path) == std::string::npos) s += " (path " + c.path + ")";
  return s;
}
}  // namespace

Error::Error(ErrorKind kind, std::string message, ErrorContext ctx)
    : std::runtime_error(Format(message, ctx)),
      kind_(kind),
      message_(std::move(message)),
      ctx_(std::move(ctx)) {}

void ThrowErrno(ErrorKind kind, int err, std::string message, ErrorContext ctx) {
  ctx.sys_errno = err;
  message += ": ";
  message += std::strerror(err);
  throw Error(kind, std::move(message), std::move(ctx));
}

}  // namespace libcontainerd
