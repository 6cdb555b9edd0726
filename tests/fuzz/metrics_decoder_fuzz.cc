// Fuzz target: the metrics decoder (InterfaceToStats) and what is built on it (Summarize,
// StatsToJsonString) on arbitrary bytes. Input: first byte chooses the type URL (v1, v2, v1
// with the type.googleapis.com/ prefix, or an unknown one), the rest is the payload.
// Must never crash; libcontainerd::Error (kInvalidArgument) is the only allowed failure.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "libcontainerd/errors.h"
#include "libcontainerd/stats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view kUrls[] = {
      "io.containerd.cgroups.v1.Metrics",
      "io.containerd.cgroups.v2.Metrics",
      "type.googleapis.com/io.containerd.cgroups.v1.Metrics",
      "io.containerd.cgroups.v9.Unknown",
  };
  const std::string_view url = kUrls[data[0] % 4];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    const libcontainerd::Stats stats = libcontainerd::InterfaceToStats({}, url, bytes);
    (void)libcontainerd::Summarize(stats);
    const std::string json = libcontainerd::StatsToJsonString(stats);
    if (json.empty()) std::abort();
  } catch (const libcontainerd::Error& e) {
    if (e.kind() != libcontainerd::ErrorKind::kInvalidArgument) std::abort();
  }
  return 0;
}
