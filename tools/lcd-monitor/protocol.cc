#include "protocol.h"

#include <sys/wait.h>
#include <time.h>

namespace lcdmon {

using nlohmann::json;

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kNotFound:
      return "not_found";
    case Kind::kAlreadyExists:
      return "already_exists";
    case Kind::kInvalidArgument:
      return "invalid_argument";
    case Kind::kFailedPrecondition:
      return "failed_precondition";
    case Kind::kUnavailable:
      return "unavailable";
    case Kind::kDeadlineExceeded:
      return "deadline_exceeded";
    case Kind::kCancelled:
      return "cancelled";
    case Kind::kNotImplemented:
      return "not_implemented";
    case Kind::kUnknown:
      break;
  }
  return "unknown";
}

namespace {

bool GetString(const json& j, const char* key, std::string* out, std::string* error) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_string()) {
    *error = std::string("field ") + key + " must be a string";
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

bool GetBool(const json& j, const char* key, bool* out, std::string* error) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_boolean()) {
    *error = std::string("field ") + key + " must be a boolean";
    return false;
  }
  *out = it->get<bool>();
  return true;
}

bool GetInt(const json& j, const char* key, int64_t min, int64_t max, int64_t* out,
            std::string* error) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_number_integer() || it->get<int64_t>() < min || it->get<int64_t>() > max) {
    *error = std::string("field ") + key + " must be an integer in [" + std::to_string(min) + ", " +
             std::to_string(max) + "]";
    return false;
  }
  *out = it->get<int64_t>();
  return true;
}

}  // namespace

bool ParseRequest(std::string_view message, Request* out, std::string* error) {
  json j = json::parse(message.begin(), message.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *error = "a request must be one JSON object";
    return false;
  }
  Request r;
  int64_t signal = 0, width = 0, height = 0;
  if (!GetString(j, "op", &r.op, error) || !GetString(j, "exec", &r.exec, error) ||
      !GetInt(j, "signal", 0, 64, &signal, error) || !GetBool(j, "all", &r.all, error) ||
      !GetString(j, "process", &r.process, error) || !GetString(j, "stdin", &r.stdin_path, error) ||
      !GetString(j, "stdout", &r.stdout_path, error) ||
      !GetString(j, "stderr", &r.stderr_path, error) ||
      !GetBool(j, "terminal", &r.terminal, error) || !GetInt(j, "width", 0, 65535, &width, error) ||
      !GetInt(j, "height", 0, 65535, &height, error) ||
      !GetString(j, "resources", &r.resources, error) || !GetString(j, "path", &r.path, error) ||
      !GetBool(j, "exit", &r.exit, error) || !GetString(j, "work_path", &r.work_path, error))
    return false;
  if (r.op.empty()) {
    *error = "a request needs an op";
    return false;
  }
  r.signal = static_cast<int>(signal);
  r.width = static_cast<unsigned>(width);
  r.height = static_cast<unsigned>(height);
  *out = std::move(r);
  return true;
}

std::string FormatExitRecord(const ExitRecord& record) {
  json j = {{"pid", record.pid}, {"status", record.status}, {"exited_at", record.exited_at}};
  if (!record.error.empty()) j["error"] = record.error;
  return Dump(j);
}

bool ParseExitRecord(std::string_view text, ExitRecord* out) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  auto pid = j.find("pid"), status = j.find("status"), at = j.find("exited_at");
  if (pid == j.end() || !pid->is_number_integer() || status == j.end() ||
      !status->is_number_integer() || at == j.end() || !at->is_number_integer())
    return false;
  ExitRecord r;
  r.pid = pid->get<int>();
  r.status = status->get<int>();
  r.exited_at = at->get<int64_t>();
  if (auto e = j.find("error"); e != j.end() && e->is_string()) r.error = e->get<std::string>();
  *out = std::move(r);
  return true;
}

int ExitStatusFromWait(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

int64_t NowNanos() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string ErrorReply(Kind kind, std::string_view message) {
  return Dump(json{{"ok", false}, {"kind", KindName(kind)}, {"message", message}});
}

std::string OkReply() { return "{\"ok\":true}"; }

std::string ExitEvent(std::string_view exec, const ExitRecord& record) {
  json j = {{"event", "exit"},
            {"exec", exec},
            {"pid", record.pid},
            {"status", record.status},
            {"exited_at", record.exited_at}};
  if (!record.error.empty()) j["error"] = record.error;
  return Dump(j);
}

}  // namespace lcdmon
