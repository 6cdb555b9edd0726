#include "libcontainerd/errors.h"

#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

#include "remote/status.h"

using namespace libcontainerd;

TEST(GrpcStatusMapping, EveryCodeMapsToItsKind) {
  struct Case {
    grpc::StatusCode code;
    ErrorKind kind;
  } cases[] = {
      {grpc::StatusCode::NOT_FOUND, ErrorKind::kNotFound},
      {grpc::StatusCode::ALREADY_EXISTS, ErrorKind::kAlreadyExists},
      {grpc::StatusCode::FAILED_PRECONDITION, ErrorKind::kFailedPrecondition},
      {grpc::StatusCode::INVALID_ARGUMENT, ErrorKind::kInvalidArgument},
      {grpc::StatusCode::UNAVAILABLE, ErrorKind::kUnavailable},
      {grpc::StatusCode::DEADLINE_EXCEEDED, ErrorKind::kDeadlineExceeded},
      {grpc::StatusCode::CANCELLED, ErrorKind::kCancelled},
      {grpc::StatusCode::UNIMPLEMENTED, ErrorKind::kNotImplemented},
      {grpc::StatusCode::UNKNOWN, ErrorKind::kUnknown},
      {grpc::StatusCode::INTERNAL, ErrorKind::kUnknown},
  };
  for (const auto& c : cases) {
    Error e = remote::FromGrpcStatus(grpc::Status(c.code, "msg"), {.op = "Op"});
    EXPECT_EQ(e.kind(), c.kind) << static_cast<int>(c.code);
  }
}

TEST(GrpcStatusMapping, KeepsDaemonMessageAndAddsContext) {
  Error e = remote::FromGrpcStatus(
      grpc::Status(grpc::StatusCode::UNKNOWN, "cannot delete a running process"),
      {.op = "Tasks.Delete", .container_id = "web1", .exec_id = "e1"});
  EXPECT_EQ(e.message(), "cannot delete a running process");
  EXPECT_EQ(e.context().container_id, "web1");
  EXPECT_STREQ(e.what(), "Tasks.Delete web1/e1: cannot delete a running process");
}

TEST(GrpcStatusMapping, MessageTextDoesNotChangeTheKind) {
  // A NOT_FOUND-looking message under another code stays that code's kind.
  Error e = remote::FromGrpcStatus(grpc::Status(grpc::StatusCode::INTERNAL, "not found"), {});
  EXPECT_EQ(e.kind(), ErrorKind::kUnknown);
}

TEST(ErrorKinds, HaveStableNames) {
  EXPECT_EQ(ToString(ErrorKind::kNotFound), "not found");
  EXPECT_EQ(ToString(ErrorKind::kAlreadyExists), "already exists");
  EXPECT_EQ(ToString(ErrorKind::kFailedPrecondition), "failed precondition");
  EXPECT_EQ(ToString(ErrorKind::kDeadlineExceeded), "deadline exceeded");
}

TEST(ThrowErrno, CarriesErrnoAndPath) {
  try {
    ThrowErrno(ErrorKind::kNotFound, ENOENT, "open fifo", {.op = "NewTask", .path = "/x/y"});
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.context().sys_errno, ENOENT);
    EXPECT_NE(std::string(e.what()).find("/x/y"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos);
  }
}
