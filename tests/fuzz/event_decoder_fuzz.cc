// Fuzz target: the event decoder (remote::DecodeEnvelope) on arbitrary Any bytes.
// Input: first byte chooses the topic and type URL (each task topic with its own payload type,
// a mismatched type, or an ignored topic), the rest is the payload.
// Must never crash; libcontainerd::Error (kInvalidArgument) is the only allowed failure.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "libcontainerd/errors.h"
#include "remote/event_decode.h"

namespace {
struct Case {
  std::string_view topic;
  std::string_view type_url;
};
constexpr Case kCases[] = {
    {"/tasks/create", "containerd.events.TaskCreate"},
    {"/tasks/start", "containerd.events.TaskStart"},
    {"/tasks/exit", "containerd.events.TaskExit"},
    {"/tasks/oom", "containerd.events.TaskOOM"},
    {"/tasks/exec-added", "containerd.events.TaskExecAdded"},
    {"/tasks/exec-started", "containerd.events.TaskExecStarted"},
    {"/tasks/paused", "containerd.events.TaskPaused"},
    {"/tasks/resumed", "containerd.events.TaskResumed"},
    {"/tasks/exit", "type.googleapis.com/containerd.events.TaskExit"},
    {"/tasks/exit", "containerd.events.TaskOOM"},       // mismatch: always an error
    {"/tasks/delete", "containerd.events.TaskDelete"},  // ignored topic
};
constexpr size_t kNumCases = sizeof(kCases) / sizeof(kCases[0]);
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Case& c = kCases[data[0] % kNumCases];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    auto d = libcontainerd::remote::DecodeEnvelope(c.topic, c.type_url, bytes);
    if (d && d->type == libcontainerd::EventType::kUnknown) std::abort();
    if (d && d->info.container_id.size() > bytes.size()) std::abort();
  } catch (const libcontainerd::Error& e) {
    if (e.kind() != libcontainerd::ErrorKind::kInvalidArgument) std::abort();
  }
  return 0;
}
