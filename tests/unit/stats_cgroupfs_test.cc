// ReadCgroupStats and CgroupPids on fake cgroup trees (files in the kernel's formats) under a
// scratch directory: every field each file maps to, what is absent when an optional file is,
// and the errors (garbled file, missing cgroup, paths we refuse).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "libcontainerd/errors.h"
#include "stats/cgroupfs.h"
#include "test_util.h"

namespace libcontainerd::stats {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();
const std::string kPath = "/lcd/ns1/web";

void Write(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << content;
}

// The first device of /proc/partitions and its /dev name, so blkio entries get a known name.
struct Device {
  uint64_t major = 0, minor = 0;
  std::string name;
};
Device FirstPartition() {
  std::ifstream in("/proc/partitions");
  std::string line;
  std::getline(in, line);  // header
  Device d;
  std::string blocks, name;
  while (in >> d.major >> d.minor >> blocks >> name) {
    d.name = "/dev/" + name;
    return d;
  }
  return {};
}

template <typename F>
Error Thrown(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error thrown";
  return Error(ErrorKind::kUnknown, "none");
}

class CgroupfsV1Tree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() + "/cg";
    dev_ = FirstPartition();
    // cpuacct.stat is in ticks: 250 user and 50 system ticks at CLK_TCK.
    C("cpuacct", "cpuacct.stat", "user 250\nsystem 50\n");
    C("cpuacct", "cpuacct.usage", "3123456789\n");
    C("cpuacct", "cpuacct.usage_percpu", "1000000000 2123456789 \n");
    C("cpu", "cpu.stat",
      "nr_periods 10\nnr_throttled 3\nthrottled_time 777\nnr_bursts 0\nburst_time 0\n");
    C("memory", "memory.stat",
      "cache 4096\nrss 8192\nrss_huge 0\nshmem 0\nmapped_file 1024\ndirty 11\nwriteback 12\n"
      "swap 0\npgpgin 13\npgpgout 14\npgfault 15\npgmajfault 16\ninactive_anon 17\n"
      "active_anon 18\ninactive_file 19\nactive_file 20\nunevictable 21\n"
      "hierarchical_memory_limit 33554432\nhierarchical_memsw_limit 9223372036854771712\n"
      "total_cache 22\ntotal_rss 23\ntotal_rss_huge 24\ntotal_shmem 0\ntotal_mapped_file 25\n"
      "total_dirty 26\ntotal_writeback 27\ntotal_swap 0\ntotal_pgpgin 28\ntotal_pgpgout 29\n"
      "total_pgfault 30\ntotal_pgmajfault 31\ntotal_inactive_anon 32\ntotal_active_anon 33\n"
      "total_inactive_file 34\ntotal_active_file 35\ntotal_unevictable 36\n");
    C("memory", "memory.oom_control", "oom_kill_disable 1\nunder_oom 0\noom_kill 2\n");
    Entry("memory.", 100, 101, 102, 33554432);
    Entry("memory.memsw.", 200, 201, 202, 9223372036854771712ULL);
    Entry("memory.kmem.", 300, 301, 302, 9223372036854771712ULL);
    Entry("memory.kmem.tcp.", 400, 401, 402, 9223372036854771712ULL);
    C("memory", "memory.soft_limit_in_bytes", "-1\n");  // not read; must not disturb
    C("pids", "pids.current", "3\n");
    C("pids", "pids.max", "64\n");
    std::string mm = std::to_string(dev_.major) + ":" + std::to_string(dev_.minor);
    C("blkio", "blkio.throttle.io_serviced",
      mm + " Read 5\n" + mm + " Write 6\n" + mm + " Sync 7\n" + mm + " Async 4\n" + mm +
          " Discard 0\n" + mm + " Total 11\n250:99 Read 1\nTotal 12\n");
    C("blkio", "blkio.throttle.io_service_bytes", mm + " Read 20480\nTotal 20480\n");
  }
  std::string Dir(const std::string& ctl) const { return root_ + "/" + ctl + kPath; }
  void C(const std::string& ctl, const std::string& file, const std::string& content) {
    Write(Dir(ctl) + "/" + file, content);
  }
  void Entry(const std::string& prefix, uint64_t usage, uint64_t max, uint64_t failcnt,
             uint64_t limit) {
    C("memory", prefix + "usage_in_bytes", std::to_string(usage) + "\n");
    C("memory", prefix + "max_usage_in_bytes", std::to_string(max) + "\n");
    C("memory", prefix + "failcnt", std::to_string(failcnt) + "\n");
    C("memory", prefix + "limit_in_bytes", std::to_string(limit) + "\n");
  }
  cgroup1::Metrics Read() {
    Stats s = ReadCgroupStats(kPath, root_);
    EXPECT_NE(s.v1(), nullptr) << "no cgroup.controllers at the root: v1";
    return s.v1() ? *s.v1() : cgroup1::Metrics{};
  }

  lcdtest::ScratchDir dir_{"lcd-cgfs"};
  std::string root_;
  Device dev_;
};

TEST_F(CgroupfsV1Tree, EveryFileMapsToContainerdsFields) {
  auto before = std::chrono::system_clock::now();
  Stats s = ReadCgroupStats(kPath, root_);
  EXPECT_GE(s.read, before);
  ASSERT_NE(s.v1(), nullptr);
  const auto& m = *s.v1();

  ASSERT_TRUE(m.cpu && m.cpu->usage && m.cpu->throttling);
  const uint64_t tick_ns = 1000000000ULL / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  EXPECT_EQ(*m.cpu->usage, (cgroup1::CPUUsage{.total = 3123456789,
                                              .kernel = 50 * tick_ns,
                                              .user = 250 * tick_ns,
                                              .per_cpu = {1000000000, 2123456789}}));
  EXPECT_EQ(*m.cpu->throttling, (cgroup1::Throttle{10, 3, 777}));

  ASSERT_TRUE(m.memory);
  const auto& mem = *m.memory;
  EXPECT_EQ(mem.cache, 4096u);
  EXPECT_EQ(mem.rss, 8192u);
  EXPECT_EQ(mem.rss_huge, 0u);
  EXPECT_EQ(mem.mapped_file, 1024u);
  EXPECT_EQ(mem.dirty, 11u);
  EXPECT_EQ(mem.writeback, 12u);
  EXPECT_EQ(mem.pg_pg_in, 13u);
  EXPECT_EQ(mem.pg_pg_out, 14u);
  EXPECT_EQ(mem.pg_fault, 15u);
  EXPECT_EQ(mem.pg_maj_fault, 16u);
  EXPECT_EQ(mem.inactive_anon, 17u);
  EXPECT_EQ(mem.active_anon, 18u);
  EXPECT_EQ(mem.inactive_file, 19u);
  EXPECT_EQ(mem.active_file, 20u);
  EXPECT_EQ(mem.unevictable, 21u);
  EXPECT_EQ(mem.hierarchical_memory_limit, 33554432u);
  EXPECT_EQ(mem.hierarchical_swap_limit, 9223372036854771712u);
  EXPECT_EQ(mem.total_cache, 22u);
  EXPECT_EQ(mem.total_rss, 23u);
  EXPECT_EQ(mem.total_rss_huge, 24u);
  EXPECT_EQ(mem.total_mapped_file, 25u);
  EXPECT_EQ(mem.total_dirty, 26u);
  EXPECT_EQ(mem.total_writeback, 27u);
  EXPECT_EQ(mem.total_pg_pg_in, 28u);
  EXPECT_EQ(mem.total_pg_pg_out, 29u);
  EXPECT_EQ(mem.total_pg_fault, 30u);
  EXPECT_EQ(mem.total_pg_maj_fault, 31u);
  EXPECT_EQ(mem.total_inactive_anon, 32u);
  EXPECT_EQ(mem.total_active_anon, 33u);
  EXPECT_EQ(mem.total_inactive_file, 34u);
  EXPECT_EQ(mem.total_active_file, 35u);
  EXPECT_EQ(mem.total_unevictable, 36u);
  // MemoryEntry is {limit, usage, max, failcnt}.
  EXPECT_EQ(mem.usage, (cgroup1::MemoryEntry{33554432, 100, 101, 102}));
  EXPECT_EQ(mem.swap, (cgroup1::MemoryEntry{9223372036854771712ULL, 200, 201, 202}));
  EXPECT_EQ(mem.kernel, (cgroup1::MemoryEntry{9223372036854771712ULL, 300, 301, 302}));
  EXPECT_EQ(mem.kernel_tcp, (cgroup1::MemoryEntry{9223372036854771712ULL, 400, 401, 402}));
  EXPECT_EQ(m.memory_oom_control, (cgroup1::MemoryOomControl{1, 0, 2}));

  EXPECT_EQ(m.pids, (cgroup1::PidsStat{3, 64}));

  // No blkio.io_serviced_recursive (no CFQ): the throttle files; "Total" lines skipped; a device
  // /proc/partitions does not list has no name.
  ASSERT_TRUE(m.blkio);
  using E = cgroup1::BlkIOEntry;
  EXPECT_EQ(m.blkio->io_serviced_recursive,
            (std::vector<E>{{"Read", dev_.name, dev_.major, dev_.minor, 5},
                            {"Write", dev_.name, dev_.major, dev_.minor, 6},
                            {"Sync", dev_.name, dev_.major, dev_.minor, 7},
                            {"Async", dev_.name, dev_.major, dev_.minor, 4},
                            {"Discard", dev_.name, dev_.major, dev_.minor, 0},
                            {"Total", dev_.name, dev_.major, dev_.minor, 11},
                            {"Read", "", 250, 99, 1}}));
  EXPECT_EQ(m.blkio->io_service_bytes_recursive,
            (std::vector<E>{{"Read", dev_.name, dev_.major, dev_.minor, 20480}}));
  EXPECT_TRUE(m.blkio->io_queued_recursive.empty());
  EXPECT_TRUE(m.blkio->sectors_recursive.empty());

  // Nothing of these in the tree, and containerd fills network and cgroup_stats never.
  EXPECT_TRUE(m.hugetlb.empty());
  EXPECT_FALSE(m.rdma);
  EXPECT_TRUE(m.network.empty());
  EXPECT_FALSE(m.cgroup_stats);

  auto sum = Summarize(s);
  EXPECT_EQ(sum.cpu_total_ns, 3123456789u);
  EXPECT_EQ(sum.memory_usage, 100u - 34u);  // usage less total_inactive_file
  EXPECT_EQ(sum.memory_limit, 33554432u);
  EXPECT_EQ(sum.pids_current, 3u);
}

TEST_F(CgroupfsV1Tree, CfqFilesWinOverThrottleWhenTheyHoldEntries) {
  std::string mm = std::to_string(dev_.major) + ":" + std::to_string(dev_.minor);
  const char* cfq[] = {"sectors_recursive",         "io_service_bytes_recursive",
                       "io_serviced_recursive",     "io_queued_recursive",
                       "io_service_time_recursive", "io_wait_time_recursive",
                       "io_merged_recursive",       "time_recursive"};
  uint64_t v = 1;
  for (const char* f : cfq) {
    // sectors and time have no op column.
    bool no_op = std::string(f) == "sectors_recursive" || std::string(f) == "time_recursive";
    C("blkio", std::string("blkio.") + f,
      mm + (no_op ? " " : " Read ") + std::to_string(v++) + "\nTotal 1\n");
  }
  auto m = Read();
  ASSERT_TRUE(m.blkio);
  using E = cgroup1::BlkIOEntry;
  auto one = [&](const char* op, uint64_t value) {
    return std::vector<E>{{op, dev_.name, dev_.major, dev_.minor, value}};
  };
  EXPECT_EQ(m.blkio->sectors_recursive, one("", 1));
  EXPECT_EQ(m.blkio->io_service_bytes_recursive, one("Read", 2));
  EXPECT_EQ(m.blkio->io_serviced_recursive, one("Read", 3));
  EXPECT_EQ(m.blkio->io_queued_recursive, one("Read", 4));
  EXPECT_EQ(m.blkio->io_service_time_recursive, one("Read", 5));
  EXPECT_EQ(m.blkio->io_wait_time_recursive, one("Read", 6));
  EXPECT_EQ(m.blkio->io_merged_recursive, one("Read", 7));
  EXPECT_EQ(m.blkio->io_time_recursive, one("", 8));
}

TEST_F(CgroupfsV1Tree, WithoutSwapAccountingSwapAndTheEntriesAfterItAreZeroAsContainerdSends) {
  for (const char* f : {"usage_in_bytes", "max_usage_in_bytes", "failcnt", "limit_in_bytes"})
    fs::remove(Dir("memory") + "/memory.memsw." + f);
  auto m = Read();
  ASSERT_TRUE(m.memory);
  EXPECT_EQ(m.memory->usage, (cgroup1::MemoryEntry{33554432, 100, 101, 102}));
  EXPECT_EQ(m.memory->swap, cgroup1::MemoryEntry{});
  EXPECT_EQ(m.memory->kernel, cgroup1::MemoryEntry{});
  EXPECT_EQ(m.memory->kernel_tcp, cgroup1::MemoryEntry{});
  EXPECT_EQ(m.memory->cache, 4096u);
}

TEST_F(CgroupfsV1Tree, MissingOptionalFilesLeaveTheirPartAbsent) {
  fs::remove_all(Dir("memory"));
  fs::remove(Dir("pids") + "/pids.max");
  fs::remove(Dir("cpuacct") + "/cpuacct.usage_percpu");
  fs::remove_all(Dir("blkio"));
  auto m = Read();
  EXPECT_FALSE(m.memory);
  EXPECT_FALSE(m.memory_oom_control);
  EXPECT_FALSE(m.pids);
  EXPECT_FALSE(m.blkio);
  // cpu is always sent; cpuacct's fields only when all three files were read.
  ASSERT_TRUE(m.cpu && m.cpu->usage && m.cpu->throttling);
  EXPECT_EQ(*m.cpu->usage, cgroup1::CPUUsage{});
  EXPECT_EQ(*m.cpu->throttling, (cgroup1::Throttle{10, 3, 777}));
}

TEST_F(CgroupfsV1Tree, MissingOomControlKeepsMemoryStatButNoEntriesOrOomControl) {
  fs::remove(Dir("memory") + "/memory.oom_control");
  auto m = Read();
  ASSERT_TRUE(m.memory);
  EXPECT_EQ(m.memory->rss, 8192u);
  EXPECT_EQ(m.memory->usage, cgroup1::MemoryEntry{});
  EXPECT_FALSE(m.memory_oom_control);
}

TEST_F(CgroupfsV1Tree, PidsMaxOfMaxIsZeroLimit) {
  C("pids", "pids.max", "max\n");
  EXPECT_EQ(Read().pids, (cgroup1::PidsStat{3, 0}));
}

TEST_F(CgroupfsV1Tree, HugetlbSizesInContainerdsOrder) {
  for (const char* size : {"2MB", "1GB"}) {
    std::string p = std::string("hugetlb.") + size + ".";
    C("hugetlb", p + "usage_in_bytes", std::string(size) == "2MB" ? "4194304\n" : "0\n");
    C("hugetlb", p + "max_usage_in_bytes", std::string(size) == "2MB" ? "6291456\n" : "0\n");
    C("hugetlb", p + "failcnt", std::string(size) == "2MB" ? "1\n" : "0\n");
    C("hugetlb", p + "limit_in_bytes", "9223372036854771712\n");
    C("hugetlb", p + "rsvd.usage_in_bytes", "0\n");
  }
  auto m = Read();
  // /sys/kernel/mm/hugepages lists hugepages-1048576kB before hugepages-2048kB.
  EXPECT_EQ(m.hugetlb,
            (std::vector<cgroup1::HugetlbStat>{{0, 0, 0, "1GB"}, {4194304, 6291456, 1, "2MB"}}));
}

TEST_F(CgroupfsV1Tree, RdmaCurrentAndLimit) {
  C("rdma", "rdma.current", "mlx4_0 hca_handle=2 hca_object=2000\n");
  C("rdma", "rdma.max", "mlx4_0 hca_handle=max hca_object=4000\n");
  auto m = Read();
  ASSERT_TRUE(m.rdma);
  EXPECT_EQ(m.rdma->current, (std::vector<cgroup1::RdmaEntry>{{"mlx4_0", 2, 2000}}));
  EXPECT_EQ(m.rdma->limit, (std::vector<cgroup1::RdmaEntry>{{"mlx4_0", 4294967295u, 4000}}));
}

TEST_F(CgroupfsV1Tree, GarbledFilesAreUnknownErrorsNamingTheFile) {
  struct Case {
    const char* ctl;
    const char* file;
    const char* content;
  };
  for (const Case& c : {Case{"memory", "memory.stat", "cache 4096\nrss lots\n"},
                        Case{"memory", "memory.stat", "cache 4096 extra\n"},
                        Case{"memory", "memory.limit_in_bytes", "unlimited\n"},
                        Case{"cpuacct", "cpuacct.stat", "user 1\nsys 2\n"},
                        Case{"cpuacct", "cpuacct.usage_percpu", "1 two 3\n"},
                        Case{"cpu", "cpu.stat", "nr_periods\n"}, Case{"pids", "pids.current", "\n"},
                        Case{"blkio", "blkio.throttle.io_serviced", "8:0 Read x\n"}}) {
    SetUp();  // a fresh tree
    C(c.ctl, c.file, c.content);
    Error e = Thrown([&] { ReadCgroupStats(kPath, root_); });
    EXPECT_EQ(e.kind(), ErrorKind::kUnknown) << c.file << ": " << e.what();
    EXPECT_EQ(e.context().path, Dir(c.ctl) + "/" + c.file) << e.what();
  }
}

TEST_F(CgroupfsV1Tree, MissingCgroupIsNotFoundNamingThePath) {
  Error e = Thrown([&] { ReadCgroupStats("/lcd/ns1/gone", root_); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  EXPECT_NE(std::string(e.what()).find("/lcd/ns1/gone"), std::string::npos) << e.what();
  EXPECT_EQ(Thrown([&] { CgroupPids("/lcd/ns1/gone", root_); }).kind(), ErrorKind::kNotFound);
}

TEST_F(CgroupfsV1Tree, PathsWeCannotMapAreInvalidArguments) {
  for (const char* p : {"", "system.slice:lcd:web", "lcd/ns1/web", "/lcd/../etc", "/lcd/ns1/.."}) {
    Error e = Thrown([&] { ReadCgroupStats(p, root_); });
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << p << ": " << e.what();
    EXPECT_EQ(Thrown([&] { CgroupPids(p, root_); }).kind(), ErrorKind::kInvalidArgument) << p;
  }
}

TEST_F(CgroupfsV1Tree, PidsOfTheCgroupAndBelowFromTheDevicesController) {
  C("devices", "cgroup.procs", "12\n13\n");
  C("devices", "sub/cgroup.procs", "14\n12\n");  // 12 moved while we walked: once
  C("devices", "sub/deeper/cgroup.procs", "15\n");
  C("pids", "cgroup.procs", "99\n");  // not the controller runc's ps reads
  EXPECT_EQ(CgroupPids(kPath, root_), (std::vector<uint32_t>{12, 13, 14, 15}));
  fs::remove_all(Dir("devices"));
  EXPECT_EQ(CgroupPids(kPath, root_), (std::vector<uint32_t>{99}));  // the next controller
  C("pids", "cgroup.procs", "99\nnot-a-pid\n");
  EXPECT_EQ(Thrown([&] { CgroupPids(kPath, root_); }).kind(), ErrorKind::kUnknown);
}

class CgroupfsV2Tree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() + "/cg";
    Write(root_ + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    F("cgroup.controllers", "cpuset cpu io memory pids\n");
    F("pids.current", "4\n");
    F("pids.max", "max\n");
    F("cpu.stat",
      "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnr_periods 7\nnr_throttled 2\n"
      "throttled_usec 900\nnr_bursts 0\nburst_usec 0\n");
    F("cpu.pressure",
      "some avg10=1.50 avg60=0.25 avg300=0.00 total=12345\n"
      "full avg10=0.50 avg60=0.00 avg300=0.00 total=678\n");
    F("memory.stat",
      "anon 1\nfile 2\nkernel 99\nkernel_stack 3\npagetables 98\nsec_pagetables 0\nslab 4\n"
      "sock 5\nshmem 6\nfile_mapped 7\nfile_dirty 8\nfile_writeback 9\nanon_thp 10\n"
      "inactive_anon 11\nactive_anon 12\ninactive_file 13\nactive_file 14\nunevictable 15\n"
      "slab_reclaimable 16\nslab_unreclaimable 17\npgfault 18\npgmajfault 19\n"
      "workingset_refault 20\nworkingset_activate 21\nworkingset_nodereclaim 22\npgrefill 23\n"
      "pgscan 24\npgsteal 25\npgactivate 26\npgdeactivate 27\npglazyfree 28\npglazyfreed 29\n"
      "thp_fault_alloc 30\nthp_collapse_alloc 31\n");
    F("memory.current", "1048576\n");
    F("memory.max", "33554432\n");
    F("memory.peak", "2097152\n");
    F("memory.swap.current", "0\n");
    F("memory.swap.max", "max\n");
    F("memory.swap.peak", "4096\n");
    F("memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n");
    F("memory.events", "low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\noom_group_kill 0\n");
    F("io.stat",
      "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
      "254:16 rbytes=1 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
    F("io.pressure",
      "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 "
      "total=0\n");
    F("hugetlb.2MB.current", "2097152\n");
    F("hugetlb.2MB.max", "max\n");
    F("hugetlb.2MB.events", "max 0\n");
    F("hugetlb.1GB.current", "0\n");
    F("hugetlb.1GB.max", "1073741824\n");
    F("hugetlb.1GB.rsvd.max", "max\n");
    F("rdma.current", "mlx4_0 hca_handle=1 hca_object=20\n");
    F("rdma.max", "mlx4_0 hca_handle=max hca_object=max\n");
  }
  void F(const std::string& file, const std::string& content) {
    Write(root_ + kPath + "/" + file, content);
  }
  cgroup2::Metrics Read() {
    Stats s = ReadCgroupStats(kPath, root_);
    EXPECT_NE(s.v2(), nullptr) << "cgroup.controllers at the root: v2";
    return s.v2() ? *s.v2() : cgroup2::Metrics{};
  }
  lcdtest::ScratchDir dir_{"lcd-cgfs2"};
  std::string root_;
};

TEST_F(CgroupfsV2Tree, EveryFileMapsToContainerdsFields) {
  auto m = Read();
  EXPECT_EQ(m.pids, (cgroup2::PidsStat{4, kMax64}));

  ASSERT_TRUE(m.cpu);
  cgroup2::CPUStat cpu{5000, 3000, 2000, 7, 2, 900, {}};
  cpu.psi = cgroup2::PSIStats{cgroup2::PSIData{1.5, 0.25, 0.0, 12345},
                              cgroup2::PSIData{0.5, 0.0, 0.0, 678}};
  EXPECT_EQ(*m.cpu, cpu);

  ASSERT_TRUE(m.memory);
  const auto& mem = *m.memory;
  const uint64_t got[] = {mem.anon,
                          mem.file,
                          mem.kernel_stack,
                          mem.slab,
                          mem.sock,
                          mem.shmem,
                          mem.file_mapped,
                          mem.file_dirty,
                          mem.file_writeback,
                          mem.anon_thp,
                          mem.inactive_anon,
                          mem.active_anon,
                          mem.inactive_file,
                          mem.active_file,
                          mem.unevictable,
                          mem.slab_reclaimable,
                          mem.slab_unreclaimable,
                          mem.pgfault,
                          mem.pgmajfault,
                          mem.workingset_refault,
                          mem.workingset_activate,
                          mem.workingset_nodereclaim,
                          mem.pgrefill,
                          mem.pgscan,
                          mem.pgsteal,
                          mem.pgactivate,
                          mem.pgdeactivate,
                          mem.pglazyfree,
                          mem.pglazyfreed,
                          mem.thp_fault_alloc,
                          mem.thp_collapse_alloc};
  for (size_t i = 0; i < std::size(got); ++i) EXPECT_EQ(got[i], i + 1) << "field #" << i;
  EXPECT_EQ(mem.usage, 1048576u);
  EXPECT_EQ(mem.usage_limit, 33554432u);
  EXPECT_EQ(mem.max_usage, 2097152u);
  EXPECT_EQ(mem.swap_usage, 0u);
  EXPECT_EQ(mem.swap_limit, kMax64);
  EXPECT_EQ(mem.swap_max_usage, 4096u);
  EXPECT_EQ(mem.psi, (cgroup2::PSIStats{cgroup2::PSIData{0, 0, 0, 5}, std::nullopt}));

  EXPECT_EQ(m.memory_events, (cgroup2::MemoryEvents{1, 2, 3, 4, 5}));

  ASSERT_TRUE(m.io);
  EXPECT_EQ(m.io->usage,
            (std::vector<cgroup2::IOEntry>{{8, 0, 4096, 8192, 1, 2}, {254, 16, 1, 0, 1, 0}}));
  EXPECT_EQ(m.io->psi, (cgroup2::PSIStats{cgroup2::PSIData{}, cgroup2::PSIData{}}));

  ASSERT_TRUE(m.rdma);
  EXPECT_EQ(m.rdma->current, (std::vector<cgroup2::RdmaEntry>{{"mlx4_0", 1, 20}}));
  EXPECT_EQ(m.rdma->limit, (std::vector<cgroup2::RdmaEntry>{{"mlx4_0", 4294967295u, 4294967295u}}));

  EXPECT_EQ(m.hugetlb,
            (std::vector<cgroup2::HugeTlbStat>{{0, 1073741824, "1GB"}, {2097152, kMax64, "2MB"}}));

  auto sum = Summarize(ReadCgroupStats(kPath, root_));
  EXPECT_EQ(sum.cpu_total_ns, 5000u * 1000u);
  EXPECT_EQ(sum.memory_usage, 1048576u - 13u);
  EXPECT_EQ(sum.memory_limit, 33554432u);
  EXPECT_EQ(sum.pids_current, 4u);
}

TEST_F(CgroupfsV2Tree, MissingOptionalFilesAsContainerdSendsThem) {
  for (const char* f :
       {"cpu.pressure", "memory.pressure", "io.pressure", "memory.events", "memory.peak",
        "memory.swap.peak", "io.stat", "rdma.current", "rdma.max", "pids.max"}) {
    fs::remove(root_ + kPath + "/" + f);
  }
  auto m = Read();
  EXPECT_EQ(m.pids, (cgroup2::PidsStat{4, 0}));
  ASSERT_TRUE(m.cpu && m.memory && m.io && m.rdma);
  EXPECT_FALSE(m.cpu->psi);
  EXPECT_FALSE(m.memory->psi);
  EXPECT_FALSE(m.io->psi);
  EXPECT_FALSE(m.memory_events);
  EXPECT_EQ(m.memory->max_usage, 0u);
  EXPECT_EQ(m.memory->swap_max_usage, 0u);
  EXPECT_EQ(m.memory->usage, 1048576u);
  EXPECT_TRUE(m.io->usage.empty());
  EXPECT_TRUE(m.rdma->current.empty() && m.rdma->limit.empty());
}

TEST_F(CgroupfsV2Tree, NoMemoryControllerGivesZeroMemoryAndNoCpuStatZeroCpu) {
  fs::remove(root_ + kPath + "/memory.stat");
  fs::remove(root_ + kPath + "/cpu.stat");
  auto m = Read();
  EXPECT_EQ(m.memory, cgroup2::MemoryStat{});  // memory.current is not read then (containerd)
  EXPECT_EQ(m.cpu, cgroup2::CPUStat{});        // nor cpu.pressure
}

TEST_F(CgroupfsV2Tree, EmptyMemoryEventsIsAbsent) {
  F("memory.events", "");
  EXPECT_FALSE(Read().memory_events);
}

TEST_F(CgroupfsV2Tree, GarbledPressureIsLeftOutNotAnError) {
  F("cpu.pressure", "some avg10=x avg60=0.00 avg300=0.00 total=1\n");
  auto m = Read();
  ASSERT_TRUE(m.cpu);
  EXPECT_FALSE(m.cpu->psi);
  EXPECT_EQ(m.cpu->usage_usec, 5000u);
}

TEST_F(CgroupfsV2Tree, GarbledFilesAreUnknownErrorsNamingTheFile) {
  for (const auto& [file, content] :
       std::vector<std::pair<std::string, std::string>>{{"cpu.stat", "usage_usec\n"},
                                                        {"memory.stat", "anon many\n"},
                                                        {"memory.current", "lots\n"},
                                                        {"memory.events", "low 1 2\n"},
                                                        {"pids.current", "x\n"},
                                                        {"io.stat", "8-0 rbytes=1\n"},
                                                        {"io.stat", "8:0 rbytes=one\n"},
                                                        {"hugetlb.2MB.current", "-\n"}}) {
    SetUp();
    F(file, content);
    Error e = Thrown([&] { ReadCgroupStats(kPath, root_); });
    EXPECT_EQ(e.kind(), ErrorKind::kUnknown) << file << ": " << e.what();
    EXPECT_EQ(e.context().path, root_ + kPath + "/" + file) << e.what();
  }
}

TEST_F(CgroupfsV2Tree, MissingCgroupIsNotFound) {
  Error e = Thrown([&] { ReadCgroupStats("/lcd/ns1/gone", root_); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  EXPECT_EQ(e.context().path, root_ + "/lcd/ns1/gone");
}

TEST_F(CgroupfsV2Tree, PidsOfTheCgroupAndBelow) {
  F("cgroup.procs", "7\n");
  F("init/cgroup.procs", "8\n9\n");
  EXPECT_EQ(CgroupPids(kPath, root_ + "/"), (std::vector<uint32_t>{7, 8, 9}));
}

}  // namespace
}  // namespace libcontainerd::stats
