// The one place where a gRPC status becomes a libcontainerd::Error.
#pragma once

#include <grpcpp/support/status.h>

#include "libcontainerd/errors.h"

namespace libcontainerd::remote {

// Maps code to kind (NotFound, AlreadyExists, FailedPrecondition, InvalidArgument,
// Unavailable, DeadlineExceeded, Cancelled, Unimplemented; everything else kUnknown), keeps
// the daemon's message, and adds ctx. Never inspects message text.
ErrorKind KindFromGrpc(grpc::StatusCode code) noexcept;
Error FromGrpcStatus(const grpc::Status& status, ErrorContext ctx);

// Throws FromGrpcStatus(status, ctx) unless status.ok().
inline void ThrowIfError(const grpc::Status& status, ErrorContext ctx) {
  if (!status.ok()) throw FromGrpcStatus(status, std::move(ctx));
}

}  // namespace libcontainerd::remote
