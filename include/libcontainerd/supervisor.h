// libcontainerd: a private containerd, started, adopted, watched and stopped by the library.
//
// A Supervisor owns one state root ROOT. Everything of its daemon lives there:
//   ROOT/config.toml        the containerd config (version 2) written by the Supervisor
//   ROOT/containerd.sock    gRPC socket (address()); ROOT/containerd.sock.ttrpc, ROOT/debug.sock
//   ROOT/containerd.pid     pid file of the running daemon
//   ROOT/containerd.log     the daemon's stdout/stderr, plus one line per supervisor action
//   ROOT/root, ROOT/state   containerd's root and state directories
//   ROOT/runc               runc state root (runc_root()): pass it as RuncOptions::root or
//                           ClientOptions::runc_root so the private daemon's containers never
//                           share runc state with a system containerd
//   ROOT/supervisor.lock    flock serialising start / adopt / restart / stop across processes
//
// Starting a Supervisor either adopts the daemon recorded in ROOT/containerd.pid (when that pid
// is a live containerd running ROOT/config.toml) or starts the `containerd` binary as a child in
// its own session, and returns once the daemon answers the gRPC health check. While the object
// lives (and options.watch is set) a thread checks the daemon and restarts it when it dies or
// stops answering; restarts are logged through libcontainerd/log.h. Running containers survive
// a restart: their shims are independent of the daemon.
//
// Detached mode (options.detached): the destructor leaves the daemon running, so it outlives the
// process that started it; a later Supervisor on the same root adopts it, and Stop() ends it.
//
// Thread-safety: every member may be called from any thread. Several Supervisor objects (in one
// or several processes) may share a root: they agree through the lock file and the pid file.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "libcontainerd/export.h"

namespace libcontainerd {

struct LCD_EXPORT SupervisorOptions {
  // State root, an absolute path; created 0711 when missing. Keep it short: the socket paths
  // under it must fit containerd's 104-byte limit, so root has at most 82 characters
  // (e.g. "/run/lcd" or "/tmp/lcd").
  std::string root;
  // containerd binary: a name looked up in PATH (then /usr/bin, /usr/sbin, /usr/local/bin)
  // or a path.
  std::string containerd_binary = "containerd";
  // containerd's log level ("debug", "info", "warn", "error").
  std::string log_level = "info";
  // How long starting (or adopting a daemon that is still coming up) may take.
  std::chrono::milliseconds start_timeout{10000};
  // Stop: how long to wait after SIGTERM before SIGKILL.
  std::chrono::milliseconds stop_timeout{5000};
  // Health watch: check period, deadline of one health call, and how long the daemon may go
  // without answering before it counts as hung and is replaced (SIGKILL + start).
  std::chrono::milliseconds health_interval{250};
  std::chrono::milliseconds health_timeout{1000};
  std::chrono::milliseconds hang_timeout{3000};
  // Watch and restart the daemon while this object lives.
  bool watch = true;
  // Leave the daemon running when this object is destroyed (see above).
  bool detached = false;
};

class LCD_EXPORT Supervisor {
 public:
  // Validates options, writes the config, adopts or starts the daemon and waits until it
  // serves. Nothing is left behind on failure (no process, pid file or socket).
  // Throws Error with kind
  //   kInvalidArgument    root empty, relative or with a newline; a socket path under root
  //                       longer than unix sockets allow (the message says how long root may be)
  //   kNotFound           the containerd binary is not installed (install Debian's
  //                       `containerd` package or run scripts/setup)
  //   kFailedPrecondition root cannot be created or is not writable (path and errno attached)
  //   kUnavailable        the daemon exited before serving (message has the log's last lines)
  //   kDeadlineExceeded   the daemon did not serve within start_timeout (idem; it is killed),
  //                       or another supervisor of the root held its lock that long
  // A pid file naming a dead process, a zombie or a process that is not this root's containerd
  // is stale: it is logged, replaced, and the foreign process is left alone.
  explicit Supervisor(SupervisorOptions options);

  // Stops watching. Unless detached, and if this object started the daemon itself (it did not
  // adopt it), also stops the daemon like Stop(). Never throws (failures are logged).
  ~Supervisor();

  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Stops watching, sends SIGTERM (and SIGCONT, for a stopped daemon), waits stop_timeout,
  // then SIGKILL; removes the pid file and sockets. Shims and their containers keep running.
  // Idempotent. Throws Error{kDeadlineExceeded} when another supervisor holds the root's lock
  // too long, Error{kUnknown} when the daemon survives SIGKILL or a file cannot be removed.
  void Stop();

  // True when the daemon answers the health check within timeout. Does not throw.
  bool Serving(std::chrono::milliseconds timeout = std::chrono::milliseconds{1000}) const;

  // Socket path of the daemon (ROOT/containerd.sock; clients accept it as their address).
  const std::string& address() const noexcept;
  // Pid of the daemon currently supervised; 0 after Stop().
  pid_t pid() const noexcept;
  // The state root, normalised (no trailing slash).
  const std::string& root() const noexcept;
  // The daemon's log file.
  const std::string& log_path() const noexcept;
  // The runc state root of this daemon's containers (ROOT/runc).
  const std::string& runc_root() const noexcept;
  // The pid file and config file.
  const std::string& pid_file() const noexcept;
  const std::string& config_path() const noexcept;
  // True when construction adopted a daemon that was already running.
  bool adopted() const noexcept;
  // How many times the watch restarted the daemon.
  int restarts() const noexcept;

  // Paths for a root without starting anything (same normalisation as the constructor).
  static std::string AddressFor(const std::string& root);
  static std::string RuncRootFor(const std::string& root);

  // Stops the daemon recorded under root, if any, the same way as Stop(), without adopting it
  // first (for `stop` commands). Returns false when no live daemon of that root was found
  // (a stale pid file and socket are removed anyway). Throws like Stop().
  static bool StopDaemon(const std::string& root,
                         std::chrono::milliseconds stop_timeout = std::chrono::milliseconds{5000});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace libcontainerd
