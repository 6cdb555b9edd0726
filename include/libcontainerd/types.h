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

#include "libcontainerd/export.h"

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
LCD_EXPORT std::string_view ToString(EventType type) noexcept;
// Parses a moby event string; unknown strings give EventType::kUnknown.
LCD_EXPORT EventType ParseEventType(std::string_view s) noexcept;

// What an event says. Which fields are set depends on the type (see docs/events.md):
// create/start: container_id, process_id (= container_id), pid;
// exit: container_id, process_id (exec id, or container_id for init), pid, exit_code, exited_at;
// oom/paused/resumed: container_id; exec-added: container_id, process_id;
// exec-started: container_id, process_id, pid.
struct LCD_EXPORT EventInfo {
  std::string container_id;
  std::string process_id;
  uint32_t pid = 0;
  uint32_t exit_code = 0;
  SystemTime exited_at{};
  std::string error;  // non-empty when the event reports a failure
  // When the event reached the library (containerd's event stream read it; the daemonless
  // backend's monitor message was read; an exit the library learnt itself: then). The clock
  // now minus this, in Backend::ProcessEvent, is the library's own part of an event's latency,
  // the daemon's and the runtime's excluded. Not part of moby's EventInfo.
  std::chrono::steady_clock::time_point received{};
};

// The outcome of a process: a value, not an error.
struct LCD_EXPORT ExitStatus {
  uint32_t exit_code = 0;  // 128+N when killed by signal N; 255 when unknown
  SystemTime exited_at{};
  bool operator==(const ExitStatus&) const = default;
};

// Task and process states (containerd's Status).
enum class Status { kUnknown, kCreated, kRunning, kStopped, kPaused, kPausing };
// "unknown", "created", "running", "stopped", "paused", "pausing".
LCD_EXPORT std::string_view ToString(Status s) noexcept;

// What Task::GetStatus returns (containerd's Status, as moby's Task.Status gives it): the state
// and, once the process has stopped, its exit code and time (zero before).
struct LCD_EXPORT TaskStatus {
  Status status = Status::kUnknown;
  uint32_t exit_code = 0;  // valid when status == kStopped: 128+N when killed by signal N
  SystemTime exited_at{};  // valid when status == kStopped
  // Implicit, so code written against the Status-returning GetStatus keeps working
  // (`task->GetStatus(ctx) == Status::kRunning`, `ToString(task->GetStatus(ctx))`).
  operator Status() const noexcept { return status; }
  bool operator==(const TaskStatus&) const = default;
  friend bool operator==(const TaskStatus& a, Status b) noexcept { return a.status == b; }
};

// A protobuf message kept opaque (google.protobuf.Any): its type URL and serialized bytes.
struct LCD_EXPORT TypedMessage {
  std::string type_url;  // e.g. "containerd.runc.v1.Options"
  std::string value;     // the serialized message
  bool operator==(const TypedMessage&) const = default;
};

// One process of a task as reported by Task::Pids.
struct LCD_EXPORT ProcessInfo {
  uint32_t pid = 0;
  std::string exec_id;  // empty for the init process and processes not started by Exec
  // The shim's details of the process as it sent them (containerd's ProcessInfo.info):
  // containerd.runc.v1.ProcessDetails for runc shims (exec_id is decoded from it), whatever
  // another shim sends; empty when the shim sent none.
  std::optional<TypedMessage> info;
};

// A per-process summary, one per process of the task (moby's Task.Summary). moby fills it on
// Windows only; on Linux only process_id (the host pid) is set.
struct LCD_EXPORT Summary {
  std::string image_name;
  uint32_t process_id = 0;
};

// Checkpoint listing (not used on Linux; kept for the contract).
struct LCD_EXPORT Checkpoints {
  std::vector<std::string> names;
};

// Client and daemon version.
struct LCD_EXPORT Version {
  std::string version;
  std::string revision;
};

// Checks a container id, exec id or namespace against containerd's rule
// (^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$, 1..76 characters). Throws Error{kInvalidArgument}
// naming `what` ("container id", "exec id", "namespace") and the value. Does no I/O.
LCD_EXPORT void ValidateIdentifier(std::string_view what, std::string_view id);

}  // namespace libcontainerd
