// Internals of the Supervisor: the files of a state root, the containerd config, and the
// process-level operations (spawn, liveness, identity, termination). No gRPC here; the health
// check is in health.h.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "libcontainerd/fd.h"

namespace libcontainerd::supervisor {

// Longest socket path containerd accepts: the kernel's sun_path holds 107 bytes, but
// containerd refuses paths over 104 ("unix socket path too long (> 104)"), the portable limit.
inline constexpr std::size_t kMaxSocketPath = 104;

// Every file of a state root.
struct Paths {
  std::string root;    // normalised, absolute, no trailing slash
  std::string config;  // ROOT/config.toml
  std::string socket;  // ROOT/containerd.sock
  std::string ttrpc_socket;
  std::string debug_socket;
  std::string pid_file;   // ROOT/containerd.pid
  std::string log;        // ROOT/containerd.log
  std::string lock;       // ROOT/supervisor.lock
  std::string data_root;  // ROOT/root
  std::string state;      // ROOT/state
  std::string runc_root;  // ROOT/runc
};

// Normalises root and derives the paths. Throws Error{kInvalidArgument} for an empty or
// relative root, control characters, or a socket path over kMaxSocketPath.
Paths MakePaths(const std::string& root);

// The containerd config (TOML, version 2) for these paths.
std::string ConfigToml(const Paths& paths, const std::string& log_level);

// Throws Error{kInvalidArgument} unless level is one containerd knows.
void ValidateLogLevel(const std::string& level);

// Resolves a binary name through PATH and the usual directories. Throws Error{kNotFound}
// saying to install Debian's containerd package (or run scripts/setup).
std::string ResolveBinary(const std::string& name);

// Creates root (and its runc dir) and proves it writable. Throws Error{kFailedPrecondition}
// with path and errno when it is not.
void PrepareRoot(const Paths& paths);

// Writes content to path atomically (temporary file + rename) with the given mode.
// Throws Error{kUnknown} with errno.
void WriteFileAtomic(const std::string& path, const std::string& content, mode_t mode);

// An exclusive flock on ROOT/supervisor.lock, taken within timeout (else
// Error{kDeadlineExceeded}). Released by the destructor.
class RootLock {
 public:
  RootLock(const Paths& paths, std::chrono::milliseconds timeout);

 private:
  UniqueFd fd_;
};

// Pid recorded in the pid file, or 0 when missing or unreadable.
pid_t ReadPidFile(const std::string& path);

// Spawns `binary --config CONFIG` in its own session, stdin /dev/null, stdout and stderr
// appended to the log, no other fds, default signal dispositions, PATH extended with the usual
// directories. The pid is remembered as our child so that liveness checks reap it.
// Throws Error{kNotFound} / Error{kUnknown} with errno when the spawn fails.
pid_t SpawnDaemon(const std::string& binary, const Paths& paths);

// True while pid runs (not a zombie). Reaps pid first when it is a child we spawned; when this
// call reaped it, *wait_status receives its wait status (else it is left alone).
bool ProcessAlive(pid_t pid, int* wait_status = nullptr);

// The process's argv from /proc (empty when it is gone or a zombie).
std::vector<std::string> Cmdline(pid_t pid);

// True when pid is alive and its command line runs containerd with this root's config.
bool IsDaemonOf(pid_t pid, const Paths& paths);

// Pids of every live process whose command line is containerd with this root's config.
std::vector<pid_t> FindDaemonsOf(const Paths& paths);

// Sends SIGTERM (+SIGCONT), waits up to grace, then SIGKILL and waits up to 2 s more.
// Returns true when the process is gone.
bool Terminate(pid_t pid, std::chrono::milliseconds grace);

// SIGKILLs pid (and its process group when group is set) and waits up to 2 s.
bool KillHard(pid_t pid, bool group);

// Removes the pid file (when it still names pid, or pid is 0) and the sockets.
void RemoveRuntimeFiles(const Paths& paths, pid_t pid);

// Size of a file (0 when missing), to read a log from a given offset later.
off_t FileSize(const std::string& path);

// The last `lines` lines of path written after offset ("" when none).
std::string LogTail(const std::string& path, off_t offset, int lines);

// Appends one "libcontainerd supervisor: ..." line to the daemon log (best effort).
void AppendLogLine(const std::string& path, const std::string& message);

// Human readable wait status: "exit status 1", "signal 9 (Killed)".
std::string DescribeWaitStatus(int status);

}  // namespace libcontainerd::supervisor
