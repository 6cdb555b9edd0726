// The direct backend's task statistics: cgroupfs read directly (src/stats/cgroupfs.h).
#include "direct/process.h"
#include "stats/cgroupfs.h"

namespace libcontainerd::direct {

Stats ReadTaskStats(const std::string& container_id, const std::string& cgroups_path) {
  try {
    return stats::ReadCgroupStats(cgroups_path);
  } catch (const Error& e) {
    if (IsNotFound(e))
      throw Error(ErrorKind::kNotFound,
                  "no metrics: the task does not exist or is not running (" + e.message() + ")",
                  {.op = "Stats", .container_id = container_id, .path = cgroups_path});
    throw;
  }
}

}  // namespace libcontainerd::direct
