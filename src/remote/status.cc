#include "remote/status.h"

namespace libcontainerd::remote {

ErrorKind KindFromGrpc(grpc::StatusCode code) noexcept {
  switch (code) {
    case grpc::StatusCode::NOT_FOUND:
      return ErrorKind::kNotFound;
    case grpc::StatusCode::ALREADY_EXISTS:
      return ErrorKind::kAlreadyExists;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return ErrorKind::kFailedPrecondition;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return ErrorKind::kInvalidArgument;
    case grpc::StatusCode::OUT_OF_RANGE:
      return ErrorKind::kInvalidArgument;
    case grpc::StatusCode::UNAVAILABLE:
      return ErrorKind::kUnavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return ErrorKind::kDeadlineExceeded;
    case grpc::StatusCode::CANCELLED:
      return ErrorKind::kCancelled;
    case grpc::StatusCode::UNIMPLEMENTED:
      return ErrorKind::kNotImplemented;
    default:
      return ErrorKind::kUnknown;
  }
}

Error FromGrpcStatus(const grpc::Status& status, ErrorContext ctx) {
  std::string msg = status.error_message();
  if (msg.empty())
    msg = "rpc failed with code " + std::to_string(static_cast<int>(status.error_code()));
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) msg = "containerd unavailable: " + msg;
  return Error(KindFromGrpc(status.error_code()), std::move(msg), std::move(ctx));
}

}  // namespace libcontainerd::remote
