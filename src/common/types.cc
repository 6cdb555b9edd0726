#include "libcontainerd/types.h"

#include <array>
#include <utility>

#include "common/text.h"
#include "libcontainerd/errors.h"

namespace libcontainerd {

namespace {
constexpr std::array<std::pair<EventType, std::string_view>, 9> kEventNames{{
    {EventType::kUnknown, "unknown"},
    {EventType::kExit, "exit"},
    {EventType::kOOM, "oom"},
    {EventType::kCreate, "create"},
    {EventType::kStart, "start"},
    {EventType::kExecAdded, "exec-added"},
    {EventType::kExecStarted, "exec-started"},
    {EventType::kPaused, "paused"},
    {EventType::kResumed, "resumed"},
}};

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool IsSep(char c) { return c == '.' || c == '_' || c == '-'; }

std::string Printable(std::string_view s) { return text::Escaped(s, 100); }
}  // namespace

std::string_view ToString(EventType type) noexcept {
  for (auto& [t, s] : kEventNames)
    if (t == type) return s;
  return "unknown";
}

EventType ParseEventType(std::string_view s) noexcept {
  for (auto& [t, name] : kEventNames)
    if (name == s) return t;
  return EventType::kUnknown;
}

std::string_view ToString(Status s) noexcept {
  switch (s) {
    case Status::kUnknown:
      return "unknown";
    case Status::kCreated:
      return "created";
    case Status::kRunning:
      return "running";
    case Status::kStopped:
      return "stopped";
    case Status::kPaused:
      return "paused";
    case Status::kPausing:
      return "pausing";
  }
  return "unknown";
}

void ValidateIdentifier(std::string_view what, std::string_view id) {
  constexpr size_t kMaxLen = 76;
  auto fail = [&](const std::string& why) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string(what) + " \"" + Printable(id) + "\" is invalid: " + why +
                    " (use 1-76 letters or digits, separated by single '.', '_' or '-')");
  };
  if (id.empty()) fail("it is empty");
  if (id.size() > kMaxLen)
    fail("it has " + std::to_string(id.size()) + " characters, more than 76");
  bool prev_sep = true;  // the first character must be alphanumeric
  for (char c : id) {
    if (IsAlnum(c)) {
      prev_sep = false;
    } else if (IsSep(c)) {
      if (prev_sep) fail("a separator must stand between letters or digits");
      prev_sep = true;
    } else {
      fail(std::string("character '") + Printable(std::string_view(&c, 1)) + "' is not allowed");
    }
  }
  if (prev_sep) fail("it must end with a letter or digit");
}

}  // namespace libcontainerd
