// Task statistics read from cgroupfs directly: the direct backend's, and the containerd
// backend's StatsMany for tasks whose cgroup it knows (docs/direct-backend.md). The values are
// those containerd's runc shim reports for the same cgroup (github.com/containerd/cgroups: cgroup1
// Stat with IgnoreNotExist, cgroup2 Manager.Stat), so a caller cannot tell the two backends apart
// by their Stats:
//
// cgroup v1 (per controller, <mount_root>/<controller>/<cgroups_path>/):
//   cpu      always present, with usage and throttling (zeros for what could not be read)
//            cpuacct.stat "user"/"system" ticks -> usage.user/kernel in ns; cpuacct.usage ->
//            usage.total; cpuacct.usage_percpu -> usage.per_cpu (containerd's order: a missing
//            file ends the cpuacct part); cpu.stat nr_periods/nr_throttled/throttled_time ->
//            throttling
//   memory   present when memory.stat is: its keys (hierarchical_memsw_limit ->
//            hierarchical_swap_limit, pgpgin -> pg_pg_in, ...); usage, swap (memsw), kernel
//            (kmem), kernel_tcp (kmem.tcp) always present once memory is, each from
//            memory[.module].usage_in_bytes/max_usage_in_bytes/failcnt/limit_in_bytes (a
//            missing file ends the entries, as containerd's loop does); memory.oom_control ->
//            memory_oom_control (present when that file is)
//   pids     pids.current and pids.max ("max" -> 0) when both exist
//   blkio    present when the controller has the cgroup: the CFQ *_recursive files when
//            blkio.io_serviced_recursive exists and they hold entries, else
//            blkio.throttle.io_serviced / io_service_bytes (into io_serviced_recursive /
//            io_service_bytes_recursive); device names from /proc/partitions ("/dev/<name>")
//   hugetlb  hugetlb.<size>.usage_in_bytes/max_usage_in_bytes/failcnt per size, ordered as
//            containerd orders /sys/kernel/mm/hugepages (by "hugepages-<kB>kB" name)
//   rdma     rdma.current and rdma.max ("max" -> UINT32_MAX) when both exist
//   network, cgroup_stats: never (containerd's collectors fill neither)
//
// cgroup v2 (<mount_root>/<cgroups_path>/), containerd's cgroups >= 1.1 (PSI and peaks):
//   pids     always: pids.current, pids.max ("max" -> UINT64_MAX; a missing file -> 0)
//   cpu      always: cpu.stat usage_usec ... throttled_usec; psi from cpu.pressure (all zero
//            and no psi when cpu.stat is missing, as containerd)
//   memory   always: memory.stat keys, memory.current/max/swap.current/swap.max/peak/swap.peak
//            ("max" -> UINT64_MAX, missing -> 0); psi from memory.pressure (all zero and no
//            psi when memory.stat is missing: no memory controller, as containerd)
//   memory_events  memory.events low/high/max/oom/oom_kill when it has at least one line
//   io       always: io.stat rbytes/wbytes/rios/wios per device; psi from io.pressure
//   rdma     always (possibly empty lists); hugetlb: hugetlb.<size>.current/max, by size name
//   A PSI file that is missing or garbled gives no psi (as containerd: it logs and leaves it).
//
// Not containerd's rule, but ours: a file that exists and is garbled (not the kernel's format)
// is an error, kUnknown naming the file, rather than a silent zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "libcontainerd/stats.h"

namespace libcontainerd::stats {

// The statistics of the cgroup `cgroups_path` (an OCI spec's linux.cgroupsPath) under the
// cgroup mount `mount_root` (a parameter so tests can point it at a fake tree).
//
// cgroups_path: the cgroupfs driver's absolute form ("/lcd/ns/id"). The systemd driver's form
// "slice:prefix:name" (runc maps it to <slice expanded>/<prefix>-<name>.scope, below the cgroup
// of pid 1 in each v1 controller) and relative paths (runc resolves them against its parent's
// cgroup) are refused with kInvalidArgument: which cgroup they name depends on processes this
// reader cannot see; give the absolute path (the direct backend always sets one).
//
// Version: v2 when <mount_root>/cgroup.controllers exists (a unified mount), else v1 (also the
// hybrid layout, as containerd: the v1 controllers carry the metrics).
//
// Errors: kInvalidArgument as above or for ".." components; kNotFound naming the path when the
// cgroup does not exist (v1: in none of the mounted controllers; the task is gone);
// kUnknown naming the file for an unreadable (other than missing) or garbled file.
// Stats::read is the time of the call (system clock).
// Thread-safety: reentrant; no shared state. Cost: one open+read per file (about 25 files on
// v1, 15 on v2), no iostreams.
Stats ReadCgroupStats(const std::string& cgroups_path,
                      const std::string& mount_root = "/sys/fs/cgroup");

// Reading many tasks' cgroups (a StatsMany of both backends): kManyReadThreads threads from
// kManyReadFrom tasks on (common/parallel.h); the reads wait on the kernel's cgroup locks as
// much as they use CPU.
inline constexpr size_t kManyReadThreads = 4;
inline constexpr size_t kManyReadFrom = 64;

// The processes (thread group ids) in the cgroup and every cgroup below it, as runc's `ps`
// sees them (v1: the devices controller's tree, else the first of pids, memory, cpu, freezer
// that has the cgroup; v2: the unified tree), each once, in the kernel's order, parents before
// children. A cgroup removed while it is walked is skipped. Errors as ReadCgroupStats.
// Thread-safety: reentrant.
std::vector<uint32_t> CgroupPids(const std::string& cgroups_path,
                                 const std::string& mount_root = "/sys/fs/cgroup");

}  // namespace libcontainerd::stats
