#include "remote/connection.h"

#include "remote/status.h"

namespace libcontainerd::remote {

Connection::Connection(ClientOptions options, std::shared_ptr<grpc::Channel> channel, Stubs stubs)
    : options_(std::move(options)), channel_(std::move(channel)), stubs_(std::move(stubs)) {}

std::string Connection::ContainerStateDir(const std::string& container_id) const {
  return options_.state_dir + "/" + options_.ns + "/" + container_id;
}

containers_v1::Container GetContainerRecord(Connection& conn, const Context& ctx,
                                            const std::string& id, const char* op) {
  ValidateIdentifier("container id", id);
  Rpc rpc(conn, ctx, op);
  containers_v1::GetContainerRequest req;
  req.set_id(id);
  containers_v1::GetContainerResponse resp;
  grpc::Status s = conn.containers().Get(rpc.get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND)
    throw Error(ErrorKind::kNotFound, "container not found in namespace " + conn.ns(),
                {.op = op, .container_id = id});
  rpc.Check(s, {.container_id = id});
  return resp.container();
}

Rpc::Rpc(const Connection& conn, const Context& ctx, const char* op) : ctx_(ctx), op_(op) {
  if (conn.closed())
    throw Error(ErrorKind::kUnavailable, "client closed: the Client was destroyed", {.op = op});
  ctx.ThrowIfDone(op);
  grpc_.AddMetadata("containerd-namespace", conn.ns());
  if (auto d = ctx.deadline()) {
    auto left = *d - Context::Clock::now();
    grpc_.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(left));
  }
  cancel_reg_ = ctx.OnCancel([this] { grpc_.TryCancel(); });
}

void Rpc::SetLease(const std::string& lease) {
  if (!lease.empty()) grpc_.AddMetadata("containerd-lease", lease);
}

void Rpc::Fail(const grpc::Status& s, ErrorContext ectx) const {
  ectx.op = op_;
  if (s.error_code() == grpc::StatusCode::CANCELLED && !ctx_.cancelled()) {
    // gRPC reports a dropped connection during a call as CANCELLED in some versions.
    throw Error(ErrorKind::kUnavailable, "containerd connection lost: " + s.error_message(), ectx);
  }
  throw FromGrpcStatus(s, std::move(ectx));
}

}  // namespace libcontainerd::remote
