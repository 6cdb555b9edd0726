// Decodes containerd's cgroup metrics payloads (io.containerd.cgroups.v1/v2.Metrics) into the
// public value types. Every proto field is copied; an unset sub-message becomes an empty
// std::optional, so a caller can tell "not reported" from "zero".
#include "libcontainerd/stats.h"

#include <google/protobuf/unknown_field_set.h>

#include <bit>
#include <limits>
#include <string>

#include "common/text.h"
#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb.h"
#include "libcontainerd/errors.h"

namespace libcontainerd {
namespace {

namespace pb1 = ::io::containerd::cgroups::v1;
namespace pb2 = ::io::containerd::cgroups::v2;

constexpr std::string_view kV1TypeName = "io.containerd.cgroups.v1.Metrics";
constexpr std::string_view kV2TypeName = "io.containerd.cgroups.v2.Metrics";

// Copies each element of a repeated proto field through `conv`.
template <typename Out, typename In, typename Conv>
std::vector<Out> Each(const In& in, Conv conv) {
  std::vector<Out> out;
  out.reserve(static_cast<size_t>(in.size()));
  for (const auto& e : in) out.push_back(conv(e));
  return out;
}

// ---- cgroup v1 ----

cgroup1::HugetlbStat Conv(const pb1::HugetlbStat& p) {
  return {p.usage(), p.max(), p.failcnt(), p.pagesize()};
}
cgroup1::PidsStat Conv(const pb1::PidsStat& p) { return {p.current(), p.limit()}; }
cgroup1::CPUUsage Conv(const pb1::CPUUsage& p) {
  return {p.total(), p.kernel(), p.user(), {p.per_cpu().begin(), p.per_cpu().end()}};
}
cgroup1::Throttle Conv(const pb1::Throttle& p) {
  return {p.periods(), p.throttled_periods(), p.throttled_time()};
}
cgroup1::CPUStat Conv(const pb1::CPUStat& p) {
  cgroup1::CPUStat c;
  if (p.has_usage()) c.usage = Conv(p.usage());
  if (p.has_throttling()) c.throttling = Conv(p.throttling());
  return c;
}
cgroup1::MemoryEntry Conv(const pb1::MemoryEntry& p) {
  return {p.limit(), p.usage(), p.max(), p.failcnt()};
}
cgroup1::MemoryStat Conv(const pb1::MemoryStat& p) {
  cgroup1::MemoryStat m;
  m.cache = p.cache();
  m.rss = p.rss();
  m.rss_huge = p.rss_huge();
  m.mapped_file = p.mapped_file();
  m.dirty = p.dirty();
  m.writeback = p.writeback();
  m.pg_pg_in = p.pg_pg_in();
  m.pg_pg_out = p.pg_pg_out();
  m.pg_fault = p.pg_fault();
  m.pg_maj_fault = p.pg_maj_fault();
  m.inactive_anon = p.inactive_anon();
  m.active_anon = p.active_anon();
  m.inactive_file = p.inactive_file();
  m.active_file = p.active_file();
  m.unevictable = p.unevictable();
  m.hierarchical_memory_limit = p.hierarchical_memory_limit();
  m.hierarchical_swap_limit = p.hierarchical_swap_limit();
  m.total_cache = p.total_cache();
  m.total_rss = p.total_rss();
  m.total_rss_huge = p.total_rss_huge();
  m.total_mapped_file = p.total_mapped_file();
  m.total_dirty = p.total_dirty();
  m.total_writeback = p.total_writeback();
  m.total_pg_pg_in = p.total_pg_pg_in();
  m.total_pg_pg_out = p.total_pg_pg_out();
  m.total_pg_fault = p.total_pg_fault();
  m.total_pg_maj_fault = p.total_pg_maj_fault();
  m.total_inactive_anon = p.total_inactive_anon();
  m.total_active_anon = p.total_active_anon();
  m.total_inactive_file = p.total_inactive_file();
  m.total_active_file = p.total_active_file();
  m.total_unevictable = p.total_unevictable();
  if (p.has_usage()) m.usage = Conv(p.usage());
  if (p.has_swap()) m.swap = Conv(p.swap());
  if (p.has_kernel()) m.kernel = Conv(p.kernel());
  if (p.has_kernel_tcp()) m.kernel_tcp = Conv(p.kernel_tcp());
  return m;
}
cgroup1::MemoryOomControl Conv(const pb1::MemoryOomControl& p) {
  return {p.oom_kill_disable(), p.under_oom(), p.oom_kill()};
}
cgroup1::BlkIOEntry Conv(const pb1::BlkIOEntry& p) {
  return {p.op(), p.device(), p.major(), p.minor(), p.value()};
}
cgroup1::BlkIOStat Conv(const pb1::BlkIOStat& p) {
  auto list = [](const auto& r) {
    return Each<cgroup1::BlkIOEntry>(r, [](const pb1::BlkIOEntry& e) { return Conv(e); });
  };
  cgroup1::BlkIOStat b;
  b.io_service_bytes_recursive = list(p.io_service_bytes_recursive());
  b.io_serviced_recursive = list(p.io_serviced_recursive());
  b.io_queued_recursive = list(p.io_queued_recursive());
  b.io_service_time_recursive = list(p.io_service_time_recursive());
  b.io_wait_time_recursive = list(p.io_wait_time_recursive());
  b.io_merged_recursive = list(p.io_merged_recursive());
  b.io_time_recursive = list(p.io_time_recursive());
  b.sectors_recursive = list(p.sectors_recursive());
  return b;
}
cgroup1::RdmaEntry Conv(const pb1::RdmaEntry& p) {
  return {p.device(), p.hca_handles(), p.hca_objects()};
}
cgroup1::RdmaStat Conv(const pb1::RdmaStat& p) {
  auto list = [](const auto& r) {
    return Each<cgroup1::RdmaEntry>(r, [](const pb1::RdmaEntry& e) { return Conv(e); });
  };
  return {list(p.current()), list(p.limit())};
}
cgroup1::NetworkStat Conv(const pb1::NetworkStat& p) {
  cgroup1::NetworkStat n;
  n.name = p.name();
  n.rx_bytes = p.rx_bytes();
  n.rx_packets = p.rx_packets();
  n.rx_errors = p.rx_errors();
  n.rx_dropped = p.rx_dropped();
  n.tx_bytes = p.tx_bytes();
  n.tx_packets = p.tx_packets();
  n.tx_errors = p.tx_errors();
  n.tx_dropped = p.tx_dropped();
  return n;
}
cgroup1::CgroupStats Conv(const pb1::CgroupStats& p) {
  return {p.nr_sleeping(), p.nr_running(), p.nr_stopped(), p.nr_uninterruptible(), p.nr_io_wait()};
}
cgroup1::Metrics Conv(const pb1::Metrics& p) {
  cgroup1::Metrics m;
  m.hugetlb =
      Each<cgroup1::HugetlbStat>(p.hugetlb(), [](const pb1::HugetlbStat& e) { return Conv(e); });
  if (p.has_pids()) m.pids = Conv(p.pids());
  if (p.has_cpu()) m.cpu = Conv(p.cpu());
  if (p.has_memory()) m.memory = Conv(p.memory());
  if (p.has_blkio()) m.blkio = Conv(p.blkio());
  if (p.has_rdma()) m.rdma = Conv(p.rdma());
  m.network =
      Each<cgroup1::NetworkStat>(p.network(), [](const pb1::NetworkStat& e) { return Conv(e); });
  if (p.has_cgroup_stats()) m.cgroup_stats = Conv(p.cgroup_stats());
  if (p.has_memory_oom_control()) m.memory_oom_control = Conv(p.memory_oom_control());
  return m;
}

// ---- cgroup v2 ----

// Fields containerd's cgroups added after the proto this library is built from (PSI, peak
// usage): protobuf keeps them as unknown fields, read here by number (cgroups' metrics.proto).
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

const UnknownFieldSet& Unknown(const google::protobuf::Message& m) {
  return m.GetReflection()->GetUnknownFields(m);
}
// The last occurrence of field `number` with wire type `type` (protobuf's rule for scalars and
// messages alike), or null.
const UnknownField* Find(const UnknownFieldSet& set, int number, UnknownField::Type type) {
  const UnknownField* found = nullptr;
  for (int i = 0; i < set.field_count(); ++i)
    if (set.field(i).number() == number && set.field(i).type() == type) found = &set.field(i);
  return found;
}
uint64_t UnknownVarint(const UnknownFieldSet& set, int number) {
  const UnknownField* f = Find(set, number, UnknownField::TYPE_VARINT);
  return f ? f->varint() : 0;
}
double UnknownDouble(const UnknownFieldSet& set, int number) {
  const UnknownField* f = Find(set, number, UnknownField::TYPE_FIXED64);
  return f ? std::bit_cast<double>(f->fixed64()) : 0.0;
}
// A sub-message kept as unknown bytes, parsed into `out`; false when absent or undecodable (a
// field we cannot read is left out, like a message the daemon did not send).
bool UnknownMessage(const UnknownFieldSet& set, int number, UnknownFieldSet* out) {
  const UnknownField* f = Find(set, number, UnknownField::TYPE_LENGTH_DELIMITED);
  return f && out->ParseFromString(f->length_delimited());
}
// PSIData: avg10 = 1, avg60 = 2, avg300 = 3 (double), total = 4.
std::optional<cgroup2::PSIData> UnknownPSIData(const UnknownFieldSet& set, int number) {
  UnknownFieldSet sub;
  if (!UnknownMessage(set, number, &sub)) return std::nullopt;
  return cgroup2::PSIData{.avg10 = UnknownDouble(sub, 1),
                          .avg60 = UnknownDouble(sub, 2),
                          .avg300 = UnknownDouble(sub, 3),
                          .total = UnknownVarint(sub, 4)};
}
// PSIStats: some = 1, full = 2.
std::optional<cgroup2::PSIStats> UnknownPSI(const UnknownFieldSet& set, int number) {
  UnknownFieldSet sub;
  if (!UnknownMessage(set, number, &sub)) return std::nullopt;
  return cgroup2::PSIStats{.some = UnknownPSIData(sub, 1), .full = UnknownPSIData(sub, 2)};
}

cgroup2::PidsStat Conv(const pb2::PidsStat& p) { return {p.current(), p.limit()}; }
cgroup2::CPUStat Conv(const pb2::CPUStat& p) {
  cgroup2::CPUStat c;
  c.usage_usec = p.usage_usec();
  c.user_usec = p.user_usec();
  c.system_usec = p.system_usec();
  c.nr_periods = p.nr_periods();
  c.nr_throttled = p.nr_throttled();
  c.throttled_usec = p.throttled_usec();
  c.psi = UnknownPSI(Unknown(p), 7);
  return c;
}
cgroup2::MemoryStat Conv(const pb2::MemoryStat& p) {
  cgroup2::MemoryStat m;
  m.anon = p.anon();
  m.file = p.file();
  m.kernel_stack = p.kernel_stack();
  m.slab = p.slab();
  m.sock = p.sock();
  m.shmem = p.shmem();
  m.file_mapped = p.file_mapped();
  m.file_dirty = p.file_dirty();
  m.file_writeback = p.file_writeback();
  m.anon_thp = p.anon_thp();
  m.inactive_anon = p.inactive_anon();
  m.active_anon = p.active_anon();
  m.inactive_file = p.inactive_file();
  m.active_file = p.active_file();
  m.unevictable = p.unevictable();
  m.slab_reclaimable = p.slab_reclaimable();
  m.slab_unreclaimable = p.slab_unreclaimable();
  m.pgfault = p.pgfault();
  m.pgmajfault = p.pgmajfault();
  m.workingset_refault = p.workingset_refault();
  m.workingset_activate = p.workingset_activate();
  m.workingset_nodereclaim = p.workingset_nodereclaim();
  m.pgrefill = p.pgrefill();
  m.pgscan = p.pgscan();
  m.pgsteal = p.pgsteal();
  m.pgactivate = p.pgactivate();
  m.pgdeactivate = p.pgdeactivate();
  m.pglazyfree = p.pglazyfree();
  m.pglazyfreed = p.pglazyfreed();
  m.thp_fault_alloc = p.thp_fault_alloc();
  m.thp_collapse_alloc = p.thp_collapse_alloc();
  m.usage = p.usage();
  m.usage_limit = p.usage_limit();
  m.swap_usage = p.swap_usage();
  m.swap_limit = p.swap_limit();
  m.max_usage = UnknownVarint(Unknown(p), 36);
  m.swap_max_usage = UnknownVarint(Unknown(p), 37);
  m.psi = UnknownPSI(Unknown(p), 38);
  return m;
}
cgroup2::MemoryEvents Conv(const pb2::MemoryEvents& p) {
  return {p.low(), p.high(), p.max(), p.oom(), p.oom_kill()};
}
cgroup2::RdmaEntry Conv(const pb2::RdmaEntry& p) {
  return {p.device(), p.hca_handles(), p.hca_objects()};
}
cgroup2::RdmaStat Conv(const pb2::RdmaStat& p) {
  auto list = [](const auto& r) {
    return Each<cgroup2::RdmaEntry>(r, [](const pb2::RdmaEntry& e) { return Conv(e); });
  };
  return {list(p.current()), list(p.limit())};
}
cgroup2::IOEntry Conv(const pb2::IOEntry& p) {
  return {p.major(), p.minor(), p.rbytes(), p.wbytes(), p.rios(), p.wios()};
}
cgroup2::IOStat Conv(const pb2::IOStat& p) {
  cgroup2::IOStat io;
  io.usage = Each<cgroup2::IOEntry>(p.usage(), [](const pb2::IOEntry& e) { return Conv(e); });
  io.psi = UnknownPSI(Unknown(p), 2);
  return io;
}
cgroup2::HugeTlbStat Conv(const pb2::HugeTlbStat& p) {
  return {p.current(), p.max(), p.pagesize()};
}
cgroup2::Metrics Conv(const pb2::Metrics& p) {
  cgroup2::Metrics m;
  if (p.has_pids()) m.pids = Conv(p.pids());
  if (p.has_cpu()) m.cpu = Conv(p.cpu());
  if (p.has_memory()) m.memory = Conv(p.memory());
  if (p.has_rdma()) m.rdma = Conv(p.rdma());
  if (p.has_io()) m.io = Conv(p.io());
  m.hugetlb =
      Each<cgroup2::HugeTlbStat>(p.hugetlb(), [](const pb2::HugeTlbStat& e) { return Conv(e); });
  if (p.has_memory_events()) m.memory_events = Conv(p.memory_events());
  return m;
}

// The message name of a type URL: everything after the last '/' (Any's rule), so
// "type.googleapis.com/io.containerd.cgroups.v1.Metrics" and the bare name are the same.
std::string_view TypeName(std::string_view type_url) {
  auto slash = type_url.rfind('/');
  return slash == std::string_view::npos ? type_url : type_url.substr(slash + 1);
}

using text::Quoted;

template <typename Pb>
Pb Parse(std::string_view type_url, std::string_view bytes) {
  Pb pb;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw Error(ErrorKind::kInvalidArgument,
                "metrics payload of type " + Quoted(type_url) + " (" +
                    std::to_string(bytes.size()) +
                    " bytes) is not a valid protobuf message of that type; the daemon or shim "
                    "sent corrupt metrics",
                {.op = "InterfaceToStats"});
  }
  return pb;
}

}  // namespace

Stats InterfaceToStats(SystemTime read, std::string_view type_url, std::string_view bytes) {
  Stats stats;
  stats.read = read;
  auto name = TypeName(type_url);
  if (name == kV1TypeName) {
    stats.metrics = Conv(Parse<pb1::Metrics>(type_url, bytes));
  } else if (name == kV2TypeName) {
    stats.metrics = Conv(Parse<pb2::Metrics>(type_url, bytes));
  } else {
    throw Error(ErrorKind::kInvalidArgument,
                "unknown metrics type " + Quoted(type_url) + ": expected " +
                    std::string(kV1TypeName) + " or " + std::string(kV2TypeName) +
                    " (a shim with a different cgroup driver?)",
                {.op = "InterfaceToStats"});
  }
  return stats;
}

namespace {
// Usage without the inactive file cache, as `docker stats` computes it: the cache is subtracted
// only when it is smaller than the usage.
uint64_t WithoutInactiveFile(uint64_t usage, uint64_t inactive_file) {
  return inactive_file < usage ? usage - inactive_file : usage;
}
}  // namespace

StatsSummary Summarize(const Stats& stats) noexcept {
  StatsSummary s;
  if (const auto* m = stats.v1()) {
    if (m->cpu && m->cpu->usage) s.cpu_total_ns = m->cpu->usage->total;
    if (m->memory && m->memory->usage) {
      s.memory_usage = WithoutInactiveFile(m->memory->usage->usage, m->memory->total_inactive_file);
      s.memory_limit = m->memory->usage->limit;
    }
    if (m->pids) s.pids_current = m->pids->current;
  } else if (const auto* m = stats.v2()) {
    if (m->cpu) s.cpu_total_ns = m->cpu->usage_usec * 1000;
    if (m->memory) {
      s.memory_usage = WithoutInactiveFile(m->memory->usage, m->memory->inactive_file);
      s.memory_limit = m->memory->usage_limit;
    }
    if (m->pids) s.pids_current = m->pids->current;
  }
  return s;
}

}  // namespace libcontainerd
