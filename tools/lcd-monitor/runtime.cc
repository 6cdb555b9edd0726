#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "flags.h"
#include "log.h"

namespace lcdmon {

std::string Reaper::Init(ChildSink* sink) {
  sink_ = sink;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return std::string("signalfd: ") + strerror(errno);
  fd_.reset(fd);
  return "";
}

void Reaper::Reap() {
  signalfd_siginfo info[8];
  while (::read(fd_.get(), info, sizeof info) > 0) {
  }
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    if (pid == watched_) {
      watched_ = -1;
      collected_ = true;
      status_ = status;
    } else if (sink_) {
      sink_->OnChildExit(pid, status);
    }
  }
}

bool Reaper::Collected(int* status) {
  if (!collected_) return false;
  collected_ = false;
  *status = status_;
  return true;
}

bool RuntimeResult::ok() const {
  return spawn_errno == 0 && !timed_out && WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
}

namespace {

std::string Trim(std::string_view s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) s.remove_prefix(1);
  return std::string(s);
}

void ReadSome(int fd, std::string* into, size_t cap, bool* eof) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      size_t room = into->size() < cap ? cap - into->size() : 0;
      into->append(buf, std::min(room, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || errno != EAGAIN) *eof = true;
    return;
  }
}

std::string ReadFile(const std::string& path, size_t cap) {
  std::string s;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return s;
  bool eof = false;
  while (!eof && s.size() < cap) ReadSome(fd.get(), &s, cap, &eof);
  return s;
}

// The kernel's struct sigaction (x86-64 and arm64 layouts agree for what is set here).
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};

// fork + exec of the runtime with `fds` as its 0, 1, 2 and a clean signal state: every
// disposition default (glibc's posix_spawn leaves its internal signals 32/33 ignored, and the
// runtime would pass that on to the container), nothing blocked. The monitor is one thread, so
// the child may call anything. Returns the pid, or -1 with *spawn_errno (exec's errno: ENOENT for
// a missing binary).
pid_t Spawn(const std::string& binary, char* const* argv, const int fds[3], int* spawn_errno) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0) {
    *spawn_errno = errno;
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    KernelSigaction dfl{SIG_DFL, 0, nullptr, 0};
    for (long sig = 1; sig <= 64; ++sig)
      if (sig != SIGKILL && sig != SIGSTOP)
        syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(uint64_t));
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int moved[3] = {-1, -1, -1};
    for (int i = 0; i < 3; ++i) {  // above 2 first, so that no dup2 overwrites a later source
      moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
      if (moved[i] < 0) break;
    }
    for (int i = 0; i < 3; ++i)
      if (moved[i] < 0 || dup2(moved[i], i) < 0) {
        int e = errno;
        ssize_t w = ::write(report[1], &e, sizeof e);
        (void)w;
        _exit(127);
      }
    if (binary.find('/') == std::string::npos) {
      execvp(binary.c_str(), argv);
    } else {
      execv(binary.c_str(), argv);
    }
    int e = errno;
    ssize_t w = ::write(report[1], &e, sizeof e);
    (void)w;
    _exit(127);
  }
  int fork_errno = errno;
  ::close(report[1]);
  if (pid < 0) {
    ::close(report[0]);
    *spawn_errno = fork_errno;
    return -1;
  }
  int e = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof e)) {  // exec failed: the child is gone, reap it here
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    *spawn_errno = e;
    return -1;
  }
  return pid;
}
}  // namespace

std::string RuntimeResult::Message() const {
  if (spawn_errno) return std::string("cannot run the runtime: ") + strerror(spawn_errno);
  if (timed_out) return "the runtime did not finish in time and was killed";
  if (!log_error.empty()) return log_error;
  std::string e = Trim(err);
  if (!e.empty()) return e;
  if (WIFSIGNALED(wait_status))
    return "the runtime was killed by signal " + std::to_string(WTERMSIG(wait_status));
  return "the runtime exited with status " + std::to_string(WEXITSTATUS(wait_status)) +
         " and no message";
}

std::string LastLogError(std::string_view log) {
  std::string found;
  while (!log.empty()) {
    size_t nl = log.find('\n');
    std::string_view line = log.substr(0, nl);
    log = nl == std::string_view::npos ? std::string_view() : log.substr(nl + 1);
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    auto level = j.find("level"), msg = j.find("msg");
    if (level == j.end() || msg == j.end() || !level->is_string() || !msg->is_string()) continue;
    const auto& l = level->get_ref<const std::string&>();
    if (l == "error" || l == "fatal" || l == "panic") found = msg->get<std::string>();
  }
  return found;
}

bool ParsePids(std::string_view json_text, std::vector<int>* pids) {
  auto j = nlohmann::json::parse(json_text.begin(), json_text.end(), nullptr, false);
  pids->clear();
  if (j.is_null()) return true;
  if (j.is_discarded() || !j.is_array()) return false;
  for (const auto& v : j) {
    if (!v.is_number_integer()) return false;
    pids->push_back(v.get<int>());
  }
  return true;
}

bool ParseRuncState(std::string_view json_text, RuncState* out) {
  using nlohmann::json;
  *out = RuncState{};
  auto j = json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto pid = j.find("init_process_pid");
  auto config = j.find("config");
  auto paths = j.find("cgroup_paths");
  if (pid == j.end() || !pid->is_number_integer() || config == j.end() || !config->is_object() ||
      paths == j.end() || !(paths->is_object() || paths->is_null()))
    return false;
  out->init_pid = pid->get<int>();
  auto ns = config->find("namespaces");
  auto cg = config->find("cgroups");
  if (ns == config->end() || !(ns->is_array() || ns->is_null()) || cg == config->end() ||
      !cg->is_object())
    return false;
  if (ns->is_array())
    for (const auto& n : *ns) {
      if (!n.is_object()) return false;
      if (n.value("type", "") == "NEWPID" && n.value("path", "").empty()) out->own_pid_ns = true;
    }
  auto flag = [](const json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_boolean() && it->get<bool>();
  };
  out->systemd_cgroup = flag(*cg, "Systemd");
  out->rootless = flag(*cg, "Rootless") || flag(j, "rootless");
  auto rdt_path = j.find("intel_rdt_path");
  auto rdt = config->find("intel_rdt");
  out->intel_rdt = (rdt_path != j.end() && rdt_path->is_string() &&
                    !rdt_path->get_ref<const std::string&>().empty()) ||
                   (rdt != config->end() && !rdt->is_null());
  auto nonempty = [](const json& hooks, const char* key) {
    auto it = hooks.find(key);
    return it != hooks.end() && !it->is_null() && !it->empty();
  };
  for (const char* key : {"Hooks", "hooks"}) {
    auto h = config->find(key);
    if (h == config->end() || h->is_null()) continue;
    if (!h->is_object()) return false;
    out->poststart_hooks |= nonempty(*h, "poststart");
    out->poststop_hooks |= nonempty(*h, "poststop");
  }
  if (paths->is_object())
    for (const auto& [k, v] : paths->items()) {
      if (!v.is_string()) return false;
      if (!v.get_ref<const std::string&>().empty())
        out->cgroup_paths.push_back(v.get<std::string>());
    }
  return true;
}

Runtime::Runtime(const Options& options, Reaper* reaper)
    : binary_(options.runtime), log_path_(options.task_dir + "/runtime.log"), reaper_(reaper) {
  global_ = options.runtime_args;
  global_.insert(global_.end(),
                 {"--root", options.runtime_root, "--log", log_path_, "--log-format", "json"});
}

RuntimeResult Runtime::Run(const RuntimeCall& call) {
  RuntimeResult r;
  if (reaper_->fd() < 0) {  // no SIGCHLD to learn the runtime's end from
    r.spawn_errno = EBADF;
    return r;
  }
  std::vector<char*> argv;
  argv.reserve(global_.size() + call.args.size() + 2);
  argv.push_back(const_cast<char*>(binary_.c_str()));
  for (auto& a : global_) argv.push_back(const_cast<char*>(a.c_str()));
  for (auto& a : call.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  // A fresh log per call: its last error is this call's.
  Fd truncated(::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));

  Fd pipes[3];  // read ends of captured stdout/stderr
  Fd child_ends[3];
  int child_fds[3];
  for (int i = 0; i < 3; ++i) {
    int fd = call.stdio[i];
    if (fd < 0 && i == 0) {
      child_ends[0].reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      fd = child_ends[0].get();
    } else if (fd < 0) {
      int p[2];
      if (pipe2(p, O_CLOEXEC) < 0) {
        r.spawn_errno = errno;
        return r;
      }
      pipes[i].reset(p[0]);
      child_ends[i].reset(p[1]);
      fcntl(p[0], F_SETFL, O_NONBLOCK);
      fd = p[1];
    }
    child_fds[i] = fd;
  }
  pid_t pid = Spawn(binary_, argv.data(), child_fds, &r.spawn_errno);
  for (auto& e : child_ends) e.reset();
  if (pid < 0) return r;
  reaper_->Watch(pid);
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  bool reaped = false;
  bool eof[3] = {true, !pipes[1], !pipes[2]};
  while (!reaped) {
    pollfd fds[3] = {{reaper_->fd(), POLLIN, 0}, {-1, 0, 0}, {-1, 0, 0}};
    for (int i = 1; i < 3; ++i)
      if (!eof[i]) fds[i] = {pipes[i].get(), POLLIN, 0};
    int wait_ms = -1;
    if (call.timeout_ms > 0 && !r.timed_out) {
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      wait_ms = elapsed >= call.timeout_ms ? 0 : static_cast<int>(call.timeout_ms - elapsed);
      if (wait_ms == 0) {
        Log("%s %s: no answer in %d ms, killing it", binary_.c_str(),
            call.args.empty() ? "" : call.args[0].c_str(), call.timeout_ms);
        ::kill(pid, SIGKILL);
        r.timed_out = true;
        wait_ms = -1;
      }
    }
    int n = ::poll(fds, 3, wait_ms);
    if (n < 0 && errno != EINTR) {
      // Not answered: the runtime is killed (the reaper collects it) and the call fails.
      r.spawn_errno = errno;
      Log("%s: poll failed (%s): killing the runtime", binary_.c_str(), strerror(errno));
      ::kill(pid, SIGKILL);
      break;
    }
    if (n <= 0) continue;
    if (fds[1].revents) ReadSome(pipes[1].get(), &r.out, 1 << 20, &eof[1]);
    if (fds[2].revents) ReadSome(pipes[2].get(), &r.err, 64 << 10, &eof[2]);
    if (fds[0].revents) {
      reaper_->Reap();
      reaped = reaper_->Collected(&r.wait_status);
    }
  }
  // What the runtime wrote before it exited is in the pipes; a process it left behind (the
  // container's init holds its stdio until start) may keep them open, so no EOF is awaited.
  if (!eof[1]) ReadSome(pipes[1].get(), &r.out, 1 << 20, &eof[1]);
  if (!eof[2]) ReadSome(pipes[2].get(), &r.err, 64 << 10, &eof[2]);
  if (!r.ok()) r.log_error = LastLogError(ReadFile(log_path_, 256 << 10));
  return r;
}

}  // namespace lcdmon
