// lcd-engine: the container endpoints beyond the lifecycle: stats, top, update, resize, rename,
// prune, and clear refusals for what is not built (archive, export, diff, checkpoints; commit
// is images_api.cc's).
// containers_api.cc's RegisterContainerRoutes calls RegisterContainerOpsRoutes.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "common.h"
#include "containers.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/spec.h"

extern char** environ;

namespace lcde {

void RegisterContainerOpsRoutes(Router& router, Engine& engine);
void RegisterArchiveRoutes(Router& router, Engine& engine);  // archive_api.cc

namespace lcd = libcontainerd;
using namespace std::chrono_literals;

namespace {

constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";

std::string NotRunning(const Ctr& c) { return "Container " + c.rec.id + " is not running"; }

// ---- stats ---------------------------------------------------------------------------------

uint64_t MachineMemory() {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(size) : 0;
}

// docker's system CPU time: the "cpu" line of /proc/stat (user .. softirq) in nanoseconds, and
// the number of "cpuN" lines.
void SystemCpu(uint64_t& usage_ns, uint32_t& cpus) {
  usage_ns = 0;
  cpus = 0;
  std::ifstream in("/proc/stat");
  std::string line;
  const long tck = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
  while (std::getline(in, line)) {
    if (line.rfind("cpu", 0) != 0) break;
    if (line.size() > 3 && line[3] == ' ') {
      std::istringstream fields(line.substr(4));
      uint64_t ticks = 0, v;
      for (int i = 0; i < 7 && fields >> v; ++i) ticks += v;
      usage_ns = ticks * (1000000000ULL / static_cast<uint64_t>(tck));
    } else {
      cpus++;
    }
  }
  if (cpus == 0) cpus = static_cast<uint32_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
}

// The interfaces of the process's network namespace but lo (docker reports the sandbox's).
json NetworkStats(int pid) {
  json out = json::object();
  if (pid <= 0) return out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/net/dev");
  std::string line;
  for (int skip = 0; skip < 2 && std::getline(in, line); ++skip) {
  }
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    if (name == "lo") continue;
    std::istringstream f(line.substr(colon + 1));
    uint64_t v[16] = {};
    for (auto& x : v) f >> x;
    out[name] = {{"rx_bytes", v[0]},   {"rx_packets", v[1]}, {"rx_errors", v[2]},
                 {"rx_dropped", v[3]}, {"tx_bytes", v[8]},   {"tx_packets", v[9]},
                 {"tx_errors", v[10]}, {"tx_dropped", v[11]}};
  }
  return out;
}

json ZeroCpu() {
  return {{"cpu_usage", {{"total_usage", 0}, {"usage_in_kernelmode", 0}, {"usage_in_usermode", 0}}},
          {"throttling_data", {{"periods", 0}, {"throttled_periods", 0}, {"throttled_time", 0}}}};
}

// docker's answer for a container without a running task: names and zeros.
json EmptyStats(const std::string& id, const std::string& name) {
  json blkio = json::object();
  for (const char* k :
       {"io_service_bytes_recursive", "io_serviced_recursive", "io_queued_recursive",
        "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
        "io_time_recursive", "sectors_recursive"})
    blkio[k] = nullptr;
  return {{"read", kZeroTime},
          {"preread", kZeroTime},
          {"pids_stats", json::object()},
          {"blkio_stats", blkio},
          {"num_procs", 0},
          {"storage_stats", json::object()},
          {"cpu_stats", ZeroCpu()},
          {"precpu_stats", ZeroCpu()},
          {"memory_stats", json::object()},
          {"name", "/" + name},
          {"id", id}};
}

json BlkioEntries(const std::vector<lcd::cgroup1::BlkIOEntry>& entries) {
  json out = json::array();
  for (const auto& e : entries)
    out.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
  return out;
}

void FillV1(json& j, const lcd::cgroup1::Metrics& m) {
  if (m.blkio) {
    const auto& b = *m.blkio;
    j["blkio_stats"] = {{"io_service_bytes_recursive", BlkioEntries(b.io_service_bytes_recursive)},
                        {"io_serviced_recursive", BlkioEntries(b.io_serviced_recursive)},
                        {"io_queued_recursive", BlkioEntries(b.io_queued_recursive)},
                        {"io_service_time_recursive", BlkioEntries(b.io_service_time_recursive)},
                        {"io_wait_time_recursive", BlkioEntries(b.io_wait_time_recursive)},
                        {"io_merged_recursive", BlkioEntries(b.io_merged_recursive)},
                        {"io_time_recursive", BlkioEntries(b.io_time_recursive)},
                        {"sectors_recursive", BlkioEntries(b.sectors_recursive)}};
  }
  if (m.cpu) {
    json cpu = ZeroCpu();
    if (m.cpu->usage) {
      const auto& u = *m.cpu->usage;
      cpu["cpu_usage"] = {{"total_usage", u.total},
                          {"usage_in_kernelmode", u.kernel},
                          {"usage_in_usermode", u.user}};
      if (!u.per_cpu.empty()) cpu["cpu_usage"]["percpu_usage"] = u.per_cpu;
    }
    if (m.cpu->throttling) {
      const auto& t = *m.cpu->throttling;
      cpu["throttling_data"] = {{"periods", t.periods},
                                {"throttled_periods", t.throttled_periods},
                                {"throttled_time", t.throttled_time}};
    }
    j["cpu_stats"] = cpu;
  }
  if (m.memory) {
    const auto& s = *m.memory;
    json raw = {{"cache", s.cache},
                {"rss", s.rss},
                {"rss_huge", s.rss_huge},
                {"mapped_file", s.mapped_file},
                {"dirty", s.dirty},
                {"writeback", s.writeback},
                {"pgpgin", s.pg_pg_in},
                {"pgpgout", s.pg_pg_out},
                {"pgfault", s.pg_fault},
                {"pgmajfault", s.pg_maj_fault},
                {"inactive_anon", s.inactive_anon},
                {"active_anon", s.active_anon},
                {"inactive_file", s.inactive_file},
                {"active_file", s.active_file},
                {"unevictable", s.unevictable},
                {"hierarchical_memory_limit", s.hierarchical_memory_limit},
                {"hierarchical_memsw_limit", s.hierarchical_swap_limit},
                {"total_cache", s.total_cache},
                {"total_rss", s.total_rss},
                {"total_rss_huge", s.total_rss_huge},
                {"total_mapped_file", s.total_mapped_file},
                {"total_dirty", s.total_dirty},
                {"total_writeback", s.total_writeback},
                {"total_pgpgin", s.total_pg_pg_in},
                {"total_pgpgout", s.total_pg_pg_out},
                {"total_pgfault", s.total_pg_fault},
                {"total_pgmajfault", s.total_pg_maj_fault},
                {"total_inactive_anon", s.total_inactive_anon},
                {"total_active_anon", s.total_active_anon},
                {"total_inactive_file", s.total_inactive_file},
                {"total_active_file", s.total_active_file},
                {"total_unevictable", s.total_unevictable}};
    json mem = {{"stats", raw}};
    if (s.usage) {
      uint64_t limit = s.usage->limit;
      uint64_t machine = MachineMemory();
      if (machine > 0 && limit > machine) limit = machine;
      mem["usage"] = s.usage->usage;
      if (s.usage->max) mem["max_usage"] = s.usage->max;
      if (s.usage->failcnt) mem["failcnt"] = s.usage->failcnt;
      mem["limit"] = limit;
    }
    j["memory_stats"] = mem;
  }
  if (m.pids) {
    json p = json::object();
    if (m.pids->current) p["current"] = m.pids->current;
    if (m.pids->limit) p["limit"] = m.pids->limit;
    j["pids_stats"] = p;
  }
}

void FillV2(json& j, const lcd::cgroup2::Metrics& m) {
  if (m.io) {
    json isbr = json::array();
    for (const auto& e : m.io->usage) {
      isbr.push_back({{"major", e.major}, {"minor", e.minor}, {"op", "read"}, {"value", e.rbytes}});
      isbr.push_back(
          {{"major", e.major}, {"minor", e.minor}, {"op", "write"}, {"value", e.wbytes}});
    }
    j["blkio_stats"]["io_service_bytes_recursive"] = isbr;
  }
  if (m.cpu) {
    const auto& c = *m.cpu;
    j["cpu_stats"] = {{"cpu_usage",
                       {{"total_usage", c.usage_usec * 1000},
                        {"usage_in_kernelmode", c.system_usec * 1000},
                        {"usage_in_usermode", c.user_usec * 1000}}},
                      {"throttling_data",
                       {{"periods", c.nr_periods},
                        {"throttled_periods", c.nr_throttled},
                        {"throttled_time", c.throttled_usec * 1000}}}};
  }
  if (m.memory) {
    const auto& s = *m.memory;
    json raw = {{"anon", s.anon},
                {"file", s.file},
                {"kernel_stack", s.kernel_stack},
                {"slab", s.slab},
                {"sock", s.sock},
                {"shmem", s.shmem},
                {"file_mapped", s.file_mapped},
                {"file_dirty", s.file_dirty},
                {"file_writeback", s.file_writeback},
                {"anon_thp", s.anon_thp},
                {"inactive_anon", s.inactive_anon},
                {"active_anon", s.active_anon},
                {"inactive_file", s.inactive_file},
                {"active_file", s.active_file},
                {"unevictable", s.unevictable},
                {"slab_reclaimable", s.slab_reclaimable},
                {"slab_unreclaimable", s.slab_unreclaimable},
                {"pgfault", s.pgfault},
                {"pgmajfault", s.pgmajfault},
                {"workingset_refault", s.workingset_refault},
                {"workingset_activate", s.workingset_activate},
                {"workingset_nodereclaim", s.workingset_nodereclaim},
                {"pgrefill", s.pgrefill},
                {"pgscan", s.pgscan},
                {"pgsteal", s.pgsteal},
                {"pgactivate", s.pgactivate},
                {"pgdeactivate", s.pgdeactivate},
                {"pglazyfree", s.pglazyfree},
                {"pglazyfreed", s.pglazyfreed},
                {"thp_fault_alloc", s.thp_fault_alloc},
                {"thp_collapse_alloc", s.thp_collapse_alloc}};
    uint64_t limit = s.usage_limit;
    uint64_t machine = MachineMemory();
    if (machine > 0 && limit > machine) limit = machine;
    json mem = {{"stats", raw}, {"usage", s.usage}, {"limit", limit}};
    if (m.memory_events && m.memory_events->oom) mem["failcnt"] = m.memory_events->oom;
    j["memory_stats"] = mem;
  }
  if (m.pids) {
    json p = json::object();
    if (m.pids->current) p["current"] = m.pids->current;
    if (m.pids->limit) p["limit"] = m.pids->limit;
    j["pids_stats"] = p;
  }
}

// One sample of a container's statistics in docker's form; running reports whether it had a
// running task (else the sample is docker's empty one).
json Sample(Engine& engine, const std::shared_ptr<Ctr>& c, bool& running) {
  std::shared_ptr<lcd::Task> task;
  std::string id, name, net_mode;
  int pid = 0;
  {
    std::lock_guard l(c->mu);
    id = c->rec.id;
    name = c->rec.name;
    net_mode = c->rec.network_mode;
    running = c->running() && c->task && !c->removed;
    if (running) {
      task = c->task;
      pid = c->rec.pid;
    }
  }
  json j = EmptyStats(id, name);
  if (!running) return j;
  (void)engine;
  lcd::Stats st;
  try {
    st = task->GetStats(Engine::Ctx());
  } catch (const lcd::Error& e) {
    if (e.kind() == lcd::ErrorKind::kNotFound) {
      running = false;
      return j;
    }
    throw;
  }
  j["read"] =
      Rfc3339Nano(st.read.time_since_epoch().count() ? st.read : std::chrono::system_clock::now());
  if (const auto* v1 = st.v1()) FillV1(j, *v1);
  if (const auto* v2 = st.v2()) FillV2(j, *v2);
  uint64_t system_ns;
  uint32_t cpus;
  SystemCpu(system_ns, cpus);
  j["cpu_stats"]["system_cpu_usage"] = system_ns;
  j["cpu_stats"]["online_cpus"] = cpus;
  if (net_mode != "host" && net_mode != "none") {
    json nets = NetworkStats(pid);
    if (!nets.empty()) j["networks"] = nets;
  }
  return j;
}

// The last sample of each container (docker stats --no-stream's "previous CPU").
struct StatsCache {
  struct Entry {
    std::chrono::steady_clock::time_point at;
    std::string read;
    json cpu;
  };
  std::mutex mu;
  std::map<std::string, Entry> last;

  std::optional<Entry> Fresh(const std::string& id) {
    std::lock_guard l(mu);
    auto it = last.find(id);
    if (it == last.end() || std::chrono::steady_clock::now() - it->second.at > 10s)
      return std::nullopt;
    return it->second;
  }
  void Put(const std::string& id, const json& sample) {
    std::lock_guard l(mu);
    auto now = std::chrono::steady_clock::now();
    for (auto it = last.begin(); it != last.end();)
      it = now - it->second.at > 10min ? last.erase(it) : std::next(it);
    last[id] = Entry{now, sample["read"].get<std::string>(), sample["cpu_stats"]};
  }
};

void Stats(Engine& engine, StatsCache& cache, Request& req, Response& res) {
  auto c = engine.containers().Get(req.Param("id"));
  const bool stream = req.QueryBool("stream", true);
  const bool one_shot = req.QueryBool("one-shot", false);
  if (stream && one_shot) throw HttpError(400, "cannot have stream=true and one-shot=true");
  const std::string id = c->rec.id;
  bool running = false;
  if (!stream) {
    json j = Sample(engine, c, running);
    if (running && !one_shot) {
      if (auto prev = cache.Fresh(id)) {
        j["preread"] = prev->read;
        j["precpu_stats"] = prev->cpu;
      } else {  // two samples, so that the CPU figure is real
        std::this_thread::sleep_for(100ms);
        json second = Sample(engine, c, running);
        if (running) {
          second["preread"] = j["read"];
          second["precpu_stats"] = j["cpu_stats"];
        }
        j = std::move(second);
      }
    }
    if (running) cache.Put(id, j);
    SendJson(res, 200, j.dump());
    return;
  }
  res.BeginStream(200, "application/json");
  std::optional<StatsCache::Entry> prev = cache.Fresh(id);
  for (;;) {
    json j = Sample(engine, c, running);
    if (running) {
      if (prev) {
        j["preread"] = prev->read;
        j["precpu_stats"] = prev->cpu;
      }
      cache.Put(id, j);
      prev = StatsCache::Entry{std::chrono::steady_clock::now(), j["read"].get<std::string>(),
                               j["cpu_stats"]};
    }
    if (!res.Write(j.dump() + "\n")) return;
    if (!running) return;  // not (or no longer) running: docker's zeros, then the end
    for (int i = 0; i < 10; ++i) {
      std::this_thread::sleep_for(100ms);
      if (res.ClientGone()) return;
    }
  }
}

// ---- top -----------------------------------------------------------------------------------

struct CommandResult {
  int status = -1;
  std::string out, err;
};

CommandResult Run(const std::vector<std::string>& args) {
  CommandResult r;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw HttpError(500, "ps: pipe: " + std::string(strerror(errno)));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw HttpError(500, "ps: pipe: " + std::string(strerror(errno)));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    throw HttpError(500, "ps: cannot run " + args[0] + ": " + strerror(rc) +
                             " (install procps on the engine's host)");
  }
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* bufs[2] = {&r.out, &r.err};
  int open = 2;
  while (open > 0) {
    if (::poll(fds, 2, 10000) <= 0) {
      if (errno == EINTR) continue;
      break;  // ps hung: stop reading
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[8192];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        if (bufs[i]->size() < 16 * 1024 * 1024) bufs[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return r;
}

std::vector<std::string> Fields(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

json ParsePs(const std::string& output, const std::set<uint32_t>& pids) {
  std::istringstream in(output);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> titles = Fields(line);
  size_t pid_index = titles.size();
  for (size_t i = 0; i < titles.size(); ++i)
    if (titles[i] == "PID") {
      pid_index = i;
      break;
    }
  if (pid_index == titles.size()) throw HttpError(500, "Couldn't find PID field in ps output");
  json procs = json::array();
  bool last_contained = false;
  auto add = [&](std::vector<std::string> f) {
    // Merge the fields past the last title (the command's arguments) into one.
    if (f.size() > titles.size()) {
      std::string tail;
      for (size_t i = titles.size() - 1; i < f.size(); ++i)
        tail += (tail.empty() ? "" : " ") + f[i];
      f.resize(titles.size() - 1);
      f.push_back(tail);
    }
    procs.push_back(f);
  };
  while (std::getline(in, line)) {
    std::vector<std::string> f = Fields(line);
    if (f.empty() || f.size() <= pid_index) continue;
    if (f[pid_index] == "-") {  // a thread line (ps -m)
      if (last_contained) add(f);
      continue;
    }
    char* end = nullptr;
    unsigned long p = std::strtoul(f[pid_index].c_str(), &end, 10);
    if (end == f[pid_index].c_str() || *end != '\0')
      throw HttpError(500, "Unexpected pid '" + f[pid_index] + "' in ps output");
    last_contained = pids.count(static_cast<uint32_t>(p)) != 0;
    if (last_contained) add(f);
  }
  return {{"Titles", titles}, {"Processes", procs}};
}

void Top(Engine& engine, Request& req, Response& res) {
  std::string ps_args = req.Query("ps_args");
  if (ps_args.empty()) ps_args = "-ef";
  // docker refuses "key=PID..." format specifiers other than pid=.
  static const std::regex kPsArgs("\\s+([^\\s]*)=\\s*(PID[^\\s]*)");
  for (std::sregex_iterator it(ps_args.begin(), ps_args.end(), kPsArgs), end; it != end; ++it)
    if ((*it)[1].str() != "pid")
      throw HttpError(
          400, "specifying \"" + (*it)[1].str() + "=" + (*it)[2].str() + "\" is not allowed");
  auto c = engine.containers().Get(req.Param("id"));
  std::shared_ptr<lcd::Task> task;
  {
    std::lock_guard l(c->mu);
    if (!c->running() || !c->task) throw HttpError(409, NotRunning(*c));
    task = c->task;
  }
  std::set<uint32_t> pids;
  std::string pid_arg = "-q";
  for (const auto& p : task->Pids(Engine::Ctx())) {
    if (p.pid == 0) continue;
    pid_arg += (pids.empty() ? "" : ",") + std::to_string(p.pid);
    pids.insert(p.pid);
  }
  std::vector<std::string> args = {"ps"};
  for (auto& a : Fields(ps_args)) args.push_back(a);
  auto with_pids = args;
  if (!pids.empty()) with_pids.push_back(pid_arg);
  CommandResult r = Run(with_pids);
  if (r.status != 0) r = Run(args);  // some ps options (f) do not go with -q
  if (r.status != 0) {
    std::string first = r.err.substr(0, r.err.find('\n'));
    throw HttpError(500,
                    "ps: " + (first.empty() ? "exit status " + std::to_string(r.status) : first));
  }
  json answer = ParsePs(r.out, pids);
  engine.containers().Publish(*c, "top");
  SendJson(res, 200, answer.dump());
}

// ---- update --------------------------------------------------------------------------------

const std::set<std::string> kUpdatable = {
    "Memory",    "MemorySwap", "MemoryReservation", "NanoCpus",  "CpuShares",    "CpuQuota",
    "CpuPeriod", "CpusetCpus", "CpusetMems",        "PidsLimit", "RestartPolicy"};

void Update(Engine& engine, Request& req, Response& res) {
  json body = ParseJsonBody(req);
  auto c = engine.containers().Get(req.Param("id"));
  for (const auto& [k, v] : body.items()) {
    if (kUpdatable.count(k) || IsEmptyValue(v)) continue;
    throw HttpError(400, "lcd-engine cannot update " + k + " (got " + v.dump() +
                             "); it updates Memory, MemorySwap, MemoryReservation, NanoCpus, "
                             "CpuShares, CpuQuota, CpuPeriod, CpusetCpus, CpusetMems and "
                             "PidsLimit");
  }
  std::string policy;
  json policy_json;
  if (body.contains("RestartPolicy") && body["RestartPolicy"].is_object()) {
    policy = JsonStr(body["RestartPolicy"], "Name");
    policy_json = body["RestartPolicy"];
    bool auto_remove;
    {
      std::lock_guard l(c->mu);
      auto_remove = c->rec.host_config.value("AutoRemove", false);
    }
    if (!policy.empty()) ValidateRestartPolicy(policy_json, auto_remove);
  }
  const int64_t memory = JsonInt(body, "Memory");
  const int64_t swap = JsonInt(body, "MemorySwap");
  const int64_t reservation = JsonInt(body, "MemoryReservation");
  const int64_t nano = JsonInt(body, "NanoCpus");
  const int64_t shares = JsonInt(body, "CpuShares");
  const int64_t quota = JsonInt(body, "CpuQuota");
  const int64_t period = JsonInt(body, "CpuPeriod");
  const std::string cpus = JsonStr(body, "CpusetCpus");
  const std::string mems = JsonStr(body, "CpusetMems");
  std::optional<int64_t> pids_limit;
  if (body.contains("PidsLimit") && !body["PidsLimit"].is_null())
    pids_limit = JsonInt(body, "PidsLimit");

  if (memory < 0) throw HttpError(400, "Memory: must be positive");
  if (memory > 0 && memory < 6 * 1024 * 1024)
    throw HttpError(400, "Minimum memory limit allowed is 6MB");
  if (nano < 0) throw HttpError(400, "NanoCpus: must be positive");
  if (nano > 0) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (nano < 10000000 || nano > ncpu * 1000000000LL)
      throw HttpError(400, "Range of CPUs is from 0.01 to " + std::to_string(ncpu) +
                               ".00, as there are only " + std::to_string(ncpu) +
                               " CPUs available");
  }
  if (nano > 0 && (quota > 0 || period > 0))
    throw HttpError(400,
                    "Conflicting options: Nano CPUs and CPU Period (or Quota) cannot both "
                    "be set");
  if (period != 0 && (period < 1000 || period > 1000000))
    throw HttpError(400,
                    "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1 "
                    "second (i.e. 1000000)");
  if (quota > 0 && quota < 1000)
    throw HttpError(400, "CPU cfs quota can not be less than 1ms (i.e. 1000)");
  if (shares < 0) throw HttpError(400, "CpuShares: must be positive");

  std::shared_ptr<lcd::Task> task;
  json hc;
  {
    std::lock_guard l(c->mu);
    if (c->removed) throw HttpError(404, "No such container: " + req.Param("id"));
    hc = c->rec.host_config;
    if (c->running() && c->task) task = c->task;
  }
  auto stored = [&](const char* k) { return hc.value(k, int64_t{0}); };
  if (nano > 0 && stored("CpuPeriod") > 0)
    throw HttpError(409,
                    "Conflicting options: Nano CPUs cannot be updated as CPU Period has "
                    "already been set");
  if (nano > 0 && stored("CpuQuota") > 0)
    throw HttpError(409,
                    "Conflicting options: Nano CPUs cannot be updated as CPU Quota has "
                    "already been set");
  if ((period > 0 || quota > 0) && stored("NanoCpus") > 0)
    throw HttpError(409,
                    "Conflicting options: CPU Period (or Quota) cannot be updated as "
                    "NanoCPUs has already been set");
  const int64_t new_memory = memory > 0 ? memory : stored("Memory");
  if (swap > 0 && new_memory <= 0)
    throw HttpError(400,
                    "You should always set the Memory limit when using Memoryswap limit, "
                    "see usage");
  if (swap > 0 && swap < new_memory)
    throw HttpError(400, "Minimum memoryswap limit should be larger than memory limit, see usage");

  lcd::oci::LinuxResources r;
  bool any = false;
  if (memory > 0 || swap != 0 || reservation > 0) {
    lcd::oci::LinuxMemory m;
    if (memory > 0) m.limit = memory;
    if (swap != 0) m.swap = swap;
    if (reservation > 0) m.reservation = reservation;
    r.memory = m;
    any = true;
  }
  if (nano > 0 || shares > 0 || quota != 0 || period > 0 || !cpus.empty() || !mems.empty()) {
    lcd::oci::LinuxCPU cpu;
    if (nano > 0) {
      cpu.period = 100000;
      cpu.quota = nano / 10000;  // nano CPUs * 100000 µs / 1e9
    }
    if (shares > 0) cpu.shares = static_cast<uint64_t>(shares);
    if (quota != 0) cpu.quota = quota;
    if (period > 0) cpu.period = static_cast<uint64_t>(period);
    cpu.cpus = cpus;
    cpu.mems = mems;
    r.cpu = cpu;
    any = true;
  }
  if (pids_limit) {
    lcd::oci::LinuxPids p;
    p.limit = *pids_limit > 0 ? *pids_limit : -1;
    r.pids = p;
    any = true;
  }
  if (task && any) {
    try {
      task->UpdateResources(Engine::Ctx(), r);
    } catch (const lcd::Error& e) {
      if (e.kind() == lcd::ErrorKind::kNotFound) {
        // It stopped meanwhile: the stored values apply (docker keeps them too).
      } else {
        throw HttpError(e.kind() == lcd::ErrorKind::kInvalidArgument ? 400 : 500,
                        "Cannot update container " + c->rec.id + ": " + e.message());
      }
    }
  }
  {
    std::lock_guard l(c->mu);
    json& h = c->rec.host_config;
    if (memory > 0) h["Memory"] = memory;
    if (swap != 0) h["MemorySwap"] = swap;
    if (reservation > 0) h["MemoryReservation"] = reservation;
    if (nano > 0) h["NanoCpus"] = nano;
    if (shares > 0) h["CpuShares"] = shares;
    if (quota != 0) h["CpuQuota"] = quota;
    if (period > 0) h["CpuPeriod"] = period;
    if (!cpus.empty()) h["CpusetCpus"] = cpus;
    if (!mems.empty()) h["CpusetMems"] = mems;
    if (pids_limit) h["PidsLimit"] = *pids_limit;
    if (!policy.empty())
      h["RestartPolicy"] = {{"Name", policy},
                            {"MaximumRetryCount", policy_json.value("MaximumRetryCount", 0)}};
    c->rec.updated = true;  // Start applies these to the next task
    engine.containers().Save(*c);
  }
  engine.containers().Publish(*c, "update");
  SendJson(res, 200, json{{"Warnings", json::array()}}.dump());
}

// ---- prune ---------------------------------------------------------------------------------

bool LabelsMatch(const json& labels, const std::vector<std::string>& wanted) {
  for (const auto& w : wanted) {
    size_t eq = w.find('=');
    std::string k = w.substr(0, eq);
    if (!labels.is_object() || !labels.contains(k)) return false;
    if (eq != std::string::npos &&
        !(labels[k].is_string() && labels[k].get<std::string>() == w.substr(eq + 1)))
      return false;
  }
  return true;
}

void Prune(Engine& engine, Request& req, Response& res) {
  auto filters = ParseFilters(req.Query("filters"));
  std::optional<int64_t> until;
  std::vector<std::string> labels, not_labels;
  for (const auto& [k, vals] : filters) {
    if (k == "until") {
      if (vals.size() != 1) throw HttpError(400, "more than one until filter specified");
      until = ParseDockerTime(vals[0]);
    } else if (k == "label") {
      labels = vals;
    } else if (k == "label!") {
      not_labels = vals;
    } else {
      throw HttpError(400, "Invalid filter '" + k + "'");
    }
  }
  json deleted = json::array();
  for (auto& c : engine.containers().All()) {
    json cfg_labels;
    std::string created;
    {
      std::lock_guard l(c->mu);
      if (c->removed || c->running() || c->starting || c->rec.status == "removing" ||
          c->rec.status == "restarting")
        continue;
      cfg_labels = c->rec.config.value("Labels", json::object());
      created = c->rec.created;
    }
    if (until) {
      int64_t t = 0;
      try {
        t = ParseDockerTime(created);
      } catch (const HttpError&) {
      }
      if (t == 0 || t >= *until) continue;
    }
    if (!labels.empty() && !LabelsMatch(cfg_labels, labels)) continue;
    bool excluded = false;
    for (const auto& nl : not_labels)
      if (LabelsMatch(cfg_labels, {nl})) excluded = true;
    if (excluded) continue;
    try {
      engine.containers().Remove(c, false);
      deleted.push_back(c->rec.id);
    } catch (const std::exception&) {
      // started or being removed meanwhile: docker skips it too
    }
  }
  Event e;
  e.type = "container";
  e.action = "prune";
  e.attributes["reclaimed"] = "0";
  engine.events().Publish(std::move(e));
  SendJson(
      res, 200,
      json{{"ContainersDeleted", deleted.empty() ? json(nullptr) : deleted}, {"SpaceReclaimed", 0}}
          .dump());
}

}  // namespace

void RegisterContainerOpsRoutes(Router& router, Engine& engine) {
  auto cache = std::make_shared<StatsCache>();
  router.Add("GET", "/containers/{id}/stats",
             [&engine, cache](Request& req, Response& res) { Stats(engine, *cache, req, res); });
  router.Add("GET", "/containers/{id}/top",
             [&engine](Request& req, Response& res) { Top(engine, req, res); });
  router.Add("POST", "/containers/{id}/update",
             [&engine](Request& req, Response& res) { Update(engine, req, res); });
  router.Add("POST", "/containers/{id}/resize", [&engine](Request& req, Response& res) {
    int64_t h = req.QueryInt("h", 0), w = req.QueryInt("w", 0);
    if (h < 0 || h > UINT32_MAX)
      throw HttpError(400, "invalid resize height \"" + req.Query("h") + "\"");
    if (w < 0 || w > UINT32_MAX)
      throw HttpError(400, "invalid resize width \"" + req.Query("w") + "\"");
    auto c = engine.containers().Get(req.Param("id"));
    std::shared_ptr<lcd::Task> task;
    {
      std::lock_guard l(c->mu);
      if (!c->running() || !c->task) throw HttpError(409, NotRunning(*c));
      task = c->task;
    }
    if (h > 0 && w > 0) {
      try {
        task->Resize(Engine::Ctx(), static_cast<uint32_t>(w), static_cast<uint32_t>(h));
      } catch (const lcd::Error& e) {
        if (e.kind() == lcd::ErrorKind::kNotFound) throw HttpError(409, NotRunning(*c));
        throw;
      }
    }
    engine.containers().Publish(*c, "resize",
                                {{"height", std::to_string(h)}, {"width", std::to_string(w)}});
    res.Send(200, "", std::string());
  });
  router.Add("POST", "/containers/{id}/rename", [&engine](Request& req, Response& res) {
    auto c = engine.containers().Get(req.Param("id"));
    engine.containers().Rename(c, req.Query("name"));
    SendNoContent(res);
  });
  router.Add("POST", "/containers/prune",
             [&engine](Request& req, Response& res) { Prune(engine, req, res); });

  // Not built yet: a clear refusal naming the feature.
  auto refuse = [](std::string what) {
    return [what](Request&, Response&) {
      throw HttpError(501, "lcd-engine does not implement " + what + " yet");
    };
  };
  router.Add("GET", "/containers/{id}/export", refuse("docker export"));
  router.Add("GET", "/containers/{id}/changes", refuse("docker diff"));
  router.Add("POST", "/containers/{id}/checkpoints", refuse("docker checkpoint create"));
  router.Add("GET", "/containers/{id}/checkpoints", refuse("docker checkpoint ls"));
  router.Add("DELETE", "/containers/{id}/checkpoints/{checkpoint}", refuse("docker checkpoint rm"));
  RegisterArchiveRoutes(router, engine);
}

}  // namespace lcde
