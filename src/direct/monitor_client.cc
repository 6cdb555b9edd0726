#include "direct/monitor_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "direct/records.h"
#include "libcontainerd/log.h"

extern char** environ;

namespace libcontainerd::direct {
namespace {

constexpr size_t kMaxMessage = 64 * 1024;

// The monitor is gone: a kNotFound the backend recognises without reading its text.
class MonitorGoneError final : public Error {
 public:
  MonitorGoneError(const std::string& task_dir, const ErrorContext& ectx, const std::string& why)
      : Error(ErrorKind::kNotFound,
              "the task's monitor is gone (" + why + " at " + SocketPath(task_dir) +
                  "): the task has stopped; Delete it",
              ectx) {}
};

// Milliseconds poll may wait before the Context's deadline (-1: none).
int PollTimeout(const Context& ctx) {
  auto d = ctx.deadline();
  if (!d) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*d - Context::Clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<int64_t>(left.count() + 1, 1 << 30));
}

UniqueFd Connect(const std::string& task_dir, const ErrorContext& ectx) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) ThrowErrno(ErrorKind::kUnknown, errno, "socket(AF_UNIX, SOCK_SEQPACKET)", ectx);
  std::string path = SocketPath(task_dir);
  UniqueFd dirfd;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    // Longer than the kernel's limit: reach it through the task directory's fd.
    dirfd.reset(::open(task_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dirfd) throw MonitorGoneError(task_dir, ectx, std::string(std::strerror(errno)));
    path = "/proc/self/fd/" + std::to_string(dirfd.get()) + "/monitor.sock";
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  for (;;) {
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
    if (errno == EINTR) continue;
    if (errno == ENOENT || errno == ECONNREFUSED || errno == ENOTDIR)
      throw MonitorGoneError(task_dir, ectx, std::strerror(errno));
    ThrowErrno(ErrorKind::kUnknown, errno, "cannot connect to the task's monitor",
               {.op = ectx.op,
                .container_id = ectx.container_id,
                .exec_id = ectx.exec_id,
                .path = SocketPath(task_dir)});
  }
  return fd;
}

void SendAll(int fd, const std::string& msg, const std::string& task_dir,
             const ErrorContext& ectx) {
  for (;;) {
    ssize_t n = ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL);
    if (n >= 0) return;
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET)
      throw MonitorGoneError(task_dir, ectx, "connection closed");
    ThrowErrno(ErrorKind::kUnknown, errno, "cannot send to the task's monitor", ectx);
  }
}

// One message; nullopt on EOF.
std::optional<std::string> RecvMessage(int fd, int flags) {
  std::string buf(kMaxMessage + 1, '\0');
  for (;;) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), flags);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return std::string();
    if (n < 0 && errno == ECONNRESET) return std::nullopt;
    if (n < 0) ThrowErrno(ErrorKind::kUnknown, errno, "cannot read from the task's monitor");
    if (n == 0) return std::nullopt;
    buf.resize(static_cast<size_t>(n));
    return buf;
  }
}

// Waits until fd is readable or the Context ends (cancellation shuts fd down).
void WaitReadable(int fd, const Context& ctx, const char* op) {
  for (;;) {
    ctx.ThrowIfDone(op);
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, PollTimeout(ctx));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) ThrowErrno(ErrorKind::kUnknown, errno, "poll");
    if (rc == 0) {
      ctx.ThrowIfDone(op);
      continue;
    }
    if (ctx.cancelled()) ctx.ThrowIfDone(op);
    return;
  }
}

nlohmann::json CheckReply(const std::string& msg, const ErrorContext& ectx) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(msg);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kUnknown,
                std::string("the task's monitor sent an undecodable reply: ") + e.what(), ectx);
  }
  if (!j.is_object())
    throw Error(ErrorKind::kUnknown, "the task's monitor sent a reply that is no object", ectx);
  if (j.value("ok", false)) return j;
  throw Error(KindFromWire(j.value("kind", "unknown")),
              j.value("message", std::string("the monitor gave no reason")), ectx);
}

nlohmann::json Exchange(int fd, const std::string& task_dir, const Context& ctx,
                        const nlohmann::json& request, const ErrorContext& ectx) {
  const char* op = ectx.op.empty() ? "monitor request" : ectx.op.c_str();
  ctx.ThrowIfDone(op);
  auto reg = ctx.OnCancel([fd] { ::shutdown(fd, SHUT_RDWR); });
  std::optional<std::string> msg;
  try {
    SendAll(fd, request.dump(), task_dir, ectx);
    WaitReadable(fd, ctx, op);
    msg = RecvMessage(fd, MSG_DONTWAIT);
  } catch (const Error&) {
    // A cancellation shuts the socket down: what the send or receive then sees is no
    // monitor's death.
    if (ctx.cancelled()) ctx.ThrowIfDone(op);
    throw;
  }
  if (ctx.cancelled()) ctx.ThrowIfDone(op);
  if (!msg) throw MonitorGoneError(task_dir, ectx, "connection closed without a reply");
  if (msg->empty()) throw Error(ErrorKind::kUnknown, "the task's monitor sent nothing", ectx);
  return CheckReply(*msg, ectx);
}

}  // namespace

ErrorKind KindFromWire(std::string_view k) noexcept {
  if (k == "not_found") return ErrorKind::kNotFound;
  if (k == "already_exists") return ErrorKind::kAlreadyExists;
  if (k == "failed_precondition") return ErrorKind::kFailedPrecondition;
  if (k == "invalid_argument") return ErrorKind::kInvalidArgument;
  if (k == "unavailable") return ErrorKind::kUnavailable;
  if (k == "deadline_exceeded") return ErrorKind::kDeadlineExceeded;
  if (k == "cancelled") return ErrorKind::kCancelled;
  if (k == "not_implemented") return ErrorKind::kNotImplemented;
  return ErrorKind::kUnknown;
}

bool IsMonitorGone(const Error& e) noexcept {
  return dynamic_cast<const MonitorGoneError*>(&e) != nullptr;
}

nlohmann::json Call(const std::string& task_dir, const Context& ctx, const nlohmann::json& request,
                    const ErrorContext& ectx) {
  UniqueFd fd = Connect(task_dir, ectx);
  return Exchange(fd.get(), task_dir, ctx, request, ectx);
}

UniqueFd Subscribe(const std::string& task_dir, const Context& ctx, const ErrorContext& ectx) {
  UniqueFd fd = Connect(task_dir, ectx);
  Exchange(fd.get(), task_dir, ctx, {{"op", "subscribe"}}, ectx);
  int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK);
  return fd;
}

std::optional<nlohmann::json> ReadEvent(int fd) {
  auto msg = RecvMessage(fd, MSG_DONTWAIT);
  if (!msg) throw MonitorGoneError("", {}, "connection closed");
  if (msg->empty()) return std::nullopt;
  try {
    return nlohmann::json::parse(*msg);
  } catch (const nlohmann::json::exception& e) {
    Log(LogLevel::kWarning, std::string("undecodable event from a monitor skipped: ") + e.what());
    return nlohmann::json::object();
  }
}

namespace {

void KillMonitorOf(const std::string& task_dir) {
  uint32_t pid = ReadPidFile(task_dir + "/monitor.pid");
  if (pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);
}

// A monitor that reported a failure exits by itself: wait (bounded) until it has, so that
// nothing of the task is left when NewTask throws; kill it past the bound.
void AwaitMonitorExit(const std::string& task_dir) {
  uint32_t pid = ReadPidFile(task_dir + "/monitor.pid");
  if (pid <= 1) return;
  for (int i = 0; i < 200 && ProcessAlive(pid); ++i) ::usleep(10000);
  if (ProcessAlive(pid)) {
    Log(LogLevel::kWarning, "the monitor (pid " + std::to_string(pid) +
                                ") did not exit after reporting a failure: killed");
    ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
}

std::string LogTail(const std::string& task_dir) {
  try {
    auto log = ReadFileIfExists(task_dir + "/monitor.log");
    if (!log || log->empty()) return "";
    while (!log->empty() && (log->back() == '\n' || log->back() == ' ')) log->pop_back();
    if (log->size() > 2000) *log = "..." + log->substr(log->size() - 2000);
    return " (its log: " + *log + ")";
  } catch (const Error&) {
    return "";
  }
}

}  // namespace

uint32_t StartMonitor(const Context& ctx, const MonitorLaunch& l, const ErrorContext& ectx) {
  std::vector<std::string> args = {l.monitor, "--id",           l.id,          "--bundle",
                                   l.bundle,  "--task-dir",     l.task_dir,    "--runtime",
                                   l.runtime, "--runtime-root", l.runtime_root};
  if (!l.stdin_path.empty()) args.insert(args.end(), {"--stdin", l.stdin_path});
  if (!l.stdout_path.empty()) args.insert(args.end(), {"--stdout", l.stdout_path});
  if (!l.stderr_path.empty()) args.insert(args.end(), {"--stderr", l.stderr_path});
  if (l.terminal) args.push_back("--terminal");
  for (const auto& a : l.runtime_args) args.insert(args.end(), {"--runtime-arg", a});
  if (l.no_pivot) args.push_back("--no-pivot");
  if (l.no_new_keyring) args.push_back("--no-new-keyring");
  if (!l.restore.empty()) args.insert(args.end(), {"--restore", l.restore});
  args.insert(args.end(), {"--ready-fd", "3", "--log", l.task_dir + "/monitor.log"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) ThrowErrno(ErrorKind::kUnknown, errno, "pipe2", ectx);
  UniqueFd rd(p[0]);
  UniqueFd wr(p[1]);
  if (wr.get() < 10) {
    // Keep the write end clear of 0..3, the numbers the child's dup2s write to.
    int moved = ::fcntl(wr.get(), F_DUPFD_CLOEXEC, 10);
    if (moved < 0) ThrowErrno(ErrorKind::kUnknown, errno, "fcntl(F_DUPFD_CLOEXEC)", ectx);
    wr.reset(moved);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, l.monitor.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  wr.reset();
  if (rc != 0)
    ThrowErrno(rc == ENOENT ? ErrorKind::kNotFound : ErrorKind::kUnknown, rc,
               "cannot start the monitor " + l.monitor, ectx);
  // The intermediate child exits once the monitor is detached: reap it.
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }

  // The ready line (the monitor holds the write end until it has written it).
  std::string line;
  try {
    auto reg = ctx.OnCancel([fd = rd.get()] { ::shutdown(fd, SHUT_RDWR); });
    char buf[4096];
    for (;;) {
      WaitReadable(rd.get(), ctx, ectx.op.c_str());
      ssize_t n = ::read(rd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowErrno(ErrorKind::kUnknown, errno, "reading the monitor's ready line", ectx);
      if (n == 0) break;
      line.append(buf, static_cast<size_t>(n));
      if (line.find('\n') != std::string::npos || line.size() > kMaxMessage) break;
    }
    if (ctx.cancelled()) ctx.ThrowIfDone(ectx.op.c_str());
  } catch (const Error&) {
    KillMonitorOf(l.task_dir);
    throw;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line.substr(0, line.find('\n')));
  } catch (const nlohmann::json::exception&) {
    KillMonitorOf(l.task_dir);
    std::string how = WIFEXITED(wstatus) ? "exit " + std::to_string(WEXITSTATUS(wstatus))
                                         : "signal " + std::to_string(WTERMSIG(wstatus));
    throw Error(ErrorKind::kUnknown,
                "the monitor " + l.monitor + " ended without a ready line (" + how + ", wrote \"" +
                    line + "\")" + LogTail(l.task_dir),
                ectx);
  }
  if (j.value("ok", false)) {
    uint32_t init = j.value("pid", 0u);
    return init;
  }
  AwaitMonitorExit(l.task_dir);
  throw Error(KindFromWire(j.value("kind", "unknown")),
              j.value("message", std::string("the monitor gave no reason")), ectx);
}

}  // namespace libcontainerd::direct
