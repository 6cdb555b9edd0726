// Renders the cgroup metrics value types as JSON, field for field.
#include "stats/stats_json.h"

#include <chrono>
#include <cstdio>

namespace libcontainerd {
namespace {

using nlohmann::json;

// An optional message: null when the daemon did not send it.
template <typename T>
json Opt(const std::optional<T>& v) {
  return v ? ToJson(*v) : json(nullptr);
}
template <typename T>
json List(const std::vector<T>& v) {
  json a = json::array();
  for (const auto& e : v) a.push_back(ToJson(e));
  return a;
}

}  // namespace

// ToJson overloads live in the cgroup namespaces (internal linkage) so that Opt/List find them
// by argument-dependent lookup at instantiation.
namespace cgroup1 {
static json ToJson(const HugetlbStat& v) {
  return {{"usage", v.usage}, {"max", v.max}, {"failcnt", v.failcnt}, {"pagesize", v.pagesize}};
}
static json ToJson(const PidsStat& v) { return {{"current", v.current}, {"limit", v.limit}}; }
static json ToJson(const CPUUsage& v) {
  return {{"total", v.total}, {"kernel", v.kernel}, {"user", v.user}, {"per_cpu", v.per_cpu}};
}
static json ToJson(const Throttle& v) {
  return {{"periods", v.periods},
          {"throttled_periods", v.throttled_periods},
          {"throttled_time", v.throttled_time}};
}
static json ToJson(const CPUStat& v) {
  return {{"usage", Opt(v.usage)}, {"throttling", Opt(v.throttling)}};
}
static json ToJson(const MemoryEntry& v) {
  return {{"limit", v.limit}, {"usage", v.usage}, {"max", v.max}, {"failcnt", v.failcnt}};
}
static json ToJson(const MemoryStat& v) {
  return {{"cache", v.cache},
          {"rss", v.rss},
          {"rss_huge", v.rss_huge},
          {"mapped_file", v.mapped_file},
          {"dirty", v.dirty},
          {"writeback", v.writeback},
          {"pg_pg_in", v.pg_pg_in},
          {"pg_pg_out", v.pg_pg_out},
          {"pg_fault", v.pg_fault},
          {"pg_maj_fault", v.pg_maj_fault},
          {"inactive_anon", v.inactive_anon},
          {"active_anon", v.active_anon},
          {"inactive_file", v.inactive_file},
          {"active_file", v.active_file},
          {"unevictable", v.unevictable},
          {"hierarchical_memory_limit", v.hierarchical_memory_limit},
          {"hierarchical_swap_limit", v.hierarchical_swap_limit},
          {"total_cache", v.total_cache},
          {"total_rss", v.total_rss},
          {"total_rss_huge", v.total_rss_huge},
          {"total_mapped_file", v.total_mapped_file},
          {"total_dirty", v.total_dirty},
          {"total_writeback", v.total_writeback},
          {"total_pg_pg_in", v.total_pg_pg_in},
          {"total_pg_pg_out", v.total_pg_pg_out},
          {"total_pg_fault", v.total_pg_fault},
          {"total_pg_maj_fault", v.total_pg_maj_fault},
          {"total_inactive_anon", v.total_inactive_anon},
          {"total_active_anon", v.total_active_anon},
          {"total_inactive_file", v.total_inactive_file},
          {"total_active_file", v.total_active_file},
          {"total_unevictable", v.total_unevictable},
          {"usage", Opt(v.usage)},
          {"swap", Opt(v.swap)},
          {"kernel", Opt(v.kernel)},
          {"kernel_tcp", Opt(v.kernel_tcp)}};
}
static json ToJson(const MemoryOomControl& v) {
  return {{"oom_kill_disable", v.oom_kill_disable},
          {"under_oom", v.under_oom},
          {"oom_kill", v.oom_kill}};
}
static json ToJson(const BlkIOEntry& v) {
  return {{"op", v.op},
          {"device", v.device},
          {"major", v.major},
          {"minor", v.minor},
          {"value", v.value}};
}
static json ToJson(const BlkIOStat& v) {
  return {{"io_service_bytes_recursive", List(v.io_service_bytes_recursive)},
          {"io_serviced_recursive", List(v.io_serviced_recursive)},
          {"io_queued_recursive", List(v.io_queued_recursive)},
          {"io_service_time_recursive", List(v.io_service_time_recursive)},
          {"io_wait_time_recursive", List(v.io_wait_time_recursive)},
          {"io_merged_recursive", List(v.io_merged_recursive)},
          {"io_time_recursive", List(v.io_time_recursive)},
          {"sectors_recursive", List(v.sectors_recursive)}};
}
static json ToJson(const RdmaEntry& v) {
  return {{"device", v.device}, {"hca_handles", v.hca_handles}, {"hca_objects", v.hca_objects}};
}
static json ToJson(const RdmaStat& v) {
  return {{"current", List(v.current)}, {"limit", List(v.limit)}};
}
static json ToJson(const NetworkStat& v) {
  return {{"name", v.name},
          {"rx_bytes", v.rx_bytes},
          {"rx_packets", v.rx_packets},
          {"rx_errors", v.rx_errors},
          {"rx_dropped", v.rx_dropped},
          {"tx_bytes", v.tx_bytes},
          {"tx_packets", v.tx_packets},
          {"tx_errors", v.tx_errors},
          {"tx_dropped", v.tx_dropped}};
}
static json ToJson(const CgroupStats& v) {
  return {{"nr_sleeping", v.nr_sleeping},
          {"nr_running", v.nr_running},
          {"nr_stopped", v.nr_stopped},
          {"nr_uninterruptible", v.nr_uninterruptible},
          {"nr_io_wait", v.nr_io_wait}};
}
static json ToJson(const Metrics& v) {
  return {{"hugetlb", List(v.hugetlb)},
          {"pids", Opt(v.pids)},
          {"cpu", Opt(v.cpu)},
          {"memory", Opt(v.memory)},
          {"blkio", Opt(v.blkio)},
          {"rdma", Opt(v.rdma)},
          {"network", List(v.network)},
          {"cgroup_stats", Opt(v.cgroup_stats)},
          {"memory_oom_control", Opt(v.memory_oom_control)}};
}
}  // namespace cgroup1

namespace cgroup2 {
static json ToJson(const PSIData& v) {
  return {{"avg10", v.avg10}, {"avg60", v.avg60}, {"avg300", v.avg300}, {"total", v.total}};
}
static json ToJson(const PSIStats& v) { return {{"some", Opt(v.some)}, {"full", Opt(v.full)}}; }
static json ToJson(const PidsStat& v) { return {{"current", v.current}, {"limit", v.limit}}; }
static json ToJson(const CPUStat& v) {
  return {{"usage_usec", v.usage_usec},
          {"user_usec", v.user_usec},
          {"system_usec", v.system_usec},
          {"nr_periods", v.nr_periods},
          {"nr_throttled", v.nr_throttled},
          {"throttled_usec", v.throttled_usec},
          {"psi", Opt(v.psi)}};
}
static json ToJson(const MemoryStat& v) {
  return {{"anon", v.anon},
          {"file", v.file},
          {"kernel_stack", v.kernel_stack},
          {"slab", v.slab},
          {"sock", v.sock},
          {"shmem", v.shmem},
          {"file_mapped", v.file_mapped},
          {"file_dirty", v.file_dirty},
          {"file_writeback", v.file_writeback},
          {"anon_thp", v.anon_thp},
          {"inactive_anon", v.inactive_anon},
          {"active_anon", v.active_anon},
          {"inactive_file", v.inactive_file},
          {"active_file", v.active_file},
          {"unevictable", v.unevictable},
          {"slab_reclaimable", v.slab_reclaimable},
          {"slab_unreclaimable", v.slab_unreclaimable},
          {"pgfault", v.pgfault},
          {"pgmajfault", v.pgmajfault},
          {"workingset_refault", v.workingset_refault},
          {"workingset_activate", v.workingset_activate},
          {"workingset_nodereclaim", v.workingset_nodereclaim},
          {"pgrefill", v.pgrefill},
          {"pgscan", v.pgscan},
          {"pgsteal", v.pgsteal},
          {"pgactivate", v.pgactivate},
          {"pgdeactivate", v.pgdeactivate},
          {"pglazyfree", v.pglazyfree},
          {"pglazyfreed", v.pglazyfreed},
          {"thp_fault_alloc", v.thp_fault_alloc},
          {"thp_collapse_alloc", v.thp_collapse_alloc},
          {"usage", v.usage},
          {"usage_limit", v.usage_limit},
          {"swap_usage", v.swap_usage},
          {"swap_limit", v.swap_limit},
          {"max_usage", v.max_usage},
          {"swap_max_usage", v.swap_max_usage},
          {"psi", Opt(v.psi)}};
}
static json ToJson(const MemoryEvents& v) {
  return {
      {"low", v.low}, {"high", v.high}, {"max", v.max}, {"oom", v.oom}, {"oom_kill", v.oom_kill}};
}
static json ToJson(const RdmaEntry& v) {
  return {{"device", v.device}, {"hca_handles", v.hca_handles}, {"hca_objects", v.hca_objects}};
}
static json ToJson(const RdmaStat& v) {
  return {{"current", List(v.current)}, {"limit", List(v.limit)}};
}
static json ToJson(const IOEntry& v) {
  return {{"major", v.major},   {"minor", v.minor}, {"rbytes", v.rbytes},
          {"wbytes", v.wbytes}, {"rios", v.rios},   {"wios", v.wios}};
}
static json ToJson(const IOStat& v) { return {{"usage", List(v.usage)}, {"psi", Opt(v.psi)}}; }
static json ToJson(const HugeTlbStat& v) {
  return {{"current", v.current}, {"max", v.max}, {"pagesize", v.pagesize}};
}
static json ToJson(const Metrics& v) {
  return {{"pids", Opt(v.pids)},
          {"cpu", Opt(v.cpu)},
          {"memory", Opt(v.memory)},
          {"rdma", Opt(v.rdma)},
          {"io", Opt(v.io)},
          {"hugetlb", List(v.hugetlb)},
          {"memory_events", Opt(v.memory_events)}};
}
}  // namespace cgroup2

std::string FormatRfc3339Nano(SystemTime t) {
  using namespace std::chrono;
  auto ns = time_point_cast<nanoseconds>(t);
  auto day = floor<days>(ns);
  year_month_day ymd{day};
  hh_mm_ss<nanoseconds> tod{ns - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%09lldZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(tod.hours().count()),
                static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()),
                static_cast<long long>(tod.subseconds().count()));
  return buf;
}

nlohmann::json StatsToJson(const Stats& stats) {
  json j;
  j["read"] = FormatRfc3339Nano(stats.read);
  if (const auto* m = stats.v1()) {
    j["cgroup"] = "v1";
    j["metrics"] = cgroup1::ToJson(*m);
  } else if (const auto* m = stats.v2()) {
    j["cgroup"] = "v2";
    j["metrics"] = cgroup2::ToJson(*m);
  } else {
    j["cgroup"] = "none";
    j["metrics"] = nullptr;
  }
  return j;
}

std::string StatsToJsonString(const Stats& stats) { return StatsToJson(stats).dump(); }

}  // namespace libcontainerd
