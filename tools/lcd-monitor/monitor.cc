#include "monitor.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "files.h"
#include "log.h"
#include "process_io.h"

namespace lcdmon {
namespace {

constexpr size_t kMaxMessage = 64 << 10;  // one request or reply (docs/direct-backend.md)
constexpr size_t kMaxConns = 256;
constexpr size_t kMaxQueued = 4096;  // messages a connection may owe before it is dropped

}  // namespace

Monitor::Monitor(Options options)
    : options_(std::move(options)),
      runtime_(options_, &reaper_),
      rbuf_(new char[kMaxMessage + 1]) {}

Monitor::~Monitor() = default;

int Monitor::Run() {
  Kind kind = Kind::kUnknown;
  std::string message;
  if (!Start(&kind, &message)) {
    Log("start failed (%s): %s", KindName(kind), message.c_str());
    CleanupFailedStart();
    WriteReady(ErrorReply(kind, message));
    return 1;
  }
  WriteReady(Dump({{"ok", true}, {"pid", init().pid}}));
  Log("ready, init pid %d", init().pid);
  malloc_trim(0);  // what start-up used goes back: an idle monitor stays small
  Serve();
  Log("init deleted, exiting");
  return 0;
}

RuntimeResult Monitor::Call(std::vector<std::string> args, int timeout_ms, const int* stdio) {
  RuntimeCall call;
  call.args = std::move(args);
  call.timeout_ms = timeout_ms;
  if (stdio)
    for (int i = 0; i < 3; ++i) call.stdio[i] = stdio[i];
  RuntimeResult r = runtime_.Run(call);
  if (!r.ok())
    Log("%s %s failed: %s", runtime_.binary().c_str(), call.args[0].c_str(), r.Message().c_str());
  return r;
}

void Monitor::Serve() {
  pollfd io_fds[3];
  while (!exit_) {
    pfds_.clear();
    pconn_.clear();
    pfds_.push_back({reaper_.fd(), POLLIN, 0});
    pconn_.push_back(nullptr);
    pfds_.push_back({conns_.size() < kMaxConns ? listener_.get() : -1, POLLIN, 0});
    pconn_.push_back(nullptr);
    pfds_.push_back({oom_.fd(), POLLIN, 0});
    pconn_.push_back(nullptr);
    size_t io_begin = pfds_.size();
    for (auto& [id, p] : table_.all()) {
      if (!p.io) continue;
      int n = p.io->PollFds(io_fds);
      for (int i = 0; i < n; ++i) {
        pfds_.push_back(io_fds[i]);
        pconn_.push_back(nullptr);
      }
    }
    size_t conn_begin = pfds_.size();
    for (auto& c : conns_) {
      short events = (c->subscribed || c->waiting) ? 0 : POLLIN;  // POLLHUP is reported anyway
      if (!c->out.empty()) events |= POLLOUT;
      pfds_.push_back({c->fd.get(), events, 0});
      pconn_.push_back(c.get());
    }
    int n = ::poll(pfds_.data(), pfds_.size(), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Log("poll: %s", strerror(errno));
      return;
    }
    // Order: exits first, then the copies (no handler has run yet, so every ProcessIo polled
    // still exists), then requests, which may add or remove processes.
    if (pfds_[0].revents) reaper_.Reap();
    bool pump = false;
    for (size_t i = io_begin; i < conn_begin; ++i) pump |= pfds_[i].revents != 0;
    if (pump)
      for (auto& [id, p] : table_.all())
        if (p.io && p.io->terminal()) p.io->Pump();
    if (pfds_[2].revents && oom_.OnReadable()) {
      Log("oom");
      Broadcast("{\"event\":\"oom\"}");
    }
    if (pfds_[1].revents) Accept();
    for (size_t i = conn_begin; i < pfds_.size() && !exit_; ++i) {
      Conn& c = *pconn_[i];
      short re = pfds_[i].revents;
      if (!re || c.dead) continue;
      if (re & POLLOUT) FlushOut(c);
      if (re & POLLIN) {
        OnReadable(c);
      } else if (re & (POLLHUP | POLLERR | POLLNVAL)) {
        c.dead = true;
      }
      FlushExits();
    }
    FlushExits();
    std::erase_if(conns_, [](const std::unique_ptr<Conn>& c) { return c->dead; });
  }
  for (auto& c : conns_) FlushOut(*c);  // the delete's reply, and events still queued
}

void Monitor::Accept() {
  // At the limit the rest wait in the listen backlog (their connect blocks) instead of being
  // closed, which a client would take for the monitor's death.
  while (conns_.size() < kMaxConns) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    auto c = std::make_unique<Conn>();
    c->fd.reset(fd);
    conns_.push_back(std::move(c));
  }
}

void Monitor::OnReadable(Conn& conn) {
  ssize_t n = ::recv(conn.fd.get(), rbuf_.get(), kMaxMessage + 1, MSG_DONTWAIT | MSG_TRUNC);
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) conn.dead = true;
    return;
  }
  if (n == 0) {
    conn.dead = true;
    return;
  }
  if (static_cast<size_t>(n) > kMaxMessage) {
    Send(conn, ErrorReply(Kind::kInvalidArgument, "a request is at most 64 KiB"));
    return;
  }
  Request req;
  std::string error;
  if (!ParseRequest(std::string_view(rbuf_.get(), static_cast<size_t>(n)), &req, &error)) {
    Send(conn, ErrorReply(Kind::kInvalidArgument, error));
    return;
  }
  Reply reply = Handle(conn, req);
  if (!reply.deferred) Send(conn, std::move(reply.text));
  if (req.op == "subscribe" && conn.subscribed) ReplayExits(conn);
}

void Monitor::Send(Conn& conn, std::string message) {
  if (conn.dead) return;
  if (conn.out.empty()) {
    ssize_t n = ::send(conn.fd.get(), message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return;
    if (errno != EAGAIN && errno != EINTR) {
      conn.dead = true;
      return;
    }
  }
  if (conn.out.size() >= kMaxQueued) {  // a client that stopped reading; exits are on disk
    Log("a client stopped reading: dropped");
    conn.dead = true;
    return;
  }
  conn.out.push_back(std::move(message));
}

void Monitor::FlushOut(Conn& conn) {
  while (!conn.out.empty() && !conn.dead) {
    const std::string& m = conn.out.front();
    ssize_t n = ::send(conn.fd.get(), m.data(), m.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) conn.dead = true;
      return;
    }
    conn.out.pop_front();
  }
}

void Monitor::Broadcast(const std::string& event) {
  for (auto& c : conns_)
    if (c->subscribed) Send(*c, event);
}

void Monitor::OnChildExit(int pid, int wait_status) {
  int status = ExitStatusFromWait(wait_status);
  Proc* p = table_.Reaped(pid, status, NowNanos());
  if (!p) return;  // a runtime helper, or an exec whose pid file is not read yet
  RecordExit(*p);
}

void Monitor::RecordExit(Proc& proc) {
  ExitRecord rec{proc.pid, proc.exit_status, proc.exited_at, proc.exit_error};
  std::string name = ExitName(proc.id);
  std::string err = WriteFileAtomic(Path("exit"), name, FormatExitRecord(rec));
  if (!err.empty())
    Log("exit of %s not persisted (reported anyway): %s", name.c_str(), err.c_str());
  Log("%s (pid %d) exited with %d", name.c_str(), proc.pid, proc.exit_status);
  if (proc.id.empty()) paused_ = false;
  if (proc.io) proc.io->CloseStdin();  // nobody reads it any more
  pending_exits_.push_back(proc.id);
}

void Monitor::FlushExits() {
  if (pending_exits_.empty()) return;
  std::vector<std::string> ids;
  ids.swap(pending_exits_);
  for (const std::string& id : ids) {
    Proc* p = table_.Find(id);
    if (!p || p->state != ProcState::kStopped) continue;
    Broadcast(ExitEvent(id, {p->pid, p->exit_status, p->exited_at, p->exit_error}));
    for (auto& c : conns_) {
      if (!c->waiting || c->wait_exec != id) continue;
      c->waiting = false;
      Send(*c, Dump({{"ok", true}, {"exit_status", p->exit_status}, {"exited_at", p->exited_at}}));
    }
  }
}

void Monitor::ReplayExits(Conn& conn) {
  DIR* dir = ::opendir(Path("exit").c_str());
  if (!dir) return;
  std::string text;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue;
    if (name.size() > 10 && name.compare(name.size() - 10, 10, ".delivered") == 0) continue;
    if (::access(Path("exit/" + name + ".delivered").c_str(), F_OK) == 0) continue;
    ExitRecord rec;
    if (!ReadWholeFile(Path("exit/" + name), &text) || !ParseExitRecord(text, &rec)) continue;
    Send(conn, ExitEvent(name == "init" ? "" : name, rec));
  }
  ::closedir(dir);
}

bool Monitor::WaitForExit(Proc& proc, int timeout_ms) {
  while (proc.state != ProcState::kStopped && timeout_ms > 0) {
    pollfd p{reaper_.fd(), POLLIN, 0};
    int step = timeout_ms < 100 ? timeout_ms : 100;
    ::poll(&p, 1, step);
    timeout_ms -= step;
    reaper_.Reap();
  }
  return proc.state == ProcState::kStopped;
}

void Monitor::RemoveTaskFiles() {
  for (const char* f : {"monitor.sock", "monitor.pid", "console.sock", "runtime.log"})
    ::unlink(Path(f).c_str());
}

}  // namespace lcdmon
