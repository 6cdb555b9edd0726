// The containerd backend's event decoding: one containerd event envelope (topic + Any payload) into
// moby's EventType and EventInfo. Pure functions, no I/O, no logging; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "libcontainerd/types.h"

namespace libcontainerd::remote {

// One decoded task event.
struct DecodedEvent {
  EventType type = EventType::kUnknown;
  EventInfo info;
};

// Maps a task event as moby's event loop does:
//   /tasks/create        containerd.events.TaskCreate       create: container_id, process_id =
//                                                            container_id, pid
//   /tasks/start         containerd.events.TaskStart        start: same fields as create
//   /tasks/exit          containerd.events.TaskExit         exit: container_id, process_id =
//                                                            TaskExit.id (exec id, or the
//                                                            container id for init), pid,
//                                                            exit_code, exited_at
//   /tasks/oom           containerd.events.TaskOOM          oom: container_id
//   /tasks/exec-added    containerd.events.TaskExecAdded    exec-added: container_id,
//                                                            process_id = exec id
//   /tasks/exec-started  containerd.events.TaskExecStarted  exec-started: container_id,
//                                                            process_id = exec id, pid
//   /tasks/paused        containerd.events.TaskPaused       paused: container_id
//   /tasks/resumed       containerd.events.TaskResumed      resumed: container_id
// `type_url` may carry any "<host>/" prefix. Any other topic (e.g. /tasks/delete,
// /containers/create) gives std::nullopt without looking at the payload.
// Throws Error{kInvalidArgument} (op "DecodeEvent", message naming topic and type URL) when the
// type URL is not the payload type of the topic or the bytes do not parse as that type.
// An exited_at outside what SystemTime can hold is clamped to its min/max; an unset one is
// the epoch (SystemTime{}).
std::optional<DecodedEvent> DecodeEnvelope(std::string_view topic, std::string_view type_url,
                                           std::string_view bytes);

// The regular expression of exactly the topics DecodeEnvelope decodes (built from the same
// table): "^/tasks/(create|start|...)$". The subscription asks for these only, so containerd
// does not send events the decoder would skip (/tasks/delete, one per lifecycle).
std::string DecodedTopicsRegex();

}  // namespace libcontainerd::remote
