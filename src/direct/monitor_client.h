// Internal: the library's side of lcd-monitor (docs/direct-backend.md): starting it for a new
// task (its command line and ready line) and the request/reply protocol on task/monitor.sock
// (AF_UNIX SOCK_SEQPACKET, one JSON object per message), with error kinds from the wire.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "libcontainerd/context.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/fd.h"

namespace libcontainerd::direct {

// "not_found" -> kNotFound, ...; an unknown name is kUnknown.
ErrorKind KindFromWire(std::string_view kind) noexcept;

// The monitor is gone (its socket refuses connections or closed without a reply): the task has
// no live monitor. Thrown by Call as Error{kNotFound}; callers that can answer from the exit
// records catch it with IsMonitorGone.
bool IsMonitorGone(const Error& e) noexcept;

// Sends one request on a new connection to the monitor of `task_dir` and returns its reply
// ({"ok":true,...}). A reply {"ok":false,kind,message} is thrown as Error{kind, message, ectx}.
// The Context's deadline and cancellation are honoured (the connection is closed: the monitor
// sees the request abandoned). Thread-safe (one connection per call).
nlohmann::json Call(const std::string& task_dir, const Context& ctx, const nlohmann::json& request,
                    const ErrorContext& ectx);

// Opens a subscription: a connection to the monitor that has sent `subscribe` and read its
// reply; events follow on it. Throws as Call does.
UniqueFd Subscribe(const std::string& task_dir, const Context& ctx, const ErrorContext& ectx);
// Reads one message from a subscription fd (non-blocking): the event, nullopt when nothing is
// there yet; throws Error{kNotFound} (IsMonitorGone) when the monitor closed the connection.
std::optional<nlohmann::json> ReadEvent(int fd);

// What lcd-monitor is started with (its command line).
struct MonitorLaunch {
  std::string monitor;  // the binary
  std::string id;
  std::string bundle;
  std::string task_dir;
  std::string runtime;
  std::string runtime_root;
  std::string stdin_path, stdout_path, stderr_path;  // empty: /dev/null
  bool terminal = false;
  std::vector<std::string> runtime_args;
  bool no_pivot = false;
  bool no_new_keyring = false;
  std::string restore;  // checkpoint directory
};

// Starts the monitor (fork+exec; it double-forks and outlives the caller), waits for its ready
// line and returns the init pid. On failure it throws the monitor's error (its kind, the
// runtime's message) after making sure no monitor is left (a monitor that did not answer
// before the deadline is killed). The caller removes the task directory.
uint32_t StartMonitor(const Context& ctx, const MonitorLaunch& launch, const ErrorContext& ectx);

}  // namespace libcontainerd::direct
