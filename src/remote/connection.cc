#include "remote/connection.h"

#include <condition_variable>

#include "remote/status.h"

namespace libcontainerd::remote {

Connection::Connection(ClientOptions options, std::shared_ptr<grpc::Channel> channel, Stubs stubs)
    : options_(std::move(options)), channel_(std::move(channel)), stubs_(std::move(stubs)) {}

std::string Connection::ContainerStateDir(const std::string& container_id) const {
  return NamespaceStateDir() + "/" + container_id;
}

std::string Connection::NamespaceStateDir() const { return options_.state_dir + "/" + options_.ns; }

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

bool ConnectionLost(const grpc::Status& s, const Context& ctx) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) return true;
  // gRPC reports a dropped connection during a call as CANCELLED in some versions.
  return s.error_code() == grpc::StatusCode::CANCELLED && !ctx.cancelled();
}

void WaitForDaemon(Connection& conn, const Context& ctx, const char* op, const ErrorContext& ectx,
                   const std::string& lost) {
  const auto start = Context::Clock::now();
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  auto reg = ctx.OnCancel([&] {
    {
      std::lock_guard l(mu);
      woken = true;
    }
    cv.notify_all();
  });
  auto give_up = [&](ErrorKind kind, const std::string& why) {
    ErrorContext e = ectx;
    e.op = op;
    throw Error(kind, why, std::move(e));
  };
  auto backoff = kReconnectBackoffFirst;
  for (;;) {
    if (conn.closed()) give_up(ErrorKind::kUnavailable, "client closed: the Client was destroyed");
    if (ctx.cancelled()) give_up(ErrorKind::kCancelled, "context cancelled");
    auto now = Context::Clock::now();
    auto deadline = ctx.deadline();
    if (deadline && now >= *deadline) {
      auto down = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
      give_up(ErrorKind::kUnavailable,
              "containerd at " + conn.options().address + " did not come back within " +
                  std::to_string(down.count()) + " ms, before the Context's deadline (" + lost +
                  "); start containerd or give the call a later deadline");
    }
    {
      auto until = now + backoff;
      if (deadline && *deadline < until) until = *deadline;
      std::unique_lock l(mu);
      cv.wait_until(l, until, [&] { return woken; });
    }
    if (ctx.cancelled() || conn.closed()) continue;  // reported at the top
    if (deadline && Context::Clock::now() >= *deadline) continue;
    try {
      Rpc probe(conn, ctx.WithDeadline(Context::Clock::now() + kReconnectBackoffMax), "Version");
      google::protobuf::Empty req;
      version_v1::VersionResponse resp;
      if (conn.version().Version(probe.get(), req, &resp).ok()) return;
    } catch (const Error&) {
      // Done or closed: reported at the top.
    }
    backoff = std::min(backoff * 2, kReconnectBackoffMax);
  }
}

Rpc::Rpc(const Connection& conn, const Context& ctx, const char* op)
    : ctx_(ctx), op_(op), address_(&conn.options().address) {
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
    throw Error(ErrorKind::kUnavailable,
                "connection to containerd at " + *address_ + " lost: " + s.error_message(), ectx);
  }
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE)
    throw Error(ErrorKind::kUnavailable,
                "containerd at " + *address_ + " unavailable: " + s.error_message() +
                    " (is it running? calls succeed once it serves)",
                std::move(ectx));
  throw FromGrpcStatus(s, std::move(ectx));
}

}  // namespace libcontainerd::remote
