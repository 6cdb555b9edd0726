// Reads cgroup v1/v2 statistics from cgroupfs into the values containerd's cgroup metrics give
// (see cgroupfs.h for the file-to-field mapping). Each file is opened relative to the cgroup's
// directory fd and read with read(2) into one buffer: no iostreams, no allocation per line.
#include "stats/cgroupfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "common/text.h"
#include "libcontainerd/errors.h"

namespace libcontainerd::stats {
namespace {

constexpr uint64_t kMax64 = std::numeric_limits<uint64_t>::max();
constexpr uint32_t kMax32 = std::numeric_limits<uint32_t>::max();

// ---- files ----

// A directory of the cgroup tree, open (O_RDONLY, so it can also be listed), with its path for
// error messages. Move-only; closes its fd.
class Dir {
 public:
  Dir() = default;
  Dir(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Dir(Dir&& o) noexcept : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)) {}
  Dir& operator=(Dir&& o) noexcept {
    if (this != &o) {
      Close();
      fd_ = std::exchange(o.fd_, -1);
      path_ = std::move(o.path_);
    }
    return *this;
  }
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  ~Dir() { Close(); }

  // Opens `path`; an empty Dir when it does not exist. Throws kUnknown for other failures.
  static Dir Open(std::string path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR) return Dir();
      ThrowErrno(ErrorKind::kUnknown, errno, "open cgroup directory",
                 {.op = "cgroupfs", .path = path});
    }
    return Dir(fd, std::move(path));
  }

  explicit operator bool() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

  // Reads the whole file `name` into *out. False when it does not exist (the kernel has no such
  // file, or the cgroup went away meanwhile); `lenient`: also false for any other failure (PSI
  // files answer EOPNOTSUPP when PSI is off). Else throws kUnknown naming the file.
  bool Read(const char* name, std::string* out, bool lenient = false) const {
    int fd = ::openat(fd_, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT || lenient) return false;
      ThrowErrno(ErrorKind::kUnknown, errno, "open cgroup file",
                 {.op = "cgroupfs", .path = File(name)});
    }
    // One read(2) for the usual file: a short read is the end (cgroup files are seq_files,
    // which fill the buffer unless the output ends; regular files in tests alike). A file that
    // fills the buffer (usage_percpu on many CPUs) takes more reads.
    char chunk[8192];
    out->clear();
    for (;;) {
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        if (err == ENOENT || err == ENODEV || lenient) return false;  // removed under us
        ThrowErrno(ErrorKind::kUnknown, err, "read cgroup file",
                   {.op = "cgroupfs", .path = File(name)});
      }
      if (n == 0) break;
      out->append(chunk, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof chunk) break;
    }
    ::close(fd);
    return true;
  }

  bool Exists(const char* name) const {
    struct stat st;
    return ::fstatat(fd_, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
  }

  [[noreturn]] void Garbled(std::string_view name, std::string_view line) const {
    throw Error(ErrorKind::kUnknown,
                "cgroup file is not in the kernel's format: " + text::Quoted(line, 80) +
                    " (a different kernel, or not a cgroup file system?)",
                {.op = "cgroupfs", .path = File(name)});
  }

 private:
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
  std::string path_;
};

// ---- parsing ----

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Calls fn(line) for each non-empty line.
template <typename Fn>
void ForEachLine(std::string_view s, Fn fn) {
  while (!s.empty()) {
    size_t nl = s.find('\n');
    std::string_view line = s.substr(0, nl);
    s = nl == std::string_view::npos ? std::string_view() : s.substr(nl + 1);
    if (!Trim(line).empty()) fn(line);
  }
}

// Splits on any of `seps`, dropping empty fields; at most N fields kept, *count gets them all.
template <size_t N>
size_t Fields(std::string_view s, std::string_view seps, std::string_view (&out)[N]) {
  size_t count = 0;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && seps.find(s[i]) != std::string_view::npos) ++i;
    if (i >= s.size()) break;
    size_t j = i;
    while (j < s.size() && seps.find(s[j]) == std::string_view::npos) ++j;
    if (count < N) out[count] = s.substr(i, j - i);
    ++count;
    i = j;
  }
  return count;
}

// An unsigned decimal; a negative integer reads as 0 (containerd's parseUint: v1 files such as
// a soft limit of -1). False when it is neither.
bool ParseU64(std::string_view s, uint64_t* v) {
  if (s.empty()) return false;
  if (s.front() == '-') {
    if (s.size() == 1) return false;
    for (char c : s.substr(1))
      if (c < '0' || c > '9') return false;
    *v = 0;
    return true;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

uint64_t U64(const Dir& d, std::string_view name, std::string_view s) {
  uint64_t v = 0;
  if (!ParseU64(Trim(s), &v)) d.Garbled(name, s);
  return v;
}

// A one-value file that may say "max"; `max` is what "max" means.
uint64_t U64OrMax(const Dir& d, std::string_view name, std::string_view s, uint64_t max) {
  if (Trim(s) == "max") return max;
  return U64(d, name, s);
}

// Calls fn(key, value) for each "key value" line; any other line is garbled.
template <typename Fn>
void ForEachKV(const Dir& d, std::string_view name, std::string_view data, Fn fn) {
  ForEachLine(data, [&](std::string_view line) {
    std::string_view f[2];
    uint64_t v = 0;
    if (Fields(line, " \t", f) != 2 || !ParseU64(f[1], &v)) d.Garbled(name, line);
    fn(f[0], v);
  });
}

// A field table: key -> member.
template <typename T>
struct Field {
  std::string_view key;
  uint64_t T::*member;
};

template <typename T, size_t N>
void ReadKVInto(const Dir& d, std::string_view name, std::string_view data,
                const Field<T> (&table)[N], T* out) {
  ForEachKV(d, name, data, [&](std::string_view key, uint64_t v) {
    for (const auto& f : table) {
      if (f.key == key) {
        out->*(f.member) = v;
        break;
      }
    }
  });
}

// "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" lines (a <controller>.pressure file); no
// value when the file is missing, unreadable or garbled (containerd logs and leaves it out).
std::optional<cgroup2::PSIStats> ReadPSI(const Dir& d, const char* name, std::string* buf) {
  if (!d.Read(name, buf, /*lenient=*/true)) return std::nullopt;
  cgroup2::PSIStats psi;
  bool ok = true;
  ForEachLine(*buf, [&](std::string_view line) {
    if (!ok) return;
    std::string_view f[6];
    size_t n = Fields(line, " \t", f);
    std::optional<cgroup2::PSIData>* slot = nullptr;
    if (f[0] == "some") slot = &psi.some;
    if (f[0] == "full") slot = &psi.full;
    if (!slot) return;
    cgroup2::PSIData data;
    for (size_t i = 1; i < std::min<size_t>(n, 6); ++i) {
      size_t eq = f[i].find('=');
      if (eq == std::string_view::npos) {
        ok = false;
        return;
      }
      std::string_view k = f[i].substr(0, eq), v = f[i].substr(eq + 1);
      if (k == "total") {
        if (!ParseU64(v, &data.total)) ok = false;
        continue;
      }
      double* target = k == "avg10"    ? &data.avg10
                       : k == "avg60"  ? &data.avg60
                       : k == "avg300" ? &data.avg300
                                       : nullptr;
      if (!target) continue;
      std::string tmp(
          v);  // strtod needs a terminated string; from_chars(double) is not in clang 14's libc++
      char* end = nullptr;
      *target = std::strtod(tmp.c_str(), &end);
      if (end != tmp.c_str() + tmp.size() || tmp.empty()) ok = false;
    }
    *slot = data;
  });
  if (!ok) return std::nullopt;
  return psi;
}

// Names of the entries of a directory (for hugetlb files); empty when it cannot be listed.
std::vector<std::string> List(const Dir& d) {
  std::vector<std::string> names;
  int fd = ::openat(d.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return names;
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return names;
  }
  while (struct dirent* e = ::readdir(dir)) names.emplace_back(e->d_name);
  ::closedir(dir);
  return names;
}

// ---- cgroup v1 ----

constexpr Field<cgroup1::MemoryStat> kV1MemoryStat[] = {
    {"cache", &cgroup1::MemoryStat::cache},
    {"rss", &cgroup1::MemoryStat::rss},
    {"rss_huge", &cgroup1::MemoryStat::rss_huge},
    {"mapped_file", &cgroup1::MemoryStat::mapped_file},
    {"dirty", &cgroup1::MemoryStat::dirty},
    {"writeback", &cgroup1::MemoryStat::writeback},
    {"pgpgin", &cgroup1::MemoryStat::pg_pg_in},
    {"pgpgout", &cgroup1::MemoryStat::pg_pg_out},
    {"pgfault", &cgroup1::MemoryStat::pg_fault},
    {"pgmajfault", &cgroup1::MemoryStat::pg_maj_fault},
    {"inactive_anon", &cgroup1::MemoryStat::inactive_anon},
    {"active_anon", &cgroup1::MemoryStat::active_anon},
    {"inactive_file", &cgroup1::MemoryStat::inactive_file},
    {"active_file", &cgroup1::MemoryStat::active_file},
    {"unevictable", &cgroup1::MemoryStat::unevictable},
    {"hierarchical_memory_limit", &cgroup1::MemoryStat::hierarchical_memory_limit},
    {"hierarchical_memsw_limit", &cgroup1::MemoryStat::hierarchical_swap_limit},
    {"total_cache", &cgroup1::MemoryStat::total_cache},
    {"total_rss", &cgroup1::MemoryStat::total_rss},
    {"total_rss_huge", &cgroup1::MemoryStat::total_rss_huge},
    {"total_mapped_file", &cgroup1::MemoryStat::total_mapped_file},
    {"total_dirty", &cgroup1::MemoryStat::total_dirty},
    {"total_writeback", &cgroup1::MemoryStat::total_writeback},
    {"total_pgpgin", &cgroup1::MemoryStat::total_pg_pg_in},
    {"total_pgpgout", &cgroup1::MemoryStat::total_pg_pg_out},
    {"total_pgfault", &cgroup1::MemoryStat::total_pg_fault},
    {"total_pgmajfault", &cgroup1::MemoryStat::total_pg_maj_fault},
    {"total_inactive_anon", &cgroup1::MemoryStat::total_inactive_anon},
    {"total_active_anon", &cgroup1::MemoryStat::total_active_anon},
    {"total_inactive_file", &cgroup1::MemoryStat::total_inactive_file},
    {"total_active_file", &cgroup1::MemoryStat::total_active_file},
    {"total_unevictable", &cgroup1::MemoryStat::total_unevictable},
};

constexpr Field<cgroup1::MemoryOomControl> kV1OomControl[] = {
    {"oom_kill_disable", &cgroup1::MemoryOomControl::oom_kill_disable},
    {"under_oom", &cgroup1::MemoryOomControl::under_oom},
    {"oom_kill", &cgroup1::MemoryOomControl::oom_kill},
};

uint64_t ClockTicks() {
  static const uint64_t ticks = [] {
    long t = ::sysconf(_SC_CLK_TCK);
    return t > 0 ? static_cast<uint64_t>(t) : uint64_t{100};
  }();
  return ticks;
}

void V1Cpuacct(const Dir& d, cgroup1::CPUUsage* usage, std::string* buf) {
  // containerd reads cpuacct.stat, cpuacct.usage, cpuacct.usage_percpu in this order and sets
  // the fields only when all three were read.
  if (!d.Read("cpuacct.stat", buf)) return;
  std::string_view f[5];
  uint64_t user = 0, kernel = 0;
  if (Fields(*buf, " \t\n", f) != 4 || f[0] != "user" || f[2] != "system" ||
      !ParseU64(f[1], &user) || !ParseU64(f[3], &kernel)) {
    d.Garbled("cpuacct.stat", *buf);
  }
  if (!d.Read("cpuacct.usage", buf)) return;
  uint64_t total = U64(d, "cpuacct.usage", *buf);
  if (!d.Read("cpuacct.usage_percpu", buf)) return;
  std::vector<uint64_t> per_cpu;
  std::string_view rest = *buf;
  while (true) {
    rest = Trim(rest);
    if (rest.empty()) break;
    size_t end = rest.find_first_of(" \t\n");
    std::string_view tok = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    per_cpu.push_back(U64(d, "cpuacct.usage_percpu", tok));
  }
  constexpr uint64_t kNsPerSecond = 1000000000;
  usage->total = total;
  usage->user = user * kNsPerSecond / ClockTicks();
  usage->kernel = kernel * kNsPerSecond / ClockTicks();
  usage->per_cpu = std::move(per_cpu);
}

void V1CpuThrottling(const Dir& d, cgroup1::Throttle* t, std::string* buf) {
  if (!d.Read("cpu.stat", buf)) return;
  ForEachKV(d, "cpu.stat", *buf, [&](std::string_view key, uint64_t v) {
    if (key == "nr_periods") t->periods = v;
    if (key == "nr_throttled") t->throttled_periods = v;
    if (key == "throttled_time") t->throttled_time = v;
  });
}

void V1Memory(const Dir& d, cgroup1::Metrics* m, std::string* buf) {
  if (!d.Read("memory.stat", buf)) return;
  auto& mem = m->memory.emplace();
  mem.usage.emplace();
  mem.swap.emplace();
  mem.kernel.emplace();
  mem.kernel_tcp.emplace();
  ReadKVInto(d, "memory.stat", *buf, kV1MemoryStat, &mem);
  if (!d.Read("memory.oom_control", buf)) return;
  ReadKVInto(d, "memory.oom_control", *buf, kV1OomControl, &m->memory_oom_control.emplace());
  // containerd's loop over the modules stops at the first file that is missing (memsw without
  // swap accounting): the entries after it stay zero.
  struct Module {
    const char* prefix;
    cgroup1::MemoryEntry* entry;
  };
  const Module modules[] = {{"memory.", &*mem.usage},
                            {"memory.memsw.", &*mem.swap},
                            {"memory.kmem.", &*mem.kernel},
                            {"memory.kmem.tcp.", &*mem.kernel_tcp}};
  struct Item {
    const char* suffix;
    uint64_t cgroup1::MemoryEntry::*member;
  };
  constexpr Item items[] = {{"usage_in_bytes", &cgroup1::MemoryEntry::usage},
                            {"max_usage_in_bytes", &cgroup1::MemoryEntry::max},
                            {"failcnt", &cgroup1::MemoryEntry::failcnt},
                            {"limit_in_bytes", &cgroup1::MemoryEntry::limit}};
  std::string name;
  for (const auto& mod : modules) {
    for (const auto& it : items) {
      name.assign(mod.prefix).append(it.suffix);
      if (!d.Read(name.c_str(), buf)) return;
      mod.entry->*(it.member) = U64(d, name, *buf);
    }
  }
}

void V1Pids(const Dir& d, cgroup1::Metrics* m, std::string* buf) {
  if (!d.Read("pids.current", buf)) return;
  uint64_t current = U64(d, "pids.current", *buf);
  if (!d.Read("pids.max", buf)) return;
  m->pids = cgroup1::PidsStat{current, U64OrMax(d, "pids.max", *buf, 0)};
}

// /proc/partitions: "major minor #blocks name" after two header lines; the first name of a
// device number wins. Read once per call, and only when an entry needs it.
class Partitions {
 public:
  const std::string& Name(uint64_t major, uint64_t minor) {
    if (!loaded_) Load();
    auto it = names_.find({major, minor});
    static const std::string kNone;
    return it == names_.end() ? kNone : it->second;
  }

 private:
  void Load() {
    loaded_ = true;
    Dir proc = Dir::Open("/proc");
    std::string buf;
    if (!proc || !proc.Read("partitions", &buf, /*lenient=*/true)) return;
    int line_no = 0;
    ForEachLine(buf, [&](std::string_view line) {
      if (line_no++ < 1) return;  // the header; the blank line after it is skipped already
      std::string_view f[4];
      uint64_t major = 0, minor = 0;
      if (Fields(line, " \t", f) < 4 || !ParseU64(f[0], &major) || !ParseU64(f[1], &minor)) return;
      names_.emplace(std::make_pair(major, minor), "/dev/" + std::string(f[3]));
    });
  }
  bool loaded_ = false;
  std::map<std::pair<uint64_t, uint64_t>, std::string> names_;
};

// A blkio file: "major:minor op value" or "major:minor value" lines and a "Total N" line.
// False when the file is missing.
bool V1BlkioEntries(const Dir& d, const std::string& name, std::vector<cgroup1::BlkIOEntry>* out,
                    Partitions* parts, std::string* buf) {
  if (!d.Read(name.c_str(), buf)) return false;
  ForEachLine(*buf, [&](std::string_view line) {
    std::string_view f[5];
    size_t n = Fields(line, " :\t", f);
    if (n == 2 && f[0] == "Total") return;
    cgroup1::BlkIOEntry e;
    if (n < 3 || n > 4 || !ParseU64(f[0], &e.major) || !ParseU64(f[1], &e.minor) ||
        !ParseU64(f[n - 1], &e.value)) {
      d.Garbled(name, line);
    }
    if (n == 4) e.op = std::string(f[2]);
    e.device = parts->Name(e.major, e.minor);
    out->push_back(std::move(e));
  });
  return true;
}

void V1Blkio(const Dir& d, cgroup1::Metrics* m, std::string* buf) {
  auto& b = m->blkio.emplace();
  Partitions parts;
  if (d.Exists("blkio.io_serviced_recursive")) {
    const std::pair<const char*, std::vector<cgroup1::BlkIOEntry>*> cfq[] = {
        {"blkio.sectors_recursive", &b.sectors_recursive},
        {"blkio.io_service_bytes_recursive", &b.io_service_bytes_recursive},
        {"blkio.io_serviced_recursive", &b.io_serviced_recursive},
        {"blkio.io_queued_recursive", &b.io_queued_recursive},
        {"blkio.io_service_time_recursive", &b.io_service_time_recursive},
        {"blkio.io_wait_time_recursive", &b.io_wait_time_recursive},
        {"blkio.io_merged_recursive", &b.io_merged_recursive},
        {"blkio.time_recursive", &b.io_time_recursive}};
    size_t size = 0;
    for (const auto& [name, entries] : cfq) {
      if (!V1BlkioEntries(d, name, entries, &parts, buf)) return;
      size += entries->size();
    }
    if (size > 0) return;
  }
  // No CFQ scheduler on the cgroup's devices: the throttle files (containerd's fallback).
  if (!V1BlkioEntries(d, "blkio.throttle.io_serviced", &b.io_serviced_recursive, &parts, buf)) {
    return;
  }
  V1BlkioEntries(d, "blkio.throttle.io_service_bytes", &b.io_service_bytes_recursive, &parts, buf);
}

// "2MB" -> "hugepages-2048kB": the name of /sys/kernel/mm/hugepages' directory for that size,
// by which containerd orders the sizes.
std::string HugepagesDirName(const std::string& size) {
  static constexpr std::string_view kUnits[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  size_t i = 0;
  while (i < size.size() && ((size[i] >= '0' && size[i] <= '9') || size[i] == '.')) ++i;
  std::string_view unit = std::string_view(size).substr(i);
  double v = std::strtod(size.substr(0, i).c_str(), nullptr);
  for (size_t u = 0; u < std::size(kUnits); ++u) {
    if (unit == kUnits[u]) {
      for (size_t k = 0; k < u; ++k) v *= 1024;
      return "hugepages-" + std::to_string(static_cast<uint64_t>(v / 1024)) + "kB";
    }
  }
  return size;
}

void V1Hugetlb(const Dir& d, cgroup1::Metrics* m, std::string* buf) {
  std::vector<std::pair<std::string, std::string>> sizes;  // (order key, size)
  constexpr std::string_view kPrefix = "hugetlb.", kSuffix = ".usage_in_bytes";
  for (const auto& name : List(d)) {
    std::string_view n = name;
    if (n.size() > kPrefix.size() + kSuffix.size() && n.substr(0, kPrefix.size()) == kPrefix &&
        n.substr(n.size() - kSuffix.size()) == kSuffix) {
      std::string size(n.substr(kPrefix.size(), n.size() - kPrefix.size() - kSuffix.size()));
      if (size.find('.') != std::string::npos) continue;  // hugetlb.2MB.rsvd.usage_in_bytes
      sizes.emplace_back(HugepagesDirName(size), size);
    }
  }
  std::sort(sizes.begin(), sizes.end());
  std::string name;
  for (const auto& [key, size] : sizes) {
    cgroup1::HugetlbStat s;
    s.pagesize = size;
    const std::pair<const char*, uint64_t*> items[] = {
        {".usage_in_bytes", &s.usage}, {".max_usage_in_bytes", &s.max}, {".failcnt", &s.failcnt}};
    for (const auto& [suffix, value] : items) {
      name.assign("hugetlb.").append(size).append(suffix);
      if (!d.Read(name.c_str(), buf)) return;  // containerd stops at a missing file
      *value = U64(d, name, *buf);
    }
    m->hugetlb.push_back(std::move(s));
  }
}

// "mlx4_0 hca_handle=2 hca_object=2000" lines; a value that does not parse is left 0 (as
// containerd does).
template <typename Entry>
std::vector<Entry> RdmaEntries(std::string_view data) {
  std::vector<Entry> out;
  ForEachLine(data, [&](std::string_view line) {
    std::string_view f[4];
    if (Fields(line, " \t", f) != 3) return;
    Entry e;
    e.device = std::string(f[0]);
    for (std::string_view kv : {f[1], f[2]}) {
      size_t eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      std::string_view k = kv.substr(0, eq), v = kv.substr(eq + 1);
      uint64_t value = 0;
      if (v == "max") {
        value = kMax32;
      } else if (!ParseU64(v, &value) || value > kMax32) {
        continue;
      }
      if (k == "hca_handle") e.hca_handles = static_cast<uint32_t>(value);
      if (k == "hca_object") e.hca_objects = static_cast<uint32_t>(value);
    }
    out.push_back(std::move(e));
  });
  return out;
}

size_t SplitCount(std::string_view s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')) + 1;
}

void V1Rdma(const Dir& d, cgroup1::Metrics* m, std::string* buf) {
  if (!d.Read("rdma.current", buf)) return;
  std::string current = *buf;
  if (!d.Read("rdma.max", buf)) return;
  if (SplitCount(current) != SplitCount(*buf)) return;  // a device went away between the reads
  m->rdma = cgroup1::RdmaStat{RdmaEntries<cgroup1::RdmaEntry>(current),
                              RdmaEntries<cgroup1::RdmaEntry>(*buf)};
}

Dir V1Dir(const std::string& root, const char* controller, const std::string& path) {
  return Dir::Open(root + "/" + controller + path);
}

cgroup1::Metrics ReadV1(const std::string& root, const std::string& path) {
  Dir cpu = V1Dir(root, "cpu", path), cpuacct = V1Dir(root, "cpuacct", path),
      memory = V1Dir(root, "memory", path), pids = V1Dir(root, "pids", path),
      blkio = V1Dir(root, "blkio", path), hugetlb = V1Dir(root, "hugetlb", path),
      rdma = V1Dir(root, "rdma", path);
  if (!cpu && !cpuacct && !memory && !pids && !blkio && !hugetlb && !rdma) {
    throw Error(ErrorKind::kNotFound,
                "cgroup " + text::Quoted(path) + " does not exist under " + text::Quoted(root) +
                    " in any of the cpu, cpuacct, memory, pids, blkio, hugetlb, rdma controllers "
                    "(the task is gone?)",
                {.op = "cgroupfs", .path = root + "/memory" + path});
  }
  cgroup1::Metrics m;
  std::string buf;
  buf.reserve(4096);
  // containerd always sends cpu with usage and throttling, zero where nothing was read.
  auto& c = m.cpu.emplace();
  c.usage.emplace();
  c.throttling.emplace();
  if (cpuacct) V1Cpuacct(cpuacct, &*c.usage, &buf);
  if (cpu) V1CpuThrottling(cpu, &*c.throttling, &buf);
  if (memory) V1Memory(memory, &m, &buf);
  if (pids) V1Pids(pids, &m, &buf);
  if (blkio) V1Blkio(blkio, &m, &buf);
  if (hugetlb) V1Hugetlb(hugetlb, &m, &buf);
  if (rdma) V1Rdma(rdma, &m, &buf);
  return m;
}

// ---- cgroup v2 ----

constexpr Field<cgroup2::MemoryStat> kV2MemoryStat[] = {
    {"anon", &cgroup2::MemoryStat::anon},
    {"file", &cgroup2::MemoryStat::file},
    {"kernel_stack", &cgroup2::MemoryStat::kernel_stack},
    {"slab", &cgroup2::MemoryStat::slab},
    {"sock", &cgroup2::MemoryStat::sock},
    {"shmem", &cgroup2::MemoryStat::shmem},
    {"file_mapped", &cgroup2::MemoryStat::file_mapped},
    {"file_dirty", &cgroup2::MemoryStat::file_dirty},
    {"file_writeback", &cgroup2::MemoryStat::file_writeback},
    {"anon_thp", &cgroup2::MemoryStat::anon_thp},
    {"inactive_anon", &cgroup2::MemoryStat::inactive_anon},
    {"active_anon", &cgroup2::MemoryStat::active_anon},
    {"inactive_file", &cgroup2::MemoryStat::inactive_file},
    {"active_file", &cgroup2::MemoryStat::active_file},
    {"unevictable", &cgroup2::MemoryStat::unevictable},
    {"slab_reclaimable", &cgroup2::MemoryStat::slab_reclaimable},
    {"slab_unreclaimable", &cgroup2::MemoryStat::slab_unreclaimable},
    {"pgfault", &cgroup2::MemoryStat::pgfault},
    {"pgmajfault", &cgroup2::MemoryStat::pgmajfault},
    {"workingset_refault", &cgroup2::MemoryStat::workingset_refault},
    {"workingset_activate", &cgroup2::MemoryStat::workingset_activate},
    {"workingset_nodereclaim", &cgroup2::MemoryStat::workingset_nodereclaim},
    {"pgrefill", &cgroup2::MemoryStat::pgrefill},
    {"pgscan", &cgroup2::MemoryStat::pgscan},
    {"pgsteal", &cgroup2::MemoryStat::pgsteal},
    {"pgactivate", &cgroup2::MemoryStat::pgactivate},
    {"pgdeactivate", &cgroup2::MemoryStat::pgdeactivate},
    {"pglazyfree", &cgroup2::MemoryStat::pglazyfree},
    {"pglazyfreed", &cgroup2::MemoryStat::pglazyfreed},
    {"thp_fault_alloc", &cgroup2::MemoryStat::thp_fault_alloc},
    {"thp_collapse_alloc", &cgroup2::MemoryStat::thp_collapse_alloc},
};

constexpr Field<cgroup2::CPUStat> kV2CpuStat[] = {
    {"usage_usec", &cgroup2::CPUStat::usage_usec},
    {"user_usec", &cgroup2::CPUStat::user_usec},
    {"system_usec", &cgroup2::CPUStat::system_usec},
    {"nr_periods", &cgroup2::CPUStat::nr_periods},
    {"nr_throttled", &cgroup2::CPUStat::nr_throttled},
    {"throttled_usec", &cgroup2::CPUStat::throttled_usec},
};

constexpr Field<cgroup2::MemoryEvents> kV2MemoryEvents[] = {
    {"low", &cgroup2::MemoryEvents::low},           {"high", &cgroup2::MemoryEvents::high},
    {"max", &cgroup2::MemoryEvents::max},           {"oom", &cgroup2::MemoryEvents::oom},
    {"oom_kill", &cgroup2::MemoryEvents::oom_kill},
};

// A one-value file: missing -> 0, "max" -> UINT64_MAX (containerd's getStatFileContentUint64).
uint64_t V2Single(const Dir& d, const char* name, std::string* buf) {
  if (!d.Read(name, buf)) return 0;
  return U64OrMax(d, name, *buf, kMax64);
}

// io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device.
std::vector<cgroup2::IOEntry> V2Io(const Dir& d, std::string* buf) {
  std::vector<cgroup2::IOEntry> out;
  if (!d.Read("io.stat", buf)) return out;
  ForEachLine(*buf, [&](std::string_view line) {
    std::string_view f[16];
    size_t n = std::min<size_t>(Fields(line, " \t", f), std::size(f));
    std::string_view mm[3];
    cgroup2::IOEntry e;
    if (Fields(f[0], ":", mm) != 2 || !ParseU64(mm[0], &e.major) || !ParseU64(mm[1], &e.minor)) {
      d.Garbled("io.stat", line);
    }
    for (size_t i = 1; i < n; ++i) {
      size_t eq = f[i].find('=');
      if (eq == std::string_view::npos) d.Garbled("io.stat", line);
      std::string_view k = f[i].substr(0, eq), v = f[i].substr(eq + 1);
      uint64_t* target = k == "rbytes"   ? &e.rbytes
                         : k == "wbytes" ? &e.wbytes
                         : k == "rios"   ? &e.rios
                         : k == "wios"   ? &e.wios
                                         : nullptr;
      if (target && !ParseU64(v, target)) d.Garbled("io.stat", line);
    }
    out.push_back(e);
  });
  return out;
}

std::vector<cgroup2::HugeTlbStat> V2Hugetlb(const Dir& d, std::string* buf) {
  std::map<std::string, cgroup2::HugeTlbStat> by_size;
  for (const auto& name : List(d)) {
    std::string_view f[5];
    size_t n = Fields(name, ".", f);
    if (n < 3 || n > 4 || f[0] != "hugetlb" || (f[n - 1] != "max" && f[n - 1] != "current")) {
      continue;
    }
    auto& s = by_size[std::string(f[1])];
    s.pagesize = std::string(f[1]);
    if (n != 3) continue;  // hugetlb.<size>.rsvd.max: containerd lists the size, reads nothing
    if (!d.Read(name.c_str(), buf)) continue;
    (f[2] == "max" ? s.max : s.current) = U64OrMax(d, name, *buf, kMax64);
  }
  std::vector<cgroup2::HugeTlbStat> out;
  for (auto& [size, s] : by_size) out.push_back(std::move(s));
  return out;
}

cgroup2::Metrics ReadV2(const std::string& root, const std::string& path) {
  Dir d = Dir::Open(root + path);
  if (!d || !d.Exists("cgroup.controllers")) {
    throw Error(ErrorKind::kNotFound,
                "cgroup " + text::Quoted(path) + " does not exist under " + text::Quoted(root) +
                    " (the task is gone?)",
                {.op = "cgroupfs", .path = root + path});
  }
  cgroup2::Metrics m;
  std::string buf;
  buf.reserve(4096);
  m.pids = cgroup2::PidsStat{V2Single(d, "pids.current", &buf), V2Single(d, "pids.max", &buf)};

  auto& cpu = m.cpu.emplace();
  if (d.Read("cpu.stat", &buf)) {
    ReadKVInto(d, "cpu.stat", buf, kV2CpuStat, &cpu);
    cpu.psi = ReadPSI(d, "cpu.pressure", &buf);
  }

  auto& mem = m.memory.emplace();
  if (d.Read("memory.stat", &buf)) {
    ReadKVInto(d, "memory.stat", buf, kV2MemoryStat, &mem);
    mem.usage = V2Single(d, "memory.current", &buf);
    mem.usage_limit = V2Single(d, "memory.max", &buf);
    mem.max_usage = V2Single(d, "memory.peak", &buf);
    mem.swap_usage = V2Single(d, "memory.swap.current", &buf);
    mem.swap_limit = V2Single(d, "memory.swap.max", &buf);
    mem.swap_max_usage = V2Single(d, "memory.swap.peak", &buf);
    mem.psi = ReadPSI(d, "memory.pressure", &buf);
  }

  if (d.Read("memory.events", &buf)) {
    cgroup2::MemoryEvents ev;
    size_t lines = 0;
    ForEachLine(buf, [&](std::string_view) { ++lines; });
    ReadKVInto(d, "memory.events", buf, kV2MemoryEvents, &ev);
    if (lines > 0) m.memory_events = ev;
  }

  auto& io = m.io.emplace();
  io.usage = V2Io(d, &buf);
  io.psi = ReadPSI(d, "io.pressure", &buf);

  auto& rdma = m.rdma.emplace();
  if (d.Read("rdma.current", &buf)) rdma.current = RdmaEntries<cgroup2::RdmaEntry>(buf);
  if (d.Read("rdma.max", &buf)) rdma.limit = RdmaEntries<cgroup2::RdmaEntry>(buf);

  m.hugetlb = V2Hugetlb(d, &buf);
  return m;
}

// ---- paths ----

void CheckPath(const std::string& path, const char* op) {
  auto refuse = [&](const std::string& why) {
    throw Error(ErrorKind::kInvalidArgument, "cgroups path " + text::Quoted(path) + ": " + why,
                {.op = op});
  };
  if (path.empty()) refuse("is empty: give the absolute cgroupfs path (linux.cgroupsPath)");
  if (path.find(':') != std::string::npos) {
    refuse(
        "is the systemd driver's slice:prefix:name form, whose cgroup depends on systemd's "
        "layout (the cgroup of pid 1): give the absolute cgroupfs path");
  }
  if (path.front() != '/') {
    refuse(
        "is relative: runc resolves it against the cgroup of its parent process, which this "
        "reader cannot know; give an absolute path");
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.compare(start, end - start, "..") == 0) refuse("must not contain \"..\"");
    start = end + 1;
  }
}

// Without a trailing '/', so root + path is a path.
std::string CleanRoot(const std::string& root) {
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return r;
}

bool IsV2(const std::string& root) {
  struct stat st;
  return ::stat((root + "/cgroup.controllers").c_str(), &st) == 0;
}

// cgroup.procs of `d` and, depth first, of every cgroup below it.
void CollectPids(const Dir& d, std::vector<uint32_t>* out, std::unordered_set<uint32_t>* seen,
                 std::string* buf, int depth) {
  if (d.Read("cgroup.procs", buf)) {
    ForEachLine(*buf, [&](std::string_view line) {
      uint64_t pid = 0;
      if (!ParseU64(Trim(line), &pid) || pid == 0 || pid > kMax32) d.Garbled("cgroup.procs", line);
      if (seen->insert(static_cast<uint32_t>(pid)).second)
        out->push_back(static_cast<uint32_t>(pid));
    });
  }
  if (depth > 64) return;  // deeper than any real tree; guards a bind-mount loop
  int fd = ::openat(d.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return;
  }
  std::vector<std::string> children;
  while (struct dirent* e = ::readdir(dir)) {
    std::string_view n = e->d_name;
    if (e->d_type == DT_DIR && n != "." && n != "..") children.emplace_back(n);
  }
  ::closedir(dir);
  std::sort(children.begin(), children.end());
  for (const auto& c : children) {
    Dir child = Dir::Open(d.File(c));
    if (child) CollectPids(child, out, seen, buf, depth + 1);  // removed meanwhile: skipped
  }
}

}  // namespace

Stats ReadCgroupStats(const std::string& cgroups_path, const std::string& mount_root) {
  CheckPath(cgroups_path, "ReadCgroupStats");
  std::string root = CleanRoot(mount_root);
  Stats s;
  if (IsV2(root)) {
    s.metrics = ReadV2(root, cgroups_path);
  } else {
    s.metrics = ReadV1(root, cgroups_path);
  }
  s.read = std::chrono::system_clock::now();
  return s;
}

std::vector<uint32_t> CgroupPids(const std::string& cgroups_path, const std::string& mount_root) {
  CheckPath(cgroups_path, "CgroupPids");
  std::string root = CleanRoot(mount_root);
  Dir d;
  if (IsV2(root)) {
    d = Dir::Open(root + cgroups_path);
  } else {
    for (const char* ctl : {"devices", "pids", "memory", "cpu", "freezer"}) {
      d = V1Dir(root, ctl, cgroups_path);
      if (d) break;
    }
  }
  if (!d) {
    throw Error(ErrorKind::kNotFound,
                "cgroup " + text::Quoted(cgroups_path) + " does not exist under " +
                    text::Quoted(root) + " (the task is gone?)",
                {.op = "CgroupPids", .path = root + cgroups_path});
  }
  std::vector<uint32_t> out;
  std::unordered_set<uint32_t> seen;
  std::string buf;
  CollectPids(d, &out, &seen, &buf, 0);
  return out;
}

}  // namespace libcontainerd::stats
