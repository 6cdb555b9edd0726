// The Supervisor: start or adopt a private containerd, watch it, restart it, stop it.
// Every change of the daemon of a root happens under RootLock (an flock shared by every
// Supervisor of that root, in any process) and, within one object, under op_mu.
#include "libcontainerd/supervisor.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"
#include "supervisor/daemon.h"
#include "supervisor/health.h"

namespace libcontainerd {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace sv = supervisor;

namespace {

std::string JoinArgs(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s.empty() ? "<none>" : s;
}

long long Ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Stops every daemon of the root (the hinted pid, the pid file's, any found in /proc) and
// removes the pid file and sockets. Caller holds the RootLock. Returns whether one ran.
bool StopRoot(const sv::Paths& paths, pid_t hint, std::chrono::milliseconds grace) {
  std::set<pid_t> targets;
  for (pid_t p : {hint, sv::ReadPidFile(paths.pid_file)})
    if (sv::IsDaemonOf(p, paths)) targets.insert(p);
  for (pid_t p : sv::FindDaemonsOf(paths)) targets.insert(p);
  for (pid_t p : targets) {
    sv::AppendLogLine(paths.log, "stopping containerd pid " + std::to_string(p));
    Log(LogLevel::kInfo,
        "supervisor " + paths.root + ": stopping containerd pid " + std::to_string(p));
    if (!sv::Terminate(p, grace))
      throw Error(ErrorKind::kUnknown,
                  "containerd pid " + std::to_string(p) + " did not exit even after SIGKILL",
                  {.op = "Supervisor.Stop", .path = paths.root});
  }
  sv::RemoveRuntimeFiles(paths, 0);
  return !targets.empty();
}

}  // namespace

struct Supervisor::Impl {
  SupervisorOptions opts;
  sv::Paths paths;
  std::string binary;
  bool adopted = false;

  std::mutex op_mu;  // serialises start / recover / stop of this object
  std::atomic<pid_t> pid{0};
  std::atomic<bool> owned{false};  // this object started the current daemon
  std::atomic<bool> stopped{false};
  std::atomic<bool> aborting{false};  // Stop() in progress: abandon a restart
  std::atomic<int> restarts{0};

  std::mutex watch_mu;
  std::condition_variable watch_cv;
  bool watch_stop = false;
  std::thread watcher;
  std::mutex join_mu;  // two threads may stop at once: one joins

  void Note(LogLevel level, const std::string& msg) {
    sv::AppendLogLine(paths.log, msg);
    Log(level, "supervisor " + paths.root + ": " + msg);
  }

  // Waits until pid (a daemon of this root, not necessarily ours) answers; false when it dies
  // or the deadline passes.
  bool WaitHealthy(pid_t p, Clock::time_point deadline) {
    for (;;) {
      if (!sv::IsDaemonOf(p, paths)) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (sv::CheckHealth(paths.socket, std::clamp(left, 50ms, 500ms))) return true;
      if (Clock::now() >= deadline || aborting) return false;
      std::this_thread::sleep_for(50ms);
    }
  }

  // Starts a new daemon and waits until it serves. Caller holds op_mu and the RootLock, and
  // has made sure no daemon of this root runs. On failure nothing is left running.
  void StartFresh() {
    sv::WriteFileAtomic(paths.config, sv::ConfigToml(paths, opts.log_level), 0600);
    sv::RemoveRuntimeFiles(paths, 0);
    const off_t log_offset = sv::FileSize(paths.log);
    sv::AppendLogLine(paths.log, "starting " + binary + " --config " + paths.config);
    const auto t0 = Clock::now();
    pid_t p = sv::SpawnDaemon(binary, paths);
    auto fail = [&](ErrorKind kind, const std::string& what) {
      sv::KillHard(p, true);
      try {
        sv::RemoveRuntimeFiles(paths, 0);
      } catch (const Error& e) {
        Log(LogLevel::kWarning, e.what());
      }
      std::string tail = sv::LogTail(paths.log, log_offset, 12);
      throw Error(kind,
                  "containerd (pid " + std::to_string(p) + ") " + what + "; last lines of " +
                      paths.log + ":\n" + (tail.empty() ? "<empty>" : tail),
                  {.op = "Supervisor.Start", .path = paths.root});
    };
    try {
      sv::WriteFileAtomic(paths.pid_file, std::to_string(p) + "\n", 0644);
    } catch (const Error& e) {
      fail(ErrorKind::kFailedPrecondition, std::string("could not get a pid file: ") + e.what());
    }
    const auto deadline = t0 + opts.start_timeout;
    for (;;) {
      int status = -1;
      if (!sv::ProcessAlive(p, &status))
        fail(ErrorKind::kUnavailable,
             (status != -1 ? sv::DescribeWaitStatus(status) : std::string("exited")) +
                 " before serving on " + paths.socket);
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (sv::CheckHealth(paths.socket, std::clamp(left, 50ms, 500ms))) break;
      if (aborting) fail(ErrorKind::kCancelled, "was abandoned: the supervisor is stopping");
      if (Clock::now() >= deadline)
        fail(ErrorKind::kDeadlineExceeded, "did not serve on " + paths.socket + " within " +
                                               std::to_string(opts.start_timeout.count()) +
                                               " ms and was killed");
      std::this_thread::sleep_for(20ms);
    }
    pid = p;
    owned = true;
    Note(LogLevel::kInfo, "containerd pid " + std::to_string(p) + " serving on " + paths.socket +
                              " after " + std::to_string(Ms(Clock::now() - t0)) + " ms");
  }

  // Construction: adopt the root's running daemon or start one.
  void EnsureRunning() {
    std::lock_guard ol(op_mu);
    sv::RootLock lock(paths, opts.start_timeout);
    const pid_t recorded = sv::ReadPidFile(paths.pid_file);
    pid_t candidate = 0;
    if (sv::IsDaemonOf(recorded, paths)) {
      candidate = recorded;
    } else {
      if (::access(paths.pid_file.c_str(), F_OK) == 0) {
        std::string why = recorded == 0 ? "holds no pid"
                          : !sv::ProcessAlive(recorded)
                              ? "names pid " + std::to_string(recorded) + ", which is not running"
                              : "names pid " + std::to_string(recorded) +
                                    ", which is not this root's containerd (" +
                                    JoinArgs(sv::Cmdline(recorded)) +
                                    "); that process is left alone";
        Note(LogLevel::kWarning, "stale pid file " + paths.pid_file + " " + why);
      }
      auto found = sv::FindDaemonsOf(paths);
      if (!found.empty()) {
        candidate = found.front();
        Note(LogLevel::kWarning, "found containerd pid " + std::to_string(candidate) +
                                     " of this root without a valid pid file; adopting it");
      }
    }
    if (candidate != 0) {
      if (WaitHealthy(candidate, Clock::now() + opts.start_timeout)) {
        if (recorded != candidate)
          sv::WriteFileAtomic(paths.pid_file, std::to_string(candidate) + "\n", 0644);
        pid = candidate;
        adopted = true;
        Note(LogLevel::kInfo,
             "adopted containerd pid " + std::to_string(candidate) + " serving on " + paths.socket);
        return;
      }
      if (sv::IsDaemonOf(candidate, paths)) {
        Note(LogLevel::kWarning, "containerd pid " + std::to_string(candidate) +
                                     " does not answer; killing it and starting a new one");
        sv::KillHard(candidate, false);
      }
    }
    StartFresh();
  }

  enum class Outcome { kRecovered, kReleased, kFailed };

  // The watch saw daemon `seen` die or hang: adopt a replacement someone else started, or
  // replace it.
  Outcome Recover(pid_t seen, const std::string& reason) {
    std::lock_guard ol(op_mu);
    if (aborting) return Outcome::kReleased;
    try {
      sv::RootLock lock(paths, opts.start_timeout);
      const pid_t recorded = sv::ReadPidFile(paths.pid_file);
      // A missing pid file means a deliberate stop, unless our own failed restart removed it
      // (seen == 0).
      if (seen != 0 && recorded == 0 && ::access(paths.pid_file.c_str(), F_OK) != 0 &&
          !sv::IsDaemonOf(seen, paths)) {
        Note(LogLevel::kInfo, "containerd was stopped by another supervisor; no longer watching");
        pid = 0;
        owned = false;
        return Outcome::kReleased;
      }
      // Never start a second daemon on a root: one that runs (started by another supervisor)
      // is followed; whether it answers is the watch's business from now on.
      pid_t other = recorded != seen && sv::IsDaemonOf(recorded, paths) ? recorded : 0;
      if (other == 0)
        for (pid_t p : sv::FindDaemonsOf(paths))
          if (p != seen) other = p;
      if (other != 0) {
        if (other != recorded)
          sv::WriteFileAtomic(paths.pid_file, std::to_string(other) + "\n", 0644);
        pid = other;
        owned = false;
        Note(LogLevel::kInfo, "now watching containerd pid " + std::to_string(other) +
                                  ", started by another supervisor");
        return Outcome::kRecovered;
      }
      Note(LogLevel::kWarning,
           "containerd pid " + std::to_string(seen) + " " + reason + "; restarting it");
      if (sv::IsDaemonOf(seen, paths)) sv::KillHard(seen, false);
      const auto t0 = Clock::now();
      StartFresh();
      ++restarts;
      Note(LogLevel::kWarning, "containerd restarted: pid " + std::to_string(seen) + " -> " +
                                   std::to_string(pid.load()) + " in " +
                                   std::to_string(Ms(Clock::now() - t0)) + " ms");
      return Outcome::kRecovered;
    } catch (const std::exception& e) {
      pid = 0;
      Log(LogLevel::kError, "supervisor " + paths.root + ": restart failed: " + e.what());
      return Outcome::kFailed;
    }
  }

  void WatchLoop() {
    auto last_ok = Clock::now();
    auto last_attempt = Clock::time_point{};
    std::unique_lock l(watch_mu);
    while (!watch_stop) {
      watch_cv.wait_for(l, opts.health_interval, [&] { return watch_stop; });
      if (watch_stop) break;
      l.unlock();
      const pid_t p = pid.load();
      Outcome out = Outcome::kRecovered;
      bool acted = false;
      int status = -1;
      if (p == 0) {
        // A restart failed: retry, at most once a second.
        if (Clock::now() - last_attempt >= 1s) {
          acted = true;
          out = Recover(0, "is not running");
        }
      } else if (!sv::ProcessAlive(p, &status) || !sv::IsDaemonOf(p, paths)) {
        acted = true;
        out = Recover(p, status != -1 ? sv::DescribeWaitStatus(status) : "is gone");
      } else if (sv::CheckHealth(paths.socket, opts.health_timeout)) {
        last_ok = Clock::now();
      } else if (Clock::now() - last_ok >= opts.hang_timeout) {
        acted = true;
        out = Recover(p, "did not answer the health check for " +
                             std::to_string(Ms(Clock::now() - last_ok)) + " ms");
      }
      if (acted) {
        last_attempt = Clock::now();
        last_ok = Clock::now();
      }
      l.lock();
      if (out == Outcome::kReleased) break;
    }
  }

  void StopWatch() {
    {
      std::lock_guard l(watch_mu);
      watch_stop = true;
    }
    watch_cv.notify_all();
    std::lock_guard l(join_mu);
    if (watcher.joinable() && watcher.get_id() != std::this_thread::get_id()) watcher.join();
  }
};

Supervisor::Supervisor(SupervisorOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  const ErrorContext ctx{.op = "Supervisor", .path = options.root};
  s.paths = sv::MakePaths(options.root);
  sv::ValidateLogLevel(options.log_level);
  if (options.start_timeout <= 0ms || options.stop_timeout < 0ms ||
      options.health_interval <= 0ms || options.health_timeout <= 0ms ||
      options.hang_timeout <= 0ms)
    throw Error(ErrorKind::kInvalidArgument,
                "timeouts and intervals must be positive (stop_timeout may be 0)", ctx);
  s.opts = std::move(options);
  s.binary = sv::ResolveBinary(s.opts.containerd_binary);
  sv::PrepareRoot(s.paths);
  s.EnsureRunning();
  if (s.opts.watch) s.watcher = std::thread([&s] { s.WatchLoop(); });
}

Supervisor::~Supervisor() {
  if (!impl_) return;
  impl_->StopWatch();
  if (!impl_->opts.detached && impl_->owned && !impl_->stopped) {
    try {
      Stop();
    } catch (const std::exception& e) {
      Log(LogLevel::kError, std::string("supervisor: stop in destructor failed: ") + e.what());
    }
  }
}

void Supervisor::Stop() {
  Impl& s = *impl_;
  s.aborting = true;
  s.StopWatch();
  std::lock_guard ol(s.op_mu);
  if (s.stopped) return;
  sv::RootLock lock(s.paths, s.opts.stop_timeout + s.opts.start_timeout);
  StopRoot(s.paths, s.pid.load(), s.opts.stop_timeout);
  s.pid = 0;
  s.owned = false;
  s.stopped = true;
}

bool Supervisor::Serving(std::chrono::milliseconds timeout) const {
  return !impl_->stopped && sv::CheckHealth(impl_->paths.socket, timeout);
}

const std::string& Supervisor::address() const noexcept { return impl_->paths.socket; }
pid_t Supervisor::pid() const noexcept { return impl_->pid.load(); }
const std::string& Supervisor::root() const noexcept { return impl_->paths.root; }
const std::string& Supervisor::log_path() const noexcept { return impl_->paths.log; }
const std::string& Supervisor::runc_root() const noexcept { return impl_->paths.runc_root; }
const std::string& Supervisor::pid_file() const noexcept { return impl_->paths.pid_file; }
const std::string& Supervisor::config_path() const noexcept { return impl_->paths.config; }
bool Supervisor::adopted() const noexcept { return impl_->adopted; }
int Supervisor::restarts() const noexcept { return impl_->restarts.load(); }

std::string Supervisor::AddressFor(const std::string& root) { return sv::MakePaths(root).socket; }
std::string Supervisor::RuncRootFor(const std::string& root) {
  return sv::MakePaths(root).runc_root;
}

bool Supervisor::StopDaemon(const std::string& root, std::chrono::milliseconds stop_timeout) {
  sv::Paths paths = sv::MakePaths(root);
  if (::access(paths.root.c_str(), F_OK) != 0) return false;
  sv::RootLock lock(paths, stop_timeout + 10s);
  return StopRoot(paths, 0, stop_timeout);
}

}  // namespace libcontainerd
