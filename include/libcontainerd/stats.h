// libcontainerd: task statistics as plain C++ values (cgroup v1 and v2 metrics).
// Field names and meanings are containerd's cgroups metrics (io.containerd.cgroups.v1/v2);
// a message the daemon did not send is an empty std::optional. cgroup v2 fields that newer
// containerd releases send (PSI, peak usage) are decoded too; an older daemon leaves them empty.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "libcontainerd/export.h"
#include "libcontainerd/types.h"

namespace libcontainerd {

namespace cgroup1 {
struct LCD_EXPORT HugetlbStat {
  uint64_t usage = 0;
  uint64_t max = 0;
  uint64_t failcnt = 0;
  std::string pagesize;
  bool operator==(const HugetlbStat&) const = default;
};
struct LCD_EXPORT PidsStat {
  uint64_t current = 0;
  uint64_t limit = 0;
  bool operator==(const PidsStat&) const = default;
};
struct LCD_EXPORT CPUUsage {
  uint64_t total = 0;
  uint64_t kernel = 0;
  uint64_t user = 0;
  std::vector<uint64_t> per_cpu;
  bool operator==(const CPUUsage&) const = default;
};
struct LCD_EXPORT Throttle {
  uint64_t periods = 0;
  uint64_t throttled_periods = 0;
  uint64_t throttled_time = 0;
  bool operator==(const Throttle&) const = default;
};
struct LCD_EXPORT CPUStat {
  std::optional<CPUUsage> usage;
  std::optional<Throttle> throttling;
  bool operator==(const CPUStat&) const = default;
};
struct LCD_EXPORT MemoryEntry {
  uint64_t limit = 0;
  uint64_t usage = 0;
  uint64_t max = 0;
  uint64_t failcnt = 0;
  bool operator==(const MemoryEntry&) const = default;
};
struct LCD_EXPORT MemoryStat {
  uint64_t cache = 0;
  uint64_t rss = 0;
  uint64_t rss_huge = 0;
  uint64_t mapped_file = 0;
  uint64_t dirty = 0;
  uint64_t writeback = 0;
  uint64_t pg_pg_in = 0;
  uint64_t pg_pg_out = 0;
  uint64_t pg_fault = 0;
  uint64_t pg_maj_fault = 0;
  uint64_t inactive_anon = 0;
  uint64_t active_anon = 0;
  uint64_t inactive_file = 0;
  uint64_t active_file = 0;
  uint64_t unevictable = 0;
  uint64_t hierarchical_memory_limit = 0;
  uint64_t hierarchical_swap_limit = 0;
  uint64_t total_cache = 0;
  uint64_t total_rss = 0;
  uint64_t total_rss_huge = 0;
  uint64_t total_mapped_file = 0;
  uint64_t total_dirty = 0;
  uint64_t total_writeback = 0;
  uint64_t total_pg_pg_in = 0;
  uint64_t total_pg_pg_out = 0;
  uint64_t total_pg_fault = 0;
  uint64_t total_pg_maj_fault = 0;
  uint64_t total_inactive_anon = 0;
  uint64_t total_active_anon = 0;
  uint64_t total_inactive_file = 0;
  uint64_t total_active_file = 0;
  uint64_t total_unevictable = 0;
  std::optional<MemoryEntry> usage;
  std::optional<MemoryEntry> swap;
  std::optional<MemoryEntry> kernel;
  std::optional<MemoryEntry> kernel_tcp;
  bool operator==(const MemoryStat&) const = default;
};
struct LCD_EXPORT MemoryOomControl {
  uint64_t oom_kill_disable = 0;
  uint64_t under_oom = 0;
  uint64_t oom_kill = 0;
  bool operator==(const MemoryOomControl&) const = default;
};
struct LCD_EXPORT BlkIOEntry {
  std::string op;
  std::string device;
  uint64_t major = 0;
  uint64_t minor = 0;
  uint64_t value = 0;
  bool operator==(const BlkIOEntry&) const = default;
};
struct LCD_EXPORT BlkIOStat {
  std::vector<BlkIOEntry> io_service_bytes_recursive;
  std::vector<BlkIOEntry> io_serviced_recursive;
  std::vector<BlkIOEntry> io_queued_recursive;
  std::vector<BlkIOEntry> io_service_time_recursive;
  std::vector<BlkIOEntry> io_wait_time_recursive;
  std::vector<BlkIOEntry> io_merged_recursive;
  std::vector<BlkIOEntry> io_time_recursive;
  std::vector<BlkIOEntry> sectors_recursive;
  bool operator==(const BlkIOStat&) const = default;
};
struct LCD_EXPORT RdmaEntry {
  std::string device;
  uint32_t hca_handles = 0;
  uint32_t hca_objects = 0;
  bool operator==(const RdmaEntry&) const = default;
};
struct LCD_EXPORT RdmaStat {
  std::vector<RdmaEntry> current;
  std::vector<RdmaEntry> limit;
  bool operator==(const RdmaStat&) const = default;
};
struct LCD_EXPORT NetworkStat {
  std::string name;
  uint64_t rx_bytes = 0;
  uint64_t rx_packets = 0;
  uint64_t rx_errors = 0;
  uint64_t rx_dropped = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_errors = 0;
  uint64_t tx_dropped = 0;
  bool operator==(const NetworkStat&) const = default;
};
struct LCD_EXPORT CgroupStats {
  uint64_t nr_sleeping = 0;
  uint64_t nr_running = 0;
  uint64_t nr_stopped = 0;
  uint64_t nr_uninterruptible = 0;
  uint64_t nr_io_wait = 0;
  bool operator==(const CgroupStats&) const = default;
};
struct LCD_EXPORT Metrics {
  std::vector<HugetlbStat> hugetlb;
  std::optional<PidsStat> pids;
  std::optional<CPUStat> cpu;
  std::optional<MemoryStat> memory;
  std::optional<BlkIOStat> blkio;
  std::optional<RdmaStat> rdma;
  std::vector<NetworkStat> network;
  std::optional<CgroupStats> cgroup_stats;
  std::optional<MemoryOomControl> memory_oom_control;
  bool operator==(const Metrics&) const = default;
};
}  // namespace cgroup1

namespace cgroup2 {
// Pressure stall information of one kind ("some" or "full" tasks stalled): the percentage of
// wall time stalled over the last 10, 60 and 300 seconds, and the total stall time in
// microseconds (the kernel's <controller>.pressure file).
struct LCD_EXPORT PSIData {
  double avg10 = 0;
  double avg60 = 0;
  double avg300 = 0;
  uint64_t total = 0;
  bool operator==(const PSIData&) const = default;
};
struct LCD_EXPORT PSIStats {
  std::optional<PSIData> some;
  std::optional<PSIData> full;
  bool operator==(const PSIStats&) const = default;
};
struct LCD_EXPORT PidsStat {
  uint64_t current = 0;
  uint64_t limit = 0;
  bool operator==(const PidsStat&) const = default;
};
struct LCD_EXPORT CPUStat {
  uint64_t usage_usec = 0;
  uint64_t user_usec = 0;
  uint64_t system_usec = 0;
  uint64_t nr_periods = 0;
  uint64_t nr_throttled = 0;
  uint64_t throttled_usec = 0;
  std::optional<PSIStats> psi;  // cpu.pressure (containerd's cgroups >= 1.1)
  bool operator==(const CPUStat&) const = default;
};
struct LCD_EXPORT MemoryStat {
  uint64_t anon = 0;
  uint64_t file = 0;
  uint64_t kernel_stack = 0;
  uint64_t slab = 0;
  uint64_t sock = 0;
  uint64_t shmem = 0;
  uint64_t file_mapped = 0;
  uint64_t file_dirty = 0;
  uint64_t file_writeback = 0;
  uint64_t anon_thp = 0;
  uint64_t inactive_anon = 0;
  uint64_t active_anon = 0;
  uint64_t inactive_file = 0;
  uint64_t active_file = 0;
  uint64_t unevictable = 0;
  uint64_t slab_reclaimable = 0;
  uint64_t slab_unreclaimable = 0;
  uint64_t pgfault = 0;
  uint64_t pgmajfault = 0;
  uint64_t workingset_refault = 0;
  uint64_t workingset_activate = 0;
  uint64_t workingset_nodereclaim = 0;
  uint64_t pgrefill = 0;
  uint64_t pgscan = 0;
  uint64_t pgsteal = 0;
  uint64_t pgactivate = 0;
  uint64_t pgdeactivate = 0;
  uint64_t pglazyfree = 0;
  uint64_t pglazyfreed = 0;
  uint64_t thp_fault_alloc = 0;
  uint64_t thp_collapse_alloc = 0;
  uint64_t usage = 0;
  uint64_t usage_limit = 0;
  uint64_t swap_usage = 0;
  uint64_t swap_limit = 0;
  // memory.peak and memory.swap.peak (containerd's cgroups >= 1.1; 0 when not sent).
  uint64_t max_usage = 0;
  uint64_t swap_max_usage = 0;
  std::optional<PSIStats> psi;  // memory.pressure
  bool operator==(const MemoryStat&) const = default;
};
struct LCD_EXPORT MemoryEvents {
  uint64_t low = 0;
  uint64_t high = 0;
  uint64_t max = 0;
  uint64_t oom = 0;
  uint64_t oom_kill = 0;
  bool operator==(const MemoryEvents&) const = default;
};
struct LCD_EXPORT RdmaEntry {
  std::string device;
  uint32_t hca_handles = 0;
  uint32_t hca_objects = 0;
  bool operator==(const RdmaEntry&) const = default;
};
struct LCD_EXPORT RdmaStat {
  std::vector<RdmaEntry> current;
  std::vector<RdmaEntry> limit;
  bool operator==(const RdmaStat&) const = default;
};
struct LCD_EXPORT IOEntry {
  uint64_t major = 0;
  uint64_t minor = 0;
  uint64_t rbytes = 0;
  uint64_t wbytes = 0;
  uint64_t rios = 0;
  uint64_t wios = 0;
  bool operator==(const IOEntry&) const = default;
};
struct LCD_EXPORT IOStat {
  std::vector<IOEntry> usage;
  std::optional<PSIStats> psi;  // io.pressure
  bool operator==(const IOStat&) const = default;
};
struct LCD_EXPORT HugeTlbStat {
  uint64_t current = 0;
  uint64_t max = 0;
  std::string pagesize;
  bool operator==(const HugeTlbStat&) const = default;
};
struct LCD_EXPORT Metrics {
  std::optional<PidsStat> pids;
  std::optional<CPUStat> cpu;
  std::optional<MemoryStat> memory;
  std::optional<RdmaStat> rdma;
  std::optional<IOStat> io;
  std::vector<HugeTlbStat> hugetlb;
  std::optional<MemoryEvents> memory_events;
  bool operator==(const Metrics&) const = default;
};
}  // namespace cgroup2

// Statistics of one task at one time.
struct LCD_EXPORT Stats {
  SystemTime read{};  // when the daemon collected them
  std::variant<std::monostate, cgroup1::Metrics, cgroup2::Metrics> metrics;

  const cgroup1::Metrics* v1() const { return std::get_if<cgroup1::Metrics>(&metrics); }
  const cgroup2::Metrics* v2() const { return std::get_if<cgroup2::Metrics>(&metrics); }
};

// moby's InterfaceToStats: decodes a metrics payload given as its type URL
// ("io.containerd.cgroups.v1.Metrics" or "io.containerd.cgroups.v2.Metrics", with or without a
// "type.googleapis.com/" prefix) and its serialized protobuf bytes.
// Throws Error{kInvalidArgument} for an unknown type URL or undecodable bytes.
LCD_EXPORT Stats InterfaceToStats(SystemTime read, std::string_view type_url,
                                  std::string_view bytes);

// The figures `docker stats` shows, derived from either cgroup version. A figure the metrics
// do not carry (a message the daemon did not send) is 0.
struct LCD_EXPORT StatsSummary {
  uint64_t cpu_total_ns = 0;  // cumulative CPU time of the cgroup, nanoseconds
  uint64_t memory_usage = 0;  // bytes in use, without the inactive page cache (as docker)
  uint64_t memory_limit = 0;  // bytes; the kernel's "no limit" value when unlimited
  uint64_t pids_current = 0;  // number of tasks (threads) in the cgroup
  bool operator==(const StatsSummary&) const = default;
};

// v1: cpu.usage.total; memory.usage.usage minus memory.total_inactive_file;
// memory.usage.limit; pids.current.
// v2: cpu.usage_usec * 1000; memory.usage minus memory.inactive_file; memory.usage_limit;
// pids.current.
// The inactive file cache is subtracted only when smaller than the usage (docker's rule).
// An empty Stats gives all zeros. Pure; never throws.
LCD_EXPORT StatsSummary Summarize(const Stats& stats) noexcept;

// Every field of `stats` as one line of JSON: {"read": RFC 3339 UTC time with nanoseconds,
// "cgroup": "v1" | "v2" | "none", "metrics": {...}} with containerd's snake_case field names;
// a message the daemon did not send is null. For tools (lcctl) and logs. Throws only
// std::bad_alloc.
LCD_EXPORT std::string StatsToJsonString(const Stats& stats);

}  // namespace libcontainerd
