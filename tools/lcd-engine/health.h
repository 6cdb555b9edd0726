// lcd-engine: docker's health checks (HEALTHCHECK, --health-cmd ...). While a container with a
// health check runs, a thread of its own runs the check as an exec in its task every interval
// and keeps docker's State.Health in Ctr::health: "starting", then "healthy" after a success,
// "unhealthy" after `retries` failures in a row (failures in the start period do not count);
// the last 5 results in its Log; events "health_status: healthy" / "health_status: unhealthy"
// on each change. The checker stops when the container stops (Ctr::health keeps its last value).
// Thread-safety: every function may be called from any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine.h"
#include "libcontainerd/images.h"

namespace lcde {

// A container's health check, resolved: the request's Config.Healthcheck merged with the
// image's HEALTHCHECK (docker's merge: a missing Healthcheck is the image's; an empty Test or a
// zero duration or count takes the image's value), then docker's defaults.
struct HealthProbe {
  std::vector<std::string> args;  // the command run in the container (CMD-SHELL: /bin/sh -c)
  int64_t interval_ns = 0;
  int64_t timeout_ns = 0;
  int64_t start_period_ns = 0;
  int retries = 0;
};

inline constexpr int64_t kHealthDefaultIntervalNs = 30'000'000'000;
inline constexpr int64_t kHealthDefaultTimeoutNs = 30'000'000'000;
inline constexpr int kHealthDefaultRetries = 3;
inline constexpr size_t kHealthMaxLogEntries = 5;
inline constexpr size_t kHealthMaxOutputBytes = 4096;

// Checks a request's Config.Healthcheck ({Test, Interval, Timeout, StartPeriod, Retries}; null
// or absent is fine) as docker's create does: durations 0 (default) or at least 1 ms, retries
// not negative, Test empty or starting with CMD (with a command), CMD-SHELL (with one command
// string) or NONE. Throws HttpError 400 naming the field, its value and what is allowed.
void ValidateHealthcheck(const nlohmann::json& healthcheck);

// The probe of a container from its Config.Healthcheck (as accepted) and its image's; nullopt
// when there is no check (none given, Test empty, or ["NONE"]). Throws HttpError 400 as
// ValidateHealthcheck for an invalid merged check.
std::optional<HealthProbe> ResolveHealthProbe(
    const nlohmann::json& healthcheck,
    const std::optional<libcontainerd::images::HealthConfig>& image);

// A duration in nanoseconds as Go prints it ("30s", "200ms", "1m30s", "1.5s").
std::string HealthDuration(int64_t ns);

// Installs the health checker: sets Containers::on_started / on_stopped and starts checkers for
// the containers already running (those re-attached at engine start; their health begins
// "starting" again). Called once by Engine::RegisterRoutes, before events flow.
void RegisterHealth(Engine& engine);

}  // namespace lcde
