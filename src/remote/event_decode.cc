// Decodes containerd task events (package containerd.events) into moby's EventType/EventInfo.
#include "remote/event_decode.h"

#include <array>
#include <chrono>
#include <limits>
#include <string>

#include "common/text.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "libcontainerd/errors.h"

namespace libcontainerd::remote {
namespace {

namespace pb = ::containerd::events;

using text::Quoted;

[[noreturn]] void Fail(std::string_view topic, std::string_view type_url, std::string why) {
  throw Error(ErrorKind::kInvalidArgument,
              "event " + Quoted(topic) + " with payload type " + Quoted(type_url) + ": " + why,
              {.op = "DecodeEvent"});
}

template <typename Pb>
Pb Parse(std::string_view topic, std::string_view type_url, std::string_view bytes) {
  Pb msg;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    Fail(topic, type_url,
         "the " + std::to_string(bytes.size()) + " payload bytes are not a valid " +
             msg.GetTypeName() + " message");
  }
  return msg;
}

// A protobuf Timestamp as SystemTime, clamped to SystemTime's range (int64 nanoseconds on
// libstdc++: years 1677..2262) instead of overflowing.
SystemTime FromTimestamp(const google::protobuf::Timestamp& ts) {
  using Dur = SystemTime::duration;
  constexpr int64_t kPerSec = std::chrono::duration_cast<Dur>(std::chrono::seconds(1)).count();
  static_assert(kPerSec > 0 && kPerSec <= 1'000'000'000, "SystemTime finer than ns");
  constexpr int64_t kMaxSec = std::numeric_limits<Dur::rep>::max() / kPerSec - 1;
  const int64_t sec = ts.seconds();
  if (sec > kMaxSec) return SystemTime::max();
  if (sec < -kMaxSec) return SystemTime::min();
  int64_t nanos = ts.nanos();
  if (nanos < 0) nanos = 0;
  if (nanos > 999'999'999) nanos = 999'999'999;
  return SystemTime(Dur(sec * kPerSec) +
                    std::chrono::duration_cast<Dur>(std::chrono::nanoseconds(nanos)));
}

DecodedEvent Make(EventType type, std::string container_id, std::string process_id = {},
                  uint32_t pid = 0) {
  DecodedEvent d;
  d.type = type;
  d.info.container_id = std::move(container_id);
  d.info.process_id = std::move(process_id);
  d.info.pid = pid;
  return d;
}

struct TopicEntry {
  std::string_view topic;
  std::string_view payload;  // full protobuf name of the payload type
};
constexpr std::array<TopicEntry, 8> kTopics{{
    {"/tasks/create", "containerd.events.TaskCreate"},
    {"/tasks/start", "containerd.events.TaskStart"},
    {"/tasks/exit", "containerd.events.TaskExit"},
    {"/tasks/oom", "containerd.events.TaskOOM"},
    {"/tasks/exec-added", "containerd.events.TaskExecAdded"},
    {"/tasks/exec-started", "containerd.events.TaskExecStarted"},
    {"/tasks/paused", "containerd.events.TaskPaused"},
    {"/tasks/resumed", "containerd.events.TaskResumed"},
}};

}  // namespace

std::string DecodedTopicsRegex() {
  std::string re = "^/tasks/(";
  for (size_t i = 0; i < kTopics.size(); ++i) {
    const std::string_view t = kTopics[i].topic;
    if (i != 0) re += '|';
    re += t.substr(std::char_traits<char>::length("/tasks/"));
  }
  return re + ")$";
}

std::optional<DecodedEvent> DecodeEnvelope(std::string_view topic, std::string_view type_url,
                                           std::string_view bytes) {
  const TopicEntry* entry = nullptr;
  for (const auto& e : kTopics)
    if (e.topic == topic) entry = &e;
  if (entry == nullptr) return std::nullopt;

  // The message name is what follows the last '/' (Any's rule).
  const auto slash = type_url.rfind('/');
  const std::string_view name =
      slash == std::string_view::npos ? type_url : type_url.substr(slash + 1);
  if (name != entry->payload) {
    Fail(topic, type_url, "expected payload type " + std::string(entry->payload));
  }

  const auto& t = entry->topic;
  if (t == "/tasks/create") {
    auto m = Parse<pb::TaskCreate>(topic, type_url, bytes);
    return Make(EventType::kCreate, m.container_id(), m.container_id(), m.pid());
  }
  if (t == "/tasks/start") {
    auto m = Parse<pb::TaskStart>(topic, type_url, bytes);
    return Make(EventType::kStart, m.container_id(), m.container_id(), m.pid());
  }
  if (t == "/tasks/exit") {
    auto m = Parse<pb::TaskExit>(topic, type_url, bytes);
    DecodedEvent d = Make(EventType::kExit, m.container_id(), m.id(), m.pid());
    d.info.exit_code = m.exit_status();
    if (m.has_exited_at()) d.info.exited_at = FromTimestamp(m.exited_at());
    return d;
  }
  if (t == "/tasks/oom") {
    auto m = Parse<pb::TaskOOM>(topic, type_url, bytes);
    return Make(EventType::kOOM, m.container_id());
  }
  if (t == "/tasks/exec-added") {
    auto m = Parse<pb::TaskExecAdded>(topic, type_url, bytes);
    return Make(EventType::kExecAdded, m.container_id(), m.exec_id());
  }
  if (t == "/tasks/exec-started") {
    auto m = Parse<pb::TaskExecStarted>(topic, type_url, bytes);
    return Make(EventType::kExecStarted, m.container_id(), m.exec_id(), m.pid());
  }
  if (t == "/tasks/paused") {
    auto m = Parse<pb::TaskPaused>(topic, type_url, bytes);
    return Make(EventType::kPaused, m.container_id());
  }
  auto m = Parse<pb::TaskResumed>(topic, type_url, bytes);  // "/tasks/resumed"
  return Make(EventType::kResumed, m.container_id());
}

}  // namespace libcontainerd::remote
