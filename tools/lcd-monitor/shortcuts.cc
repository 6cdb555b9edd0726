// lcd-monitor: `start` and `delete` of init without a runtime process, when the runtime is runc
// and its record shows nothing the monitor cannot do itself (docs/direct-backend.md, "Runtime
// calls the monitor makes without the runtime"). Each falls back to the runtime call otherwise.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "log.h"
#include "monitor.h"

namespace lcdmon {
namespace {

constexpr int kStartTimeoutMs = 60000;  // as a runtime call

int64_t MonotonicMs() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

}  // namespace

bool Monitor::ShortcutsAllowed() const {
  if (const char* e = getenv("LCD_MONITOR_NO_SHORTCUTS"); e && *e && strcmp(e, "0") != 0)
    return false;
  for (const std::string& a : options_.runtime_args)
    if (a.rfind("--systemd-cgroup", 0) == 0) return false;
  return true;
}

bool Monitor::ReadRuncState(RuncState* st) {
  std::string text;
  if (!ReadWholeFile(RuntimeStateDir() + "/state.json", &text, 16 << 20)) return false;
  if (!ParseRuncState(text, st)) {
    Log("%s/state.json is no runc record this monitor knows: the runtime is called",
        RuntimeStateDir().c_str());
    return false;
  }
  return st->init_pid > 0 && st->init_pid == init().pid;
}

// runc's `start` (runc 1.0-1.2 libcontainer exec()): open <state dir>/exec.fifo for reading,
// which lets init's blocked open for writing return; init writes one byte and execs the
// process (its end is close-on-exec: EOF); then the FIFO is removed, so that runc's state says
// running (a state directory with exec.fifo is "created" to runc).
Monitor::Shortcut Monitor::StartWithoutRuntime(std::string* error) {
  if (!ShortcutsAllowed() || getenv("NOTIFY_SOCKET")) return Shortcut::kFallBack;
  RuncState st;
  if (!ReadRuncState(&st) || st.poststart_hooks) return Shortcut::kFallBack;
  const std::string fifo_path = RuntimeStateDir() + "/exec.fifo";
  Fd fifo(::open(fifo_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) return Shortcut::kFallBack;  // not runc's layout any more: let the runtime do it
  struct stat sb {};
  if (::fstat(fifo.get(), &sb) != 0 || !S_ISFIFO(sb.st_mode)) return Shortcut::kFallBack;
  Proc& in = init();
  const int64_t deadline = MonotonicMs() + kStartTimeoutMs;
  size_t got = 0;
  bool hup = false;
  for (;;) {
    char buf[64];
    ssize_t n = ::read(fifo.get(), buf, sizeof buf);
    if (n > 0) {
      got += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      *error = "read " + fifo_path + ": " + strerror(errno);
      return Shortcut::kFailed;
    }
    if (n == 0 && got > 0) break;  // init wrote its byte and exec'd (or exited): started
    // n == 0 before any byte: no writer yet; EAGAIN: a writer, no byte yet.
    if (n == 0 && hup) {
      *error = "container process closed " + fifo_path + " without starting";
      return Shortcut::kFailed;
    }
    if (in.state == ProcState::kStopped) {
      *error = "container process is already dead";
      return Shortcut::kFailed;
    }
    const int64_t left = deadline - MonotonicMs();
    if (left <= 0) {
      *error = "the container's init did not start in " + std::to_string(kStartTimeoutMs) + " ms";
      return Shortcut::kTimedOut;
    }
    pollfd p[2] = {{fifo.get(), POLLIN, 0}, {reaper_.fd(), POLLIN, 0}};
    int r = ::poll(p, 2, static_cast<int>(left));
    if (r < 0 && errno != EINTR) {
      *error = std::string("poll: ") + strerror(errno);
      return Shortcut::kFailed;
    }
    if (r > 0 && (p[0].revents & (POLLHUP | POLLERR))) hup = true;
    if (r > 0 && p[1].revents) reaper_.Reap();
  }
  if (::unlink(fifo_path.c_str()) != 0 && errno != ENOENT)
    Log("unlink %s: %s (runc may call the container created)", fifo_path.c_str(), strerror(errno));
  return Shortcut::kDone;
}

// runc's `delete` of a stopped container (runc 1.0-1.1 destroy()): with its own PID namespace
// (nothing else to kill), no poststop hooks, the cgroupfs driver and no Intel RDT group, it
// removes the container's cgroup directories (cgroup_paths, sub-cgroups first) and its state
// directory. False (nothing or part of it done) leaves the rest to `runtime delete --force`.
bool Monitor::DeleteWithoutRuntime() {
  if (!ShortcutsAllowed()) return false;
  RuncState st;
  if (!ReadRuncState(&st)) return false;
  if (st.poststop_hooks || st.systemd_cgroup || st.rootless || st.intel_rdt || !st.own_pid_ns)
    return false;
  for (const std::string& path : st.cgroup_paths) {
    if (path.rfind("/sys/fs/cgroup/", 0) != 0) {
      Log("cgroup path %s is not under /sys/fs/cgroup: the runtime deletes", path.c_str());
      return false;
    }
    if (std::string err = RemoveCgroupTree(path); !err.empty()) {
      Log("%s: the runtime deletes", err.c_str());
      return false;
    }
  }
  if (std::string err = RemoveTree(RuntimeStateDir()); !err.empty()) {
    Log("%s: the runtime deletes", err.c_str());
    return false;
  }
  return true;
}

}  // namespace lcdmon
