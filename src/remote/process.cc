#include "remote/process.h"

#include <signal.h>

#include <cerrno>

#include "cio/fifo.h"
#include "events/tracker.h"
#include "libcontainerd/log.h"
#include "remote/convert.h"

namespace libcontainerd::remote {

ProcessCore::ProcessCore(std::shared_ptr<Connection> conn, std::string container_id,
                         std::string exec_id, uint32_t pid)
    : conn_(std::move(conn)),
      container_id_(std::move(container_id)),
      exec_id_(std::move(exec_id)),
      pid_(pid),
      stdio_(std::make_shared<cio::ProcessStdio>()) {}

ProcessCore::~ProcessCore() {
  // The handle goes away, the process may not: stop copying, keep the FIFOs for AttachTask.
  ReleaseIO(false);
}

void ProcessCore::SetIO(std::shared_ptr<DirectIO> fifos, std::shared_ptr<IO> io,
                        std::string fifo_dir) {
  std::weak_ptr<ProcessCore> weak = weak_from_this();
  // The shim opens its read end of the stdin FIFO on a goroutine after its start returns: keep
  // a writer for it while the process lives (kill(pid, 0): containerd's pids are ours, unless
  // the daemon is in another pid namespace, and then this only waits less).
  auto alive = [weak] {
    auto self = weak.lock();
    if (!self) return false;
    uint32_t pid = self->pid();
    return pid == 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
  };
  stdio_->Set(
      std::move(fifos), std::move(io), std::move(fifo_dir),
      [weak] {
        if (auto self = weak.lock()) self->ForwardStdinClose();
      },
      std::move(alive));
}

void ProcessCore::TakeIO(PreparedIO io) {
  std::shared_ptr<DirectIO> fifos = io.fifos.io();
  std::string dir = io.fifos.Release();
  SetIO(std::move(fifos), std::move(io.io), std::move(dir));
}

void ProcessCore::ForwardStdinClose() {
  try {
    CloseStdin(Context());
  } catch (const Error& e) {
    Log(LogLevel::kWarning, std::string("forwarding stdin EOF failed: ") + e.what());
  }
}

void ProcessCore::MarkStarted() { stdio_->MarkStarted(); }

void ProcessCore::ReleaseIO(bool remove_fifos) noexcept { stdio_->Release(remove_fifos); }

void ProcessCore::CloseStdin(const Context& ctx) {
  Rpc rpc(*conn_, ctx, "Tasks.CloseIO");
  tasks_v1::CloseIORequest req;
  req.set_container_id(container_id_);
  req.set_exec_id(exec_id_);
  req.set_stdin(true);
  google::protobuf::Empty resp;
  rpc.Check(conn_->tasks().CloseIO(rpc.get(), req, &resp), Ectx());
}

void ProcessCore::Kill(const Context& ctx, int signal, bool all) {
  if (signal <= 0 || signal > 64)
    throw Error(ErrorKind::kInvalidArgument,
                "signal " + std::to_string(signal) + " is not a valid signal number",
                {.op = "Kill", .container_id = container_id_, .exec_id = exec_id_});
  Rpc rpc(*conn_, ctx, "Tasks.Kill");
  tasks_v1::KillRequest req;
  req.set_container_id(container_id_);
  req.set_exec_id(exec_id_);
  req.set_signal(static_cast<uint32_t>(signal));
  req.set_all(all);
  google::protobuf::Empty resp;
  rpc.Check(conn_->tasks().Kill(rpc.get(), req, &resp), Ectx());
}

void ProcessCore::Resize(const Context& ctx, uint32_t width, uint32_t height) {
  if (width == 0 || height == 0)
    throw Error(ErrorKind::kInvalidArgument,
                "terminal size " + std::to_string(width) + "x" + std::to_string(height) +
                    " is invalid: width and height must be > 0",
                {.op = "Resize", .container_id = container_id_, .exec_id = exec_id_});
  Rpc rpc(*conn_, ctx, "Tasks.ResizePty");
  tasks_v1::ResizePtyRequest req;
  req.set_container_id(container_id_);
  req.set_exec_id(exec_id_);
  req.set_width(width);
  req.set_height(height);
  google::protobuf::Empty resp;
  rpc.Check(conn_->tasks().ResizePty(rpc.get(), req, &resp), Ectx());
}

ExitStatus ProcessCore::Wait(const Context& ctx) {
  // containerd keeps no waiter across its own restart, but the shim keeps the process and its
  // exit status: when the connection drops (or the daemon is down when we start), wait for
  // the daemon to serve again and ask again. An exit that happened meanwhile is the answer to
  // the new Tasks.Wait (containerd 1.6 reloads the task from its shim before it serves).
  bool reconnected = false;
  Log(LogLevel::kDebug, "Tasks.Wait " + container_id_ + (exec_id_.empty() ? "" : "/" + exec_id_) +
                            ": waiting for the exit");
  for (;;) {
    std::string lost;
    {
      Rpc rpc(*conn_, ctx, "Tasks.Wait");
      tasks_v1::WaitRequest req;
      req.set_container_id(container_id_);
      req.set_exec_id(exec_id_);
      tasks_v1::WaitResponse resp;
      grpc::Status s = conn_->tasks().Wait(rpc.get(), req, &resp);
      if (s.ok()) {
        ExitStatus st{resp.exit_status(), FromProto(resp.exited_at())};
        std::lock_guard l(mu_);
        waited_ = st;
        return st;
      }
      if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && conn_->channel() &&
          conn_->channel()->GetState(false) != GRPC_CHANNEL_READY)
        // The deadline passed while the daemon did not answer at all: say so, as below.
        throw Error(ErrorKind::kUnavailable,
                    "containerd at " + conn_->options().address +
                        " did not answer before the Context's deadline (" + s.error_message() +
                        "); start containerd or give the call a later deadline",
                    {.op = "Tasks.Wait", .container_id = container_id_, .exec_id = exec_id_});
      if (!ConnectionLost(s, ctx)) {
        if (reconnected && s.error_code() == grpc::StatusCode::NOT_FOUND) {
          // Gone after the outage: its shim died and containerd removed the task, or someone
          // deleted it. An exit this Client already knows (delivered to the Backend, from the
          // event stream or its reconciliation) is the answer.
          if (auto* t = conn_->tracker()) {
            if (auto known = t->DeliveredExit(container_id_, exec_id_, pid())) {
              std::lock_guard l(mu_);
              waited_ = *known;
              return *known;
            }
          }
        }
        rpc.Check(s, Ectx());
      }
      lost = s.error_message().empty() ? "connection lost" : s.error_message();
    }
    Log(LogLevel::kWarning, "Tasks.Wait " + container_id_ +
                                (exec_id_.empty() ? "" : "/" + exec_id_) + ": containerd at " +
                                conn_->options().address + " unreachable (" + lost +
                                "); waiting for it to serve again");
    WaitForDaemon(*conn_, ctx, "Tasks.Wait", Ectx(), lost);
    reconnected = true;
  }
}

Status ProcessCore::GetStatus(const Context& ctx) {
  Rpc rpc(*conn_, ctx, "Tasks.Get");
  tasks_v1::GetRequest req;
  req.set_container_id(container_id_);
  req.set_exec_id(exec_id_);
  tasks_v1::GetResponse resp;
  rpc.Check(conn_->tasks().Get(rpc.get(), req, &resp), Ectx());
  return FromProtoStatus(resp.process().status());
}

Status ProcessCore::StatusOrUnknown(const Context& ctx) noexcept {
  try {
    return GetStatus(ctx);
  } catch (const std::exception&) {
    return Status::kUnknown;
  }
}

ExitStatus ProcessCore::Delete(const Context& ctx) {
  tasks_v1::DeleteResponse resp;
  grpc::Status s;
  {
    Rpc rpc(*conn_, ctx, exec_id_.empty() ? "Tasks.Delete" : "Tasks.DeleteProcess");
    if (exec_id_.empty()) {
      tasks_v1::DeleteTaskRequest req;
      req.set_container_id(container_id_);
      s = conn_->tasks().Delete(rpc.get(), req, &resp);
    } else {
      tasks_v1::DeleteProcessRequest req;
      req.set_container_id(container_id_);
      req.set_exec_id(exec_id_);
      s = conn_->tasks().DeleteProcess(rpc.get(), req, &resp);
    }
    if (!s.ok() && s.error_code() == grpc::StatusCode::UNKNOWN) {
      // The daemon reports "cannot delete a running process" without a code: ask its state.
      Status st = StatusOrUnknown(ctx);
      if (st == Status::kRunning || st == Status::kPaused || st == Status::kPausing)
        throw Error(ErrorKind::kFailedPrecondition,
                    "process is " + std::string(ToString(st)) +
                        ": stop it first (Kill, then Wait) or use ForceDelete",
                    {.op = "Delete", .container_id = container_id_, .exec_id = exec_id_});
    }
    if (task_gone_ && (s.ok() || s.error_code() == grpc::StatusCode::NOT_FOUND))
      task_gone_->store(true);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
      bool deleted;
      {
        std::lock_guard l(mu_);
        deleted = deleted_;
      }
      // Gone, though not deleted through this object: its shim died (containerd removed the
      // task), someone else deleted it, or our earlier Delete's answer was lost in a daemon
      // restart. A known exit is the answer; an unknown one still reaches the Backend.
      if (!deleted) {
        if (auto known = ForgetGoneProcess()) return *known;
      }
    }
    rpc.Check(s, Ectx());
  }
  {
    std::lock_guard l(mu_);
    deleted_ = true;
  }
  if (auto* t = conn_->tracker()) {
    EventInfo info;
    info.container_id = container_id_;
    info.process_id = process_id();
    info.pid = resp.pid() ? resp.pid() : pid();
    info.exit_code = resp.exit_status();
    info.exited_at = FromProto(resp.exited_at());
    conn_->EmitExit(info);
    t->UntrackProcess(container_id_, exec_id_);
  }
  DrainAndReleaseIO();
  return {resp.exit_status(), FromProto(resp.exited_at())};
}

void ProcessCore::DrainAndReleaseIO() noexcept {
  // The shim closed its ends: the copy reads to their end (ProcessStdio pokes the FIFOs for a
  // reader that attached after the exit).
  stdio_->DrainAndRelease();
}

std::optional<ExitStatus> ProcessCore::ForgetGoneProcess() {
  std::optional<ExitStatus> known;
  {
    std::lock_guard l(mu_);
    known = waited_;
  }
  auto* t = conn_->tracker();
  if (!known && t) known = t->DeliveredExit(container_id_, exec_id_, pid());
  if (t && pid() != 0) {
    EventInfo info;
    info.container_id = container_id_;
    info.process_id = process_id();
    info.pid = pid();
    if (known) {
      info.exit_code = known->exit_code;
      info.exited_at = known->exited_at;
    } else {
      info.exit_code = 255;
      info.exited_at = std::chrono::system_clock::now();
      info.error = "the process was removed before its exit was seen: exit status unknown";
    }
    conn_->EmitExit(info);  // a duplicate of a delivered exit is dropped there
    t->UntrackProcess(container_id_, exec_id_);
  }
  DrainAndReleaseIO();
  if (known) {
    std::lock_guard l(mu_);
    deleted_ = true;
    Log(LogLevel::kDebug, "Delete " + container_id_ + (exec_id_.empty() ? "" : "/" + exec_id_) +
                              ": already gone; reporting its known exit " +
                              std::to_string(known->exit_code));
  }
  return known;
}

PreparedIO PrepareIO(const Connection& conn, const std::string& container_id,
                     const std::string& name, bool with_stdin, bool terminal,
                     const StdioCallback& attach_stdio) {
  PreparedIO p;
  if (!attach_stdio) return p;  // all paths empty: /dev/null
  // p.fifos closes and removes the set if anything below throws.
  p.fifos = cio::CreateFifoSet(conn.ContainerStateDir(container_id), name, with_stdin, terminal);
  const std::shared_ptr<DirectIO>& fifos = p.fifos.io();
  p.config = fifos->Config();
  // The callback may start copying at once, and its stdin may end before ProcessCore::SetIO
  // installs the close hook.
  if (with_stdin) cio::DirectIOControl::ExpectStdinCloseHook(*fifos);
  p.io = attach_stdio(fifos);
  if (!p.io) p.io = fifos;
  return p;
}

}  // namespace libcontainerd::remote
