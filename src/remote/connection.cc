// The connection to containerd: Connect (validation, channel, stubs), the call context (Rpc)
// and waiting for a daemon that went away.
#include "remote/connection.h"

#include <google/protobuf/stubs/logging.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <condition_variable>
#include <mutex>

#include "libcontainerd/log.h"
#include "remote/status.h"

namespace libcontainerd::remote {

Connection::Connection(ClientOptions options, std::shared_ptr<grpc::Channel> channel, Stubs stubs)
    : options_(std::move(options)), channel_(std::move(channel)), stubs_(std::move(stubs)) {}

std::string Connection::ContainerStateDir(const std::string& container_id) const {
  return NamespaceStateDir() + "/" + container_id;
}

std::string Connection::NamespaceStateDir() const { return options_.state_dir + "/" + options_.ns; }

namespace {
std::string SocketPath(const std::string& address) {
  std::string p = address;
  if (p.starts_with("unix://"))
    p = p.substr(7);
  else if (p.starts_with("unix:"))
    p = p.substr(5);
  return p;
}

// protobuf writes its own complaints (e.g. invalid UTF-8 in a string field the daemon sent) to
// stderr: route them through the library's log sink instead, once per process.
void RouteProtobufLogs() {
  static std::once_flag once;
  std::call_once(once, [] {
    google::protobuf::SetLogHandler([](google::protobuf::LogLevel level, const char* file, int line,
                                       const std::string& message) {
      LogLevel l =
          level >= google::protobuf::LOGLEVEL_ERROR ? LogLevel::kError : LogLevel::kWarning;
      Log(l, "protobuf (" + std::string(file ? file : "?") + ":" + std::to_string(line) +
                 "): " + message);
    });
  });
}
}  // namespace

std::shared_ptr<Connection> Connect(const ClientOptions& options) {
  RouteProtobufLogs();
  ErrorContext ectx{.op = "NewContainerdClient", .path = options.address};
  ValidateIdentifier("namespace", options.ns);
  std::string path = SocketPath(options.address);
  if (path.empty() || path[0] != '/')
    throw Error(ErrorKind::kInvalidArgument, "containerd address must be an absolute socket path",
                ectx);
  ectx.path = path;
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    throw Error(ErrorKind::kInvalidArgument,
                "socket path is " + std::to_string(path.size()) +
                    " bytes, over the kernel's limit of " +
                    std::to_string(sizeof(sockaddr_un::sun_path) - 1) + ": use a shorter path",
                ectx);
  if (options.state_dir.empty() || options.state_dir[0] != '/')
    throw Error(ErrorKind::kInvalidArgument, "state_dir must be an absolute path",
                {.op = ectx.op, .path = options.state_dir});
  // A lazy client accepts a missing socket (the daemon may create it later), not a path that
  // is something else.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (!options.lazy_connect)
      throw Error(ErrorKind::kUnavailable,
                  "no containerd socket at " + path +
                      ": is containerd running? (lcctl daemon start starts one)",
                  ectx);
  } else if (!S_ISSOCK(st.st_mode)) {
    throw Error(options.lazy_connect ? ErrorKind::kInvalidArgument : ErrorKind::kUnavailable,
                path + " is not a unix socket: point the address at containerd's socket", ectx);
  }

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  args.SetMaxSendMessageSize(16 << 20);
  // Each client has its own connection (no sharing of subchannels between clients).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // gRPC's own reconnect back-off (1 s growing 1.6x to 120 s by default) would keep failing
  // calls fast for up to minutes after a daemon that was down for long is back (a lazy Client's
  // first connect: 10 s after the daemon came, measured; a Wait or the event stream across a
  // restart): reconnect with the library's back-off, the one WaitForDaemon uses.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(kReconnectBackoffFirst.count()));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(kReconnectBackoffMax.count()));
  auto channel =
      grpc::CreateCustomChannel("unix:" + path, grpc::InsecureChannelCredentials(), args);
  if (options.lazy_connect)
    channel->GetState(/*try_to_connect=*/true);  // starts connecting; never waits
  else if (!channel->WaitForConnected(std::chrono::system_clock::now() + options.connect_timeout))
    throw Error(ErrorKind::kUnavailable,
                "containerd at " + path + " did not accept a connection within " +
                    std::to_string(options.connect_timeout.count()) + " ms",
                ectx);
  Stubs stubs;
  stubs.containers = containers_v1::Containers::NewStub(channel);
  stubs.tasks = tasks_v1::Tasks::NewStub(channel);
  stubs.version = version_v1::Version::NewStub(channel);
  stubs.events = events_v1::Events::NewStub(channel);
  stubs.content = content_v1::Content::NewStub(channel);
  stubs.images = images_v1::Images::NewStub(channel);
  stubs.snapshots = snapshots_v1::Snapshots::NewStub(channel);
  stubs.diff = diff_v1::Diff::NewStub(channel);
  stubs.leases = leases_v1::Leases::NewStub(channel);
  ClientOptions opts = options;
  opts.address = path;
  return std::make_shared<Connection>(std::move(opts), std::move(channel), std::move(stubs));
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

bool ConnectionLost(const grpc::Status& s, const Context& ctx) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) return true;
  // gRPC reports a dropped connection during a call as CANCELLED in some versions.
  return s.error_code() == grpc::StatusCode::CANCELLED && !ctx.cancelled();
}

void WaitForDaemon(Connection& conn, const Context& ctx, const char* op, const ErrorContext& ectx,
                   const std::string& lost, bool probe_first) {
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
  for (bool wait = !probe_first;; wait = true) {
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
    if (wait) {
      auto until = now + backoff;
      if (deadline && *deadline < until) until = *deadline;
      std::unique_lock l(mu);
      cv.wait_until(l, until, [&] { return woken; });
    }
    if (ctx.cancelled() || conn.closed()) continue;  // reported at the top
    if (deadline && Context::Clock::now() >= *deadline) continue;
    try {
      Rpc probe(conn, ctx.WithDeadline(Context::Clock::now() + kReconnectBackoffMax), "Version");
      // The probe waits (up to its deadline) for the channel instead of failing fast: gRPC's
      // pick_first stays in TRANSIENT_FAILURE while it reconnects, and a new connection's
      // handshake is read at once only while a call waits for it (else by gRPC's backup poller,
      // every 5 s: a daemon back for 4 s, measured, before any call succeeded).
      probe.get()->set_wait_for_ready(true);
      google::protobuf::Empty req;
      version_v1::VersionResponse resp;
      if (conn.version().Version(probe.get(), req, &resp).ok()) return;
    } catch (const Error&) {
      // Done or closed: reported at the top.
    }
    if (wait) backoff = std::min(backoff * 2, kReconnectBackoffMax);
  }
}

Rpc::Rpc(const Connection& conn, const Context& ctx, const char* op)
    : Rpc(conn, ctx, op, conn.ns()) {}

Rpc::Rpc(const Connection& conn, const Context& ctx, const char* op, const std::string& ns)
    : ctx_(ctx), op_(op), address_(&conn.options().address) {
  if (conn.closed())
    throw Error(ErrorKind::kUnavailable, "client closed: the Client was destroyed", {.op = op});
  ctx.ThrowIfDone(op);
  grpc_.AddMetadata("containerd-namespace", ns);
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

Error Rpc::ToError(const grpc::Status& s, ErrorContext ectx) const {
  ectx.op = op_;
  if (s.error_code() == grpc::StatusCode::CANCELLED && !ctx_.cancelled()) {
    // gRPC reports a dropped connection during a call as CANCELLED in some versions.
    return Error(ErrorKind::kUnavailable,
                 "connection to containerd at " + *address_ + " lost: " + s.error_message(),
                 std::move(ectx));
  }
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE)
    return Error(ErrorKind::kUnavailable,
                 "containerd at " + *address_ + " unavailable: " + s.error_message() +
                     " (is it running? calls succeed once it serves)",
                 std::move(ectx));
  return FromGrpcStatus(s, std::move(ectx));
}

}  // namespace libcontainerd::remote
