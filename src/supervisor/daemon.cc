#include "supervisor/daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "libcontainerd/errors.h"

extern char** environ;

namespace libcontainerd::supervisor {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kSocketName = "containerd.sock";
constexpr const char* kInstallHint =
    "install Debian's `containerd` package (apt-get install containerd) or run scripts/setup";
constexpr const char* kStandardDirs[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                         "/usr/bin",        "/sbin",          "/bin"};

// Pids we spawned and have not reaped yet: only those are passed to waitpid, so a liveness
// check never steals the exit status of another child of the program.
struct Children {
  std::mutex mu;
  std::set<pid_t> pids;
};
Children& OurChildren() {
  static Children c;
  return c;
}

std::string EscapeToml(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

bool ReadWholeFile(const std::string& path, std::string* out) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf, static_cast<std::size_t>(n));
  }
}

void WriteAll(int fd, const std::string& data, const std::string& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno(ErrorKind::kUnknown, errno, "write", {.op = "Supervisor", .path = path});
    off += static_cast<std::size_t>(n);
  }
}

bool Executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

void MkdirOne(const std::string& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) == 0) return;
  int err = errno;
  struct stat st {};
  if (err == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return;
  if (err == EEXIST) err = ENOTDIR;
  ThrowErrno(ErrorKind::kFailedPrecondition, err,
             "cannot create the state root directory " + dir +
                 "; choose a writable directory as the Supervisor's root",
             {.op = "Supervisor", .path = dir});
}

}  // namespace

Paths MakePaths(const std::string& root) {
  const ErrorContext ctx{.op = "Supervisor", .path = root};
  if (root.empty() || root[0] != '/')
    throw Error(ErrorKind::kInvalidArgument,
                "the state root must be an absolute path, got '" + root + "'", ctx);
  for (unsigned char c : root)
    if (c < 0x20 || c == 0x7f)
      throw Error(ErrorKind::kInvalidArgument, "the state root contains a control character", ctx);
  // Normalise: collapse "//", drop trailing "/", refuse "." and "..".
  std::string norm;
  std::stringstream in(root);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (part.empty()) continue;
    if (part == "." || part == "..")
      throw Error(ErrorKind::kInvalidArgument,
                  "the state root must not contain '.' or '..' components: " + root, ctx);
    norm += "/" + part;
  }
  if (norm.empty())
    throw Error(ErrorKind::kInvalidArgument,
                "the state root cannot be '/': use a dedicated directory such as /run/lcd", ctx);
  Paths p;
  p.root = norm;
  p.config = norm + "/config.toml";
  p.socket = norm + "/" + kSocketName;
  p.ttrpc_socket = p.socket + ".ttrpc";
  p.debug_socket = norm + "/debug.sock";
  p.pid_file = norm + "/containerd.pid";
  p.log = norm + "/containerd.log";
  p.lock = norm + "/supervisor.lock";
  p.data_root = norm + "/root";
  p.state = norm + "/state";
  p.runc_root = norm + "/runc";
  for (const std::string* s : {&p.socket, &p.ttrpc_socket, &p.debug_socket}) {
    if (s->size() > kMaxSocketPath) {
      std::size_t longest = p.ttrpc_socket.size() - norm.size();
      throw Error(ErrorKind::kInvalidArgument,
                  "socket path " + *s + " is " + std::to_string(s->size()) +
                      " bytes, over the limit of " + std::to_string(kMaxSocketPath) +
                      " bytes for unix sockets (sun_path); choose a state root of at most " +
                      std::to_string(kMaxSocketPath - longest) +
                      " characters, e.g. /run/lcd or /tmp/lcd-<name>",
                  {.op = "Supervisor", .path = *s});
    }
  }
  return p;
}

void ValidateLogLevel(const std::string& level) {
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "fatal", "panic"};
  for (const char* l : kLevels)
    if (level == l) return;
  throw Error(ErrorKind::kInvalidArgument,
              "unknown containerd log level '" + level +
                  "' (use trace, debug, info, warn, error, fatal or panic)",
              {.op = "Supervisor"});
}

std::string ConfigToml(const Paths& p, const std::string& log_level) {
  std::ostringstream o;
  o << "# Written by libcontainerd's Supervisor; rewritten on every start.\n"
    << "version = 2\n"
    << "root = \"" << EscapeToml(p.data_root) << "\"\n"
    << "state = \"" << EscapeToml(p.state) << "\"\n"
    << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
    << "\n[grpc]\n"
    << "  address = \"" << EscapeToml(p.socket) << "\"\n"
    << "  max_recv_message_size = 16777216\n"
    << "  max_send_message_size = 16777216\n"
    << "\n[ttrpc]\n"
    << "  address = \"" << EscapeToml(p.ttrpc_socket) << "\"\n"
    << "\n[debug]\n"
    << "  address = \"" << EscapeToml(p.debug_socket) << "\"\n"
    << "  level = \"" << EscapeToml(log_level) << "\"\n";
  return o.str();
}

std::string ResolveBinary(const std::string& name) {
  const ErrorContext ctx{.op = "Supervisor", .path = name};
  if (name.empty())
    throw Error(ErrorKind::kInvalidArgument, "the containerd binary name is empty", ctx);
  if (name.find('/') != std::string::npos) {
    if (Executable(name)) return name;
    throw Error(ErrorKind::kNotFound,
                "containerd binary " + name + " is missing or not executable: " + kInstallHint,
                ctx);
  }
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream in(path);
    std::string d;
    while (std::getline(in, d, ':'))
      if (!d.empty()) dirs.push_back(d);
  }
  for (const char* d : kStandardDirs) dirs.emplace_back(d);
  for (const auto& d : dirs) {
    std::string candidate = d + "/" + name;
    if (Executable(candidate)) return candidate;
  }
  throw Error(ErrorKind::kNotFound,
              "containerd binary '" + name + "' not found in PATH or " +
                  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin: " + kInstallHint,
              ctx);
}

void PrepareRoot(const Paths& paths) {
  std::string cur;
  std::stringstream in(paths.root);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (part.empty()) continue;
    cur += "/" + part;
    MkdirOne(cur, 0711);
  }
  std::string probe = paths.root + "/.write-probe-" + std::to_string(::getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno != EEXIST)
    ThrowErrno(ErrorKind::kFailedPrecondition, errno,
               "the state root " + paths.root +
                   " is not writable; choose a writable directory as the Supervisor's root",
               {.op = "Supervisor", .path = paths.root});
  if (fd >= 0) ::close(fd);
  ::unlink(probe.c_str());
  MkdirOne(paths.runc_root, 0711);
}

void WriteFileAtomic(const std::string& path, const std::string& content, mode_t mode) {
  static std::atomic<unsigned> counter{0};
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(++counter);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd)
    ThrowErrno(ErrorKind::kUnknown, errno, "create " + tmp, {.op = "Supervisor", .path = tmp});
  try {
    WriteAll(fd.get(), content, tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    ThrowErrno(ErrorKind::kUnknown, err, "rename " + tmp, {.op = "Supervisor", .path = path});
  }
}

RootLock::RootLock(const Paths& paths, std::chrono::milliseconds timeout) {
  fd_.reset(::open(paths.lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd_)
    ThrowErrno(ErrorKind::kFailedPrecondition, errno,
               "cannot open the supervisor lock file; is the state root writable?",
               {.op = "Supervisor", .path = paths.lock});
  auto deadline = Clock::now() + timeout;
  while (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      ThrowErrno(ErrorKind::kUnknown, errno, "flock", {.op = "Supervisor", .path = paths.lock});
    if (Clock::now() >= deadline)
      throw Error(ErrorKind::kDeadlineExceeded,
                  "another supervisor holds the lock of this state root for too long",
                  {.op = "Supervisor", .path = paths.lock});
    std::this_thread::sleep_for(20ms);
  }
}

pid_t ReadPidFile(const std::string& path) {
  std::string s;
  if (!ReadWholeFile(path, &s)) return 0;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || v <= 0 || v > 0x3fffffff) return 0;
  while (*end == '\n' || *end == ' ') ++end;
  if (*end != '\0') return 0;
  return static_cast<pid_t>(v);
}

pid_t SpawnDaemon(const std::string& binary, const Paths& paths) {
  const ErrorContext ctx{.op = "Supervisor", .path = binary};
  std::vector<std::string> args = {binary, "--config", paths.config};
  std::vector<std::string> env;
  bool have_path = false;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("PATH=", 0) == 0) {
      // containerd finds its shim and the shim finds runc through PATH.
      std::string dirs = ":" + kv.substr(5) + ":";
      for (const char* d : kStandardDirs)
        if (dirs.find(std::string(":") + d + ":") == std::string::npos) kv += std::string(":") + d;
      have_path = true;
    }
    env.push_back(std::move(kv));
  }
  if (!have_path)
    env.emplace_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, paths.log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc;
  {
    // Registered under the lock, so no liveness check can miss that it is ours.
    std::lock_guard l(OurChildren().mu);
    rc = ::posix_spawn(&pid, binary.c_str(), &fa, &attr, argv.data(), envp.data());
    if (rc == 0) OurChildren().pids.insert(pid);
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    ThrowErrno(rc == ENOENT ? ErrorKind::kNotFound : ErrorKind::kUnknown, rc,
               "cannot start " + binary + (rc == ENOENT ? std::string(": ") + kInstallHint : ""),
               ctx);
  return pid;
}

namespace {
// Reaps pid when it is our child and has ended. True when it was reaped (now or earlier by
// someone else), false while it runs or when it is not ours.
bool ReapIfOurs(pid_t pid, int* wait_status) {
  auto& c = OurChildren();
  std::lock_guard l(c.mu);
  if (!c.pids.count(pid)) return false;
  int st = 0;
  pid_t r = ::waitpid(pid, &st, WNOHANG);
  if (r == pid) {
    c.pids.erase(pid);
    if (wait_status) *wait_status = st;
    return true;
  }
  if (r < 0 && errno == ECHILD) {
    c.pids.erase(pid);
    return true;
  }
  return false;
}
}  // namespace

bool ProcessAlive(pid_t pid, int* wait_status) {
  if (pid <= 0) return false;
  if (ReapIfOurs(pid, wait_status)) return false;
  std::string stat;
  if (!ReadWholeFile("/proc/" + std::to_string(pid) + "/stat", &stat)) return false;
  auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  char state = stat[close + 2];
  if (state == 'Z' || state == 'X' || state == 'x') {
    // It is exiting. A multi-threaded leader shows 'Z' before its last thread is gone and
    // cannot be reaped until then: when it is ours, wait (briefly) for the reap, so no zombie
    // stays behind.
    for (int i = 0; i < 200 && !ReapIfOurs(pid, wait_status); ++i) {
      {
        std::lock_guard l(OurChildren().mu);
        if (!OurChildren().pids.count(pid)) break;
      }
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
  return true;
}

std::vector<std::string> Cmdline(pid_t pid) {
  std::vector<std::string> out;
  std::string raw;
  if (pid <= 0 || !ReadWholeFile("/proc/" + std::to_string(pid) + "/cmdline", &raw)) return out;
  std::size_t start = 0;
  while (start < raw.size()) {
    std::size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    out.push_back(raw.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool IsDaemonOf(pid_t pid, const Paths& paths) {
  if (!ProcessAlive(pid)) return false;
  auto argv = Cmdline(pid);
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if ((argv[i] == "--config" || argv[i] == "-c") && i + 1 < argv.size() &&
        argv[i + 1] == paths.config)
      return true;
    if (argv[i] == "--config=" + paths.config) return true;
  }
  return false;
}

std::vector<pid_t> FindDaemonsOf(const Paths& paths) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long v = std::strtol(e->d_name, &end, 10);
    if (v <= 0 || *end != '\0' || v == ::getpid()) continue;
    if (IsDaemonOf(static_cast<pid_t>(v), paths)) out.push_back(static_cast<pid_t>(v));
  }
  ::closedir(d);
  return out;
}

namespace {
bool WaitGone(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (ProcessAlive(pid)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}
}  // namespace

bool Terminate(pid_t pid, std::chrono::milliseconds grace) {
  if (!ProcessAlive(pid)) return true;
  ::kill(pid, SIGTERM);
  ::kill(pid, SIGCONT);  // a stopped process handles SIGTERM only once continued
  if (WaitGone(pid, grace)) return true;
  ::kill(pid, SIGKILL);
  return WaitGone(pid, 2s);
}

bool KillHard(pid_t pid, bool group) {
  if (pid <= 0) return true;
  if (group) ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  return WaitGone(pid, 2s);
}

void RemoveRuntimeFiles(const Paths& paths, pid_t pid) {
  pid_t recorded = ReadPidFile(paths.pid_file);
  std::vector<std::string> files = {paths.socket, paths.ttrpc_socket, paths.debug_socket};
  if (pid == 0 || recorded == pid || recorded == 0 || !ProcessAlive(recorded))
    files.push_back(paths.pid_file);
  for (const auto& f : files) {
    if (::unlink(f.c_str()) != 0 && errno != ENOENT)
      ThrowErrno(ErrorKind::kUnknown, errno, "remove " + f, {.op = "Supervisor", .path = f});
  }
}

off_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

std::string LogTail(const std::string& path, off_t offset, int lines) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "";
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return "";
  if (offset > st.st_size) offset = 0;
  off_t start = std::max(offset, st.st_size - static_cast<off_t>(16384));
  std::string data(static_cast<std::size_t>(st.st_size - start), '\0');
  ssize_t n = ::pread(fd.get(), data.data(), data.size(), start);
  if (n <= 0) return "";
  data.resize(static_cast<std::size_t>(n));
  while (!data.empty() && data.back() == '\n') data.pop_back();
  std::size_t pos = data.size();
  for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i)
    pos = data.rfind('\n', pos - 1);
  return pos == std::string::npos ? data : data.substr(pos + 1);
}

void AppendLogLine(const std::string& path, const std::string& message) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return;
  char ts[64] = "";
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  if (::gmtime_r(&now, &tm)) std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string line = std::string("time=\"") + ts +
                     "\" level=info msg=\"libcontainerd supervisor: " + message + "\"\n";
  ssize_t ignored = ::write(fd.get(), line.data(), line.size());
  (void)ignored;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "ended (wait status " + std::to_string(status) + ")";
}

}  // namespace libcontainerd::supervisor
