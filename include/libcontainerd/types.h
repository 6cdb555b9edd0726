// libcontainerd: value types of the contract (moby's libcontainerd/types).
// All types here are plain values: copyable, no hidden sharing, safe to use from any thread
// as long as one object is not written concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace libcontainerd {

using SystemTime = std::chrono::system_clock::time_point;

// Event kinds delivered to Backend::ProcessEvent. String values are moby's.
enum class EventType {
  kUnknown,      // "unknown"
  kExit,         // "exit"
  kOOM,          // "oom"
  kCreate,       // "create"
  kStart,        // "start"
  kExecAdded,    // "exec-added"
  kExecStarted,  // "exec-started"
  kPaused,       // "paused"
  kResumed,      // "resumed"
};

// moby's string for an event type ("exit", "exec-added", ...).
std::string_view ToString(EventType type) noexcept;
// Parses a moby event string; unknown strings give EventType::kUnknown.
EventType ParseEventType(std::string_view s) noexcept;

// What an event says. Which fields are set depends on the type (see docs/events.md):
// create/start: container_id, process_id (= container_id), pid;
// exit: container_id, process_id (exec id, or container_id for init), pid, exit_code, exited_at;
// oom/paused/resumed: container_id; exec-added: container_id, process_id;
// exec-started: container_id, process_id, pid.
struct EventInfo {
  std::string container_id;
  std::string process_id;
  uint32_t pid = 0;
  uint32_t exit_code = 0;
  SystemTime exited_at{};
  std::string error;  // non-empty when the event reports a failure
};

// The outcome of a process: a value, not an error.
struct ExitStatus {
  uint32_t exit_code = 0;  // 128+N when killed by signal N; 255 when unknown
  SystemTime exited_at{};
  bool operator==(const ExitStatus&) const = default;
};

// Task and process states (containerd's Status).
enum class Status { kUnknown, kCreated, kRunning, kStopped, kPaused, kPausing };
// "unknown", "created", "running", "stopped", "paused", "pausing".
std::string_view ToString(Status s) noexcept;

// One process of a task as reported by Task::Pids.
struct ProcessInfo {
  uint32_t pid = 0;
  std::string exec_id;  // empty for the init process and processes not started by Exec
};

// A per-process summary (Windows only in moby; always empty on Linux).
struct Summary {
  std::string image_name;
  uint32_t process_id = 0;
};

// Checkpoint listing (not used on Linux; kept for the contract).
struct Checkpoints {
  std::vector<std::string> names;
};

// Client and daemon version.
struct Version {
  std::string version;
  std::string revision;
};

// Checks a container id, exec id or namespace against containerd's rule
// (^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$, 1..76 characters). Throws Error{kInvalidArgument}
// naming `what` ("container id", "exec id", "namespace") and the value. Does no I/O.
void ValidateIdentifier(std::string_view what, std::string_view id);

}  // namespace libcontainerd
