// lcd-monitor: one handler per request op (docs/direct-backend.md, the table of "Protocol").
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "log.h"
#include "monitor.h"
#include "process_io.h"

namespace lcdmon {
namespace {

using nlohmann::json;

const char* StateName(const Proc& p, bool paused) {
  switch (p.state) {
    case ProcState::kCreated:
      return "created";
    case ProcState::kRunning:
      return paused ? "paused" : "running";
    case ProcState::kStopped:
      break;
  }
  return "stopped";
}

Monitor::Reply Ok(json j = json::object()) {
  j["ok"] = true;
  return {false, Dump(j)};
}

Monitor::Reply Error(Kind kind, const std::string& message) {
  return {false, ErrorReply(kind, message)};
}

std::string NoExec(const std::string& exec) { return "exec " + exec + " not found"; }

}  // namespace

Monitor::Reply Monitor::RuntimeError(const char* what, const RuntimeResult& r) {
  if (r.spawn_errno == ENOENT)
    return Error(Kind::kNotFound, "OCI runtime " + options_.runtime + ": not found");
  if (r.timed_out)
    return Error(Kind::kDeadlineExceeded, std::string("OCI runtime ") + what + ": " + r.Message());
  return Error(Kind::kUnknown, std::string("OCI runtime ") + what + " failed: " + r.Message());
}

Monitor::Reply Monitor::Handle(Conn& conn, const Request& req) {
  const std::string& op = req.op;
  if (op == "state") return State();
  if (op == "start") return StartInit(req);
  if (op == "kill") return Kill(req);
  if (op == "exec") return Exec(req);
  if (op == "resize") return Resize(req);
  if (op == "close_stdin") return CloseStdin(req);
  if (op == "pause") return PauseResume(true);
  if (op == "resume") return PauseResume(false);
  if (op == "pids") return Pids();
  if (op == "update") return Update(req);
  if (op == "checkpoint") return Checkpoint(req);
  if (op == "wait") return Wait(conn, req);
  if (op == "delete") return Delete(req);
  if (op == "subscribe") return Subscribe(conn);
  return Error(Kind::kNotImplemented, "unknown op \"" + op + "\"");
}

Monitor::Reply Monitor::State() {
  Proc& in = init();
  json execs = json::array();
  for (auto& [id, p] : table_.all()) {
    if (id.empty()) continue;
    execs.push_back({{"id", id},
                     {"pid", p.pid},
                     {"status", StateName(p, false)},
                     {"exit_status", p.exit_status},
                     {"exited_at", p.exited_at}});
  }
  return Ok({{"status", StateName(in, paused_)},
             {"pid", in.pid},
             {"exit_status", in.exit_status},
             {"exited_at", in.exited_at},
             {"execs", std::move(execs)}});
}

Monitor::Reply Monitor::StartInit(const Request& req) {
  if (!req.exec.empty()) {
    if (!table_.Find(req.exec)) return Error(Kind::kNotFound, NoExec(req.exec));
    return Error(Kind::kFailedPrecondition,
                 "exec " + req.exec + " was started by its exec request");
  }
  Proc& in = init();
  // The containerd backend's wording: "already started" or "stopped", with the state.
  if (in.state == ProcState::kStopped)
    return Error(Kind::kFailedPrecondition,
                 "task is stopped: its process exited; Wait or Delete it (only a created task "
                 "can start)");
  if (in.state != ProcState::kCreated)
    return Error(Kind::kFailedPrecondition,
                 std::string("task is already started (") + StateName(in, paused_) + ")");
  std::string shortcut_error;
  switch (StartWithoutRuntime(&shortcut_error)) {
    case Shortcut::kDone:
      break;
    case Shortcut::kFailed:
      return Error(Kind::kUnknown, "OCI runtime start failed: " + shortcut_error);
    case Shortcut::kTimedOut:
      return Error(Kind::kDeadlineExceeded, "OCI runtime start: " + shortcut_error);
    case Shortcut::kFallBack: {
      RuntimeResult r = Call({"start", options_.id});
      if (!r.ok()) return RuntimeError("start", r);
      break;
    }
  }
  if (in.state == ProcState::kCreated)
    in.state = ProcState::kRunning;                        // it may have exited already
  Broadcast(Dump({{"event", "start"}, {"pid", in.pid}}));  // before that exit's event (FlushExits)
  return Ok({{"pid", in.pid}});
}

Monitor::Reply Monitor::Kill(const Request& req) {
  Proc* p = table_.Find(req.exec);
  if (!p) return Error(Kind::kNotFound, NoExec(req.exec));
  if (p->state == ProcState::kStopped) return Error(Kind::kNotFound, "process already finished");
  if (req.all) {
    if (!req.exec.empty()) return Error(Kind::kInvalidArgument, "kill all applies to init only");
    RuntimeResult r = Call({"kill", "--all", options_.id, std::to_string(req.signal)});
    if (!r.ok()) return RuntimeError("kill", r);
    return Ok();
  }
  if (p->pid <= 0) return Error(Kind::kFailedPrecondition, "the process has no pid yet");
  // The monitor reaps this pid, so until it did the pid cannot belong to another process.
  if (::kill(p->pid, req.signal) < 0) {
    if (errno == ESRCH) return Error(Kind::kNotFound, "process already finished");
    if (errno == EINVAL)
      return Error(Kind::kInvalidArgument, "invalid signal " + std::to_string(req.signal));
    return Error(Kind::kUnknown, std::string("kill: ") + strerror(errno));
  }
  return Ok();
}

Monitor::Reply Monitor::Exec(const Request& req) {
  const std::string& id = req.exec;
  if (id.empty()) return Error(Kind::kInvalidArgument, "exec needs an exec id");
  if (!ValidId(id))
    return Error(Kind::kInvalidArgument, "exec id \"" + id + "\" is not a valid id");
  if (id == "init")
    return Error(Kind::kInvalidArgument,
                 "exec id \"init\" is reserved (the name of init's exit record)");
  if (table_.Find(id)) return Error(Kind::kAlreadyExists, "exec " + id + " already exists");
  if (req.process.empty())
    return Error(Kind::kInvalidArgument, "exec needs process (the path of its process JSON)");
  if (init().state == ProcState::kStopped)
    return Error(Kind::kFailedPrecondition, "cannot exec in a stopped state");
  auto io = std::make_unique<ProcessIo>();
  if (std::string err = io->Open({req.stdin_path, req.stdout_path, req.stderr_path}, req.terminal);
      !err.empty())
    return Error(Kind::kUnknown, "exec " + id + ": " + err);
  Fd console;
  std::vector<std::string> args = {
      "exec", "--detach", "--pid-file", Path("exec/" + id + ".pid"), "--process", req.process};
  if (req.terminal) {
    if (std::string err = ListenConsole(Path("console.sock"), &console); !err.empty())
      return Error(Kind::kUnknown, "exec " + id + ": " + err);
    args.insert(args.end(), {"--console-socket", Path("console.sock")});
  }
  args.push_back(options_.id);
  table_.ForgetOrphans();  // from here on a reaped unknown pid may be this exec's
  int stdio[3] = {io->child_fd(0), io->child_fd(1), io->child_fd(2)};
  RuntimeResult r = Call(std::move(args), 60000, stdio);
  io->CloseChildFds();
  int pid = r.ok() ? ReadPidFile(Path("exec/" + id + ".pid")) : 0;
  Fd master;
  std::string err;
  if (r.ok() && req.terminal) err = ReceiveMaster(console.get(), &master);
  if (console) {
    console.reset();
    ::unlink(Path("console.sock").c_str());
  }
  if (r.ok() && pid <= 0) err = "the runtime's pid file exec/" + id + ".pid has no pid";
  if (!r.ok() || !err.empty()) {
    if (pid > 0)
      ::kill(pid, SIGKILL);  // a process we cannot serve; its exit is reaped as an orphan
    ::unlink(Path("exec/" + id + ".pid").c_str());
    if (!r.ok()) return RuntimeError("exec", r);
    return Error(Kind::kUnknown, "exec " + id + ": " + err);
  }
  Proc& p = table_.Add(id);
  p.io = std::move(io);
  if (master) p.io->SetMaster(std::move(master));
  p.state = ProcState::kRunning;
  bool exited = table_.SetPid(p, pid);
  Broadcast(Dump({{"event", "exec-added"}, {"exec", id}}));
  Broadcast(Dump({{"event", "exec-started"}, {"exec", id}, {"pid", pid}}));
  if (exited) {  // reaped during the runtime call, before its pid was known
    Log("exec %s (pid %d) was reaped before its pid file was read", id.c_str(), pid);
    RecordExit(p);
  }
  return Ok({{"pid", pid}});
}

Monitor::Reply Monitor::Resize(const Request& req) {
  Proc* p = table_.Find(req.exec);
  if (!p) return Error(Kind::kNotFound, NoExec(req.exec));
  if (!p->io || !p->io->has_master())
    return Error(Kind::kFailedPrecondition, "the process has no terminal");
  if (std::string err = p->io->Resize(req.width, req.height); !err.empty())
    return Error(Kind::kUnknown, err);
  return Ok();
}

Monitor::Reply Monitor::CloseStdin(const Request& req) {
  Proc* p = table_.Find(req.exec);
  if (!p) return Error(Kind::kNotFound, NoExec(req.exec));
  if (p->io) p->io->CloseStdin();
  return Ok();
}

Monitor::Reply Monitor::PauseResume(bool pause) {
  Proc& in = init();
  const char* op = pause ? "pause" : "resume";
  if (in.state != ProcState::kRunning)
    return Error(Kind::kFailedPrecondition,
                 std::string("cannot ") + op + " a task in state " + StateName(in, paused_));
  RuntimeResult r = Call({op, options_.id});
  if (!r.ok()) return RuntimeError(op, r);
  paused_ = pause && in.state == ProcState::kRunning;
  Broadcast(pause ? "{\"event\":\"paused\"}" : "{\"event\":\"resumed\"}");
  return Ok();
}

Monitor::Reply Monitor::Pids() {
  RuntimeResult r = Call({"ps", "--format", "json", options_.id});
  if (!r.ok()) return RuntimeError("ps", r);
  std::vector<int> pids;
  if (!ParsePids(r.out, &pids))
    return Error(Kind::kUnknown, "OCI runtime ps: output is no JSON array of pids");
  json list = json::array();
  for (int pid : pids) {
    Proc* p = table_.FindLive(pid);
    list.push_back({{"pid", pid}, {"exec", p ? p->id : std::string()}});
  }
  return Ok({{"pids", std::move(list)}});
}

Monitor::Reply Monitor::Update(const Request& req) {
  if (req.resources.empty())
    return Error(Kind::kInvalidArgument, "update needs resources (the path of its JSON)");
  RuntimeResult r = Call({"update", "--resources", req.resources, options_.id});
  if (!r.ok()) return RuntimeError("update", r);
  return Ok();
}

Monitor::Reply Monitor::Checkpoint(const Request& req) {
  if (req.path.empty())
    return Error(Kind::kInvalidArgument, "checkpoint needs path (the image directory)");
  std::vector<std::string> args = {"checkpoint", "--image-path", req.path};
  if (!req.work_path.empty()) args.insert(args.end(), {"--work-path", req.work_path});
  if (!req.exit) args.push_back("--leave-running");
  args.push_back(options_.id);
  RuntimeResult r = Call(std::move(args), 0);
  if (!r.ok()) return RuntimeError("checkpoint", r);
  return Ok();
}

Monitor::Reply Monitor::Wait(Conn& conn, const Request& req) {
  Proc* p = table_.Find(req.exec);
  if (!p) return Error(Kind::kNotFound, NoExec(req.exec));
  if (p->state == ProcState::kStopped)
    return Ok({{"exit_status", p->exit_status}, {"exited_at", p->exited_at}});
  conn.waiting = true;  // answered by FlushExits; no other request is read meanwhile (order)
  conn.wait_exec = req.exec;
  return {true, {}};
}

Monitor::Reply Monitor::Delete(const Request& req) {
  if (!req.exec.empty()) {
    Proc* p = table_.Find(req.exec);
    if (!p) return Error(Kind::kNotFound, NoExec(req.exec));
    if (p->state != ProcState::kStopped)
      return Error(Kind::kFailedPrecondition, "cannot delete a running process");
    Reply reply = Ok({{"exit_status", p->exit_status}, {"exited_at", p->exited_at}});
    for (const std::string& f : {"exec/" + req.exec + ".pid", "exec/" + req.exec + ".json",
                                 "exit/" + req.exec, "exit/" + req.exec + ".delivered"})
      ::unlink(Path(f).c_str());
    table_.Remove(req.exec);
    return reply;
  }
  Proc& in = init();
  if (in.state == ProcState::kRunning)
    return Error(Kind::kFailedPrecondition,
                 std::string("cannot delete a ") + (paused_ ? "paused" : "running") + " task");
  if (in.state == ProcState::kCreated) {  // as containerd: a created task is killed first
    if (in.pid > 0) ::kill(in.pid, SIGKILL);
    if (!WaitForExit(in, 10000))
      return Error(Kind::kUnknown, "the created task did not die after SIGKILL");
  }
  // In the monitor when runc's record allows (shortcuts.cc), else the runtime. --force: the
  // container is stopped, and a runtime state that is already gone is no error.
  if (!DeleteWithoutRuntime()) {
    RuntimeResult r = Call({"delete", "--force", options_.id});
    if (!r.ok()) return RuntimeError("delete", r);
  }
  FlushExits();  // a created init's exit goes out before the monitor does
  exit_ = true;
  listener_.reset();
  RemoveTaskFiles();
  return Ok({{"exit_status", in.exit_status}, {"exited_at", in.exited_at}});
}

Monitor::Reply Monitor::Subscribe(Conn& conn) {
  conn.subscribed = true;  // the reply, then the replay of undelivered exits (OnReadable)
  return Ok();
}

}  // namespace lcdmon
