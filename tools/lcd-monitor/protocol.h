// lcd-monitor: the wire protocol of task/monitor.sock and the exit records
// (docs/direct-backend.md, "Protocol"). Pure functions: no I/O.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace lcdmon {

// The error kinds of the wire: libcontainerd's ErrorKind names in snake case.
enum class Kind {
  kNotFound,
  kAlreadyExists,
  kInvalidArgument,
  kFailedPrecondition,
  kUnavailable,
  kDeadlineExceeded,
  kCancelled,
  kNotImplemented,
  kUnknown,
};
const char* KindName(Kind kind);

// One request. Absent fields keep their defaults; `exec` "" is init.
struct Request {
  std::string op;
  std::string exec;
  int signal = 0;
  bool all = false;
  std::string process;  // exec: the path of the OCI process JSON
  std::string stdin_path, stdout_path, stderr_path;
  bool terminal = false;
  unsigned width = 0, height = 0;
  std::string resources;  // update: the path of the LinuxResources JSON
  std::string path;       // checkpoint: the image directory
  bool exit = false;      // checkpoint: stop the container (else --leave-running)
  std::string work_path;  // checkpoint: CRIU's work directory (optional)
};

// Parses one message. False with `error` set for malformed JSON, a message that is no object,
// no `op`, or a field of the wrong type (the caller answers invalid_argument).
bool ParseRequest(std::string_view message, Request* out, std::string* error);

// An exit as persisted in task/exit/<name> and reported in `exit` events.
struct ExitRecord {
  int pid = 0;
  int status = 0;         // exit code, or 128+signal
  int64_t exited_at = 0;  // unix nanoseconds
  std::string error;      // only for a status the monitor could not learn
};
std::string FormatExitRecord(const ExitRecord& record);
// False for anything that is not a record (a torn or foreign file).
bool ParseExitRecord(std::string_view text, ExitRecord* out);

// A waitpid status as containerd reports it: the exit code, or 128+signal when killed.
int ExitStatusFromWait(int wait_status);
// CLOCK_REALTIME in nanoseconds.
int64_t NowNanos();

// Serialises without throwing (invalid UTF-8, e.g. in a runtime's stderr, is replaced).
std::string Dump(const nlohmann::json& value);
// {"ok":false,"kind":K,"message":M}: an error reply, and the ready line of a failed start.
std::string ErrorReply(Kind kind, std::string_view message);
// {"ok":true}
std::string OkReply();
// {"event":"exit","exec":E,"pid":P,"status":S,"exited_at":T[,"error":M]}
std::string ExitEvent(std::string_view exec, const ExitRecord& record);

}  // namespace lcdmon
