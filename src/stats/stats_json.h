// Internal: Stats rendered as JSON (for lcctl and tests). Not part of the public API; the
// public StatsToJsonString (stats.h) is its string form.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "libcontainerd/stats.h"

namespace libcontainerd {

// {"read": RFC 3339 UTC time with nanoseconds, "cgroup": "v1" | "v2" | "none",
//  "metrics": object | null}. The metrics object has containerd's snake_case field names
// (cgroup1/cgroup2 structs of stats.h, field for field); an unset message is null, an empty
// repeated field is []. Pure; throws only std::bad_alloc.
nlohmann::json StatsToJson(const Stats& stats);

// "2026-11-29T10:41:27.123456789Z": a time point as RFC 3339 in UTC with nine fractional
// digits (times before 1970 are handled). Pure.
std::string FormatRfc3339Nano(SystemTime t);

}  // namespace libcontainerd
