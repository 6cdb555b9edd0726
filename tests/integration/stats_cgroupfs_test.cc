// ReadCgroupStats (the direct backend's stats, read from cgroupfs) against containerd's own
// metrics for the same running container: the same Stats. A busybox container with a memory
// and a pids limit allocates memory and burns CPU, then idles; its stats are read through
// containerd (Task::GetStats) and from cgroupfs right after. Limits and the set of present
// messages must be equal, counters close, and monotonic counters ours >= theirs (read after).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"
#include "stats/cgroupfs.h"
#include "test_util.h"

using namespace libcontainerd;
using lcdtest::ClientTest;
using lcdtest::ContainerdClientTest;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr int64_t kMemoryLimit = 96 * kMiB;
constexpr int64_t kPidsLimit = 50;

// The cgroup of `pid` as /proc/<pid>/cgroup names it: v1 the memory controller's line, v2 the
// unified ("0::") line. Empty when not found.
std::string CgroupOfPid(uint32_t pid, bool v2) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    bool match = false;
    if (v2) {
      match = line.compare(0, 3, "0::") == 0;
    } else {
      size_t start = 0;
      while (start <= controllers.size()) {
        size_t end = controllers.find(',', start);
        if (end == std::string::npos) end = controllers.size();
        if (controllers.compare(start, end - start, "memory") == 0) match = true;
        start = end + 1;
      }
    }
    if (match) return line.substr(second + 1);
  }
  return "";
}

// Counter `ours` read after `theirs`: not smaller, and not more than `tolerance` larger.
void ExpectAfter(uint64_t theirs, uint64_t ours, uint64_t tolerance, const char* what) {
  EXPECT_GE(ours, theirs) << what;
  EXPECT_LE(ours - theirs, tolerance) << what << " " << ours << " vs containerd's " << theirs;
}
// A level that may move either way (memory in use): within `tolerance`.
void ExpectClose(uint64_t theirs, uint64_t ours, uint64_t tolerance, const char* what) {
  EXPECT_LE(ours > theirs ? ours - theirs : theirs - ours, tolerance)
      << what << " " << ours << " vs containerd's " << theirs;
}
#define EXPECT_AFTER(theirs, ours, tolerance) ExpectAfter(theirs, ours, tolerance, #ours)
#define EXPECT_CLOSE(theirs, ours, tolerance) ExpectClose(theirs, ours, tolerance, #ours)

constexpr uint64_t kCpuToleranceNs = 50'000'000;  // the container idles: little CPU between reads
constexpr uint64_t kMemTolerance = 2 * kMiB;

void CompareV1(const cgroup1::Metrics& t, const cgroup1::Metrics& o) {
  // Presence of every optional message, and the list sizes.
  EXPECT_EQ(o.cpu.has_value(), t.cpu.has_value());
  EXPECT_EQ(o.memory.has_value(), t.memory.has_value());
  EXPECT_EQ(o.pids.has_value(), t.pids.has_value());
  EXPECT_EQ(o.blkio.has_value(), t.blkio.has_value());
  EXPECT_EQ(o.rdma.has_value(), t.rdma.has_value());
  EXPECT_EQ(o.cgroup_stats.has_value(), t.cgroup_stats.has_value());
  EXPECT_EQ(o.memory_oom_control.has_value(), t.memory_oom_control.has_value());
  EXPECT_EQ(o.hugetlb.size(), t.hugetlb.size());
  EXPECT_EQ(o.network.size(), t.network.size());
  ASSERT_TRUE(t.cpu && o.cpu && t.memory && o.memory && t.pids && o.pids);
  EXPECT_EQ(o.cpu->usage.has_value(), t.cpu->usage.has_value());
  EXPECT_EQ(o.cpu->throttling.has_value(), t.cpu->throttling.has_value());
  const auto& tm = *t.memory;
  const auto& om = *o.memory;
  EXPECT_EQ(om.usage.has_value(), tm.usage.has_value());
  EXPECT_EQ(om.swap.has_value(), tm.swap.has_value());
  EXPECT_EQ(om.kernel.has_value(), tm.kernel.has_value());
  EXPECT_EQ(om.kernel_tcp.has_value(), tm.kernel_tcp.has_value());

  // Limits: equal.
  ASSERT_TRUE(tm.usage && om.usage);
  EXPECT_EQ(tm.usage->limit, static_cast<uint64_t>(kMemoryLimit)) << "the spec's limit";
  EXPECT_EQ(om.usage->limit, tm.usage->limit);
  EXPECT_EQ(om.hierarchical_memory_limit, tm.hierarchical_memory_limit);
  EXPECT_EQ(om.hierarchical_swap_limit, tm.hierarchical_swap_limit);
  for (auto [te, oe] : {std::pair{tm.swap, om.swap}, std::pair{tm.kernel, om.kernel},
                        std::pair{tm.kernel_tcp, om.kernel_tcp}}) {
    ASSERT_TRUE(te && oe);
    EXPECT_EQ(oe->limit, te->limit);
    EXPECT_EQ(oe->failcnt, te->failcnt);
    EXPECT_CLOSE(te->usage, oe->usage, kMemTolerance);
    EXPECT_AFTER(te->max, oe->max, kMemTolerance);
  }
  EXPECT_EQ(t.pids->limit, static_cast<uint64_t>(kPidsLimit)) << "the spec's limit";
  EXPECT_EQ(o.pids->limit, t.pids->limit);
  EXPECT_EQ(o.pids->current, t.pids->current);
  EXPECT_EQ(o.memory_oom_control, t.memory_oom_control);

  // CPU: monotonic counters.
  ASSERT_TRUE(t.cpu->usage && o.cpu->usage);
  const auto& tu = *t.cpu->usage;
  const auto& ou = *o.cpu->usage;
  EXPECT_GT(tu.total, 0u) << "the container burnt CPU";
  EXPECT_AFTER(tu.total, ou.total, kCpuToleranceNs);
  EXPECT_AFTER(tu.user, ou.user, kCpuToleranceNs);
  EXPECT_AFTER(tu.kernel, ou.kernel, kCpuToleranceNs);
  ASSERT_EQ(ou.per_cpu.size(), tu.per_cpu.size());
  for (size_t i = 0; i < tu.per_cpu.size(); ++i) {
    SCOPED_TRACE("cpu " + std::to_string(i));
    EXPECT_AFTER(tu.per_cpu[i], ou.per_cpu[i], kCpuToleranceNs);
  }
  EXPECT_EQ(o.cpu->throttling, t.cpu->throttling);  // no quota: nothing moves

  // Memory: levels close, event counters monotonic.
  EXPECT_GT(tm.usage->usage, 8 * kMiB) << "the container allocated memory";
  EXPECT_CLOSE(tm.usage->usage, om.usage->usage, kMemTolerance);
  EXPECT_AFTER(tm.usage->max, om.usage->max, kMemTolerance);
  EXPECT_EQ(om.usage->failcnt, tm.usage->failcnt);
  EXPECT_CLOSE(tm.rss, om.rss, kMemTolerance);
  EXPECT_CLOSE(tm.cache, om.cache, kMemTolerance);
  EXPECT_CLOSE(tm.total_rss, om.total_rss, kMemTolerance);
  EXPECT_CLOSE(tm.total_cache, om.total_cache, kMemTolerance);
  EXPECT_CLOSE(tm.active_anon, om.active_anon, kMemTolerance);
  EXPECT_CLOSE(tm.inactive_anon, om.inactive_anon, kMemTolerance);
  EXPECT_CLOSE(tm.total_inactive_file, om.total_inactive_file, kMemTolerance);
  EXPECT_CLOSE(tm.mapped_file, om.mapped_file, kMemTolerance);
  EXPECT_AFTER(tm.pg_fault, om.pg_fault, 2000);
  EXPECT_AFTER(tm.total_pg_fault, om.total_pg_fault, 2000);
  EXPECT_AFTER(tm.pg_pg_in, om.pg_pg_in, 2000);
  EXPECT_AFTER(tm.total_pg_pg_in, om.total_pg_pg_in, 2000);
  EXPECT_AFTER(tm.pg_maj_fault, om.pg_maj_fault, 100);

  // blkio: the same entries (devices, ops), counters not smaller.
  ASSERT_TRUE(t.blkio && o.blkio);
  auto same_entries = [](const std::vector<cgroup1::BlkIOEntry>& te,
                         const std::vector<cgroup1::BlkIOEntry>& oe, const char* what) {
    ASSERT_EQ(oe.size(), te.size()) << what;
    for (size_t i = 0; i < te.size(); ++i) {
      EXPECT_EQ(oe[i].op, te[i].op) << what;
      EXPECT_EQ(oe[i].device, te[i].device) << what;
      EXPECT_EQ(oe[i].major, te[i].major) << what;
      EXPECT_EQ(oe[i].minor, te[i].minor) << what;
      EXPECT_GE(oe[i].value, te[i].value) << what;
    }
  };
  same_entries(t.blkio->io_serviced_recursive, o.blkio->io_serviced_recursive, "io_serviced");
  same_entries(t.blkio->io_service_bytes_recursive, o.blkio->io_service_bytes_recursive,
               "io_service_bytes");
  same_entries(t.blkio->sectors_recursive, o.blkio->sectors_recursive, "sectors");
  same_entries(t.blkio->io_time_recursive, o.blkio->io_time_recursive, "io_time");
  for (size_t i = 0; i < std::min(t.hugetlb.size(), o.hugetlb.size()); ++i) {
    EXPECT_EQ(o.hugetlb[i].pagesize, t.hugetlb[i].pagesize);
  }
}

void CompareV2(const cgroup2::Metrics& t, const cgroup2::Metrics& o) {
  EXPECT_EQ(o.pids.has_value(), t.pids.has_value());
  EXPECT_EQ(o.cpu.has_value(), t.cpu.has_value());
  EXPECT_EQ(o.memory.has_value(), t.memory.has_value());
  EXPECT_EQ(o.rdma.has_value(), t.rdma.has_value());
  EXPECT_EQ(o.io.has_value(), t.io.has_value());
  EXPECT_EQ(o.memory_events.has_value(), t.memory_events.has_value());
  EXPECT_EQ(o.hugetlb.size(), t.hugetlb.size());
  ASSERT_TRUE(t.cpu && o.cpu && t.memory && o.memory && t.pids && o.pids);
  // PSI and peaks: only a containerd whose cgroups library reads them sends them (>= 1.1).
  if (t.cpu->psi) {
    EXPECT_TRUE(o.cpu->psi.has_value());
  }
  if (t.memory->psi) {
    EXPECT_TRUE(o.memory->psi.has_value());
  }
  EXPECT_EQ(t.pids->limit, static_cast<uint64_t>(kPidsLimit));
  EXPECT_EQ(o.pids->limit, t.pids->limit);
  EXPECT_EQ(o.pids->current, t.pids->current);
  EXPECT_EQ(t.memory->usage_limit, static_cast<uint64_t>(kMemoryLimit));
  EXPECT_EQ(o.memory->usage_limit, t.memory->usage_limit);
  EXPECT_EQ(o.memory->swap_limit, t.memory->swap_limit);
  EXPECT_GT(t.cpu->usage_usec, 0u);
  EXPECT_AFTER(t.cpu->usage_usec, o.cpu->usage_usec, kCpuToleranceNs / 1000);
  EXPECT_AFTER(t.cpu->user_usec, o.cpu->user_usec, kCpuToleranceNs / 1000);
  EXPECT_AFTER(t.cpu->system_usec, o.cpu->system_usec, kCpuToleranceNs / 1000);
  EXPECT_GT(t.memory->usage, 8 * kMiB);
  EXPECT_CLOSE(t.memory->usage, o.memory->usage, kMemTolerance);
  EXPECT_CLOSE(t.memory->anon, o.memory->anon, kMemTolerance);
  EXPECT_CLOSE(t.memory->file, o.memory->file, kMemTolerance);
  EXPECT_AFTER(t.memory->pgfault, o.memory->pgfault, 2000);
  if (t.memory->max_usage) {
    EXPECT_AFTER(t.memory->max_usage, o.memory->max_usage, kMemTolerance);
  }
  if (t.memory_events && o.memory_events) {
    EXPECT_EQ(*o.memory_events, *t.memory_events);
  }
}

TEST_F(ContainerdClientTest, CgroupfsStatsAreContainerdsStatsOfTheSameContainer) {
  std::string id = lcdtest::UniqueId("cgfs");
  // 16 MiB in a shell variable, then a busy loop, then idle.
  auto opts =
      Options(id, {"sh", "-c",
                   "a=$(head -c 16777216 /dev/zero | tr '\\0' x); i=0; "
                   "while [ $i -lt 30000 ]; do i=$((i+1)); done; while :; do sleep 1000; done"});
  opts.memory_limit = kMemoryLimit;
  opts.pids_limit = kPidsLimit;
  auto c = Create(opts);
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  const bool v2 = lcdtest::CgroupV2();

  // The cgroup runc really put the container in, and the one the spec asked for.
  auto spec = c->Spec(ctx_);
  ASSERT_TRUE(spec.linux);
  std::string path = CgroupOfPid(task->Pid(), v2);
  ASSERT_FALSE(path.empty()) << "no cgroup line in /proc/" << task->Pid() << "/cgroup";
  EXPECT_EQ(path, spec.linux->cgroups_path);

  // Wait until the busy loop is over: CPU time stops moving (two reads 300 ms apart agree).
  auto cpu_of = [&](const Stats& s) -> uint64_t {
    if (s.v1() && s.v1()->cpu && s.v1()->cpu->usage) return s.v1()->cpu->usage->total;
    if (s.v2() && s.v2()->cpu) return s.v2()->cpu->usage_usec * 1000;
    return 0;
  };
  bool idle = lcdtest::Eventually(
      [&] {
        uint64_t before = cpu_of(task->GetStats(ctx_));
        std::this_thread::sleep_for(300ms);
        return before > 0 && cpu_of(task->GetStats(ctx_)) == before;
      },
      lcdtest::Scaled(30s));
  ASSERT_TRUE(idle) << "the container's CPU time kept moving";

  Stats theirs = task->GetStats(ctx_);
  Stats ours = stats::ReadCgroupStats(path);
  ASSERT_EQ(ours.metrics.index(), theirs.metrics.index()) << "same cgroup version";
  EXPECT_GE(ours.read, theirs.read - 1s);
  if (v2) {
    CompareV2(*theirs.v2(), *ours.v2());
  } else {
    CompareV1(*theirs.v1(), *ours.v1());
  }
  auto ts = Summarize(theirs), os = Summarize(ours);
  EXPECT_EQ(os.memory_limit, ts.memory_limit);
  EXPECT_EQ(os.pids_current, ts.pids_current);

  // The processes: what containerd's Pids (runc ps) gives.
  std::set<uint32_t> their_pids;
  for (const auto& p : task->Pids(ctx_)) their_pids.insert(p.pid);
  auto our_list = stats::CgroupPids(path);
  std::set<uint32_t> our_pids(our_list.begin(), our_list.end());
  EXPECT_EQ(our_pids, their_pids);
  EXPECT_EQ(our_pids.size(), our_list.size()) << "each pid once";
  EXPECT_TRUE(our_pids.count(task->Pid()));

  // What a read costs is the benchmark's to say (`lcd_bench run --only scale`: StatsMany of N
  // against issue 20's budget), not a timed test's.

  // The task gone, its cgroup is gone: kNotFound naming the path.
  task->ForceDelete(ctx_);
  try {
    stats::ReadCgroupStats(path);
    ADD_FAILURE() << "stats of a deleted task's cgroup";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
