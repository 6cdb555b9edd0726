// The daemon's gRPC health check (grpc.health.v1.Health/Check).
#pragma once

#include <chrono>
#include <string>

namespace libcontainerd::supervisor {

// True when the daemon on socket_path answers SERVING within timeout. Each call uses a fresh
// channel with its own subchannel, so a restarted daemon is seen at once (no reconnect
// backoff inherited from a dead connection). Never throws.
bool CheckHealth(const std::string& socket_path, std::chrono::milliseconds timeout) noexcept;

}  // namespace libcontainerd::supervisor
