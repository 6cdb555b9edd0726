// lcctl stats: a live resource table like `docker stats`, one batched metrics call per refresh.
#include "libcontainerd/stats.h"

#include <sys/sysinfo.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <thread>

#include "common.h"

namespace lcctl {

namespace lcd = libcontainerd;

namespace {

std::string HumanBytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.2f%s", v, units[u]);
  return buf;
}

uint64_t HostMemory() {
  struct sysinfo si {};
  if (sysinfo(&si) != 0) return 0;
  return static_cast<uint64_t>(si.totalram) * si.mem_unit;
}

struct Sample {
  std::chrono::steady_clock::time_point at;
  lcd::StatsSummary sum;
};

std::vector<std::string> Targets(Session& s, const ParsedArgs& a) {
  if (!a.positionals.empty()) return a.positionals;
  std::vector<std::string> ids;
  for (const auto& t : s.inspector().ListTasks(s.Ctx()))
    if (t.status == lcd::Status::kRunning || t.status == lcd::Status::kPaused)
      ids.push_back(t.container_id);
  return ids;
}

std::map<std::string, Sample> Take(Session& s, const std::vector<std::string>& ids) {
  std::map<std::string, Sample> out;
  if (ids.empty()) return out;
  auto now = std::chrono::steady_clock::now();
  for (auto& [id, st] : s.client().StatsMany(s.Ctx(), ids)) out[id] = {now, lcd::Summarize(st)};
  return out;
}

void Show(Session& s, const std::vector<std::string>& ids,
          const std::map<std::string, Sample>& prev, const std::map<std::string, Sample>& cur,
          bool clear) {
  const uint64_t host = HostMemory();
  nlohmann::json arr = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows{
      {"CONTAINER", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"}};
  for (const auto& id : ids) {
    auto c = cur.find(id);
    if (c == cur.end()) continue;  // no running task (any more)
    double cpu = 0;
    if (auto p = prev.find(id); p != prev.end()) {
      auto dt =
          std::chrono::duration_cast<std::chrono::nanoseconds>(c->second.at - p->second.at).count();
      if (dt > 0 && c->second.sum.cpu_total_ns >= p->second.sum.cpu_total_ns)
        cpu = 100.0 * static_cast<double>(c->second.sum.cpu_total_ns - p->second.sum.cpu_total_ns) /
              static_cast<double>(dt);
    }
    uint64_t limit = c->second.sum.memory_limit;
    if (host && (limit == 0 || limit > host)) limit = host;
    double mem_pct =
        limit ? 100.0 * static_cast<double>(c->second.sum.memory_usage) / static_cast<double>(limit)
              : 0;
    char cpu_s[32], mem_s[32];
    std::snprintf(cpu_s, sizeof cpu_s, "%.2f%%", cpu);
    std::snprintf(mem_s, sizeof mem_s, "%.2f%%", mem_pct);
    rows.push_back({id, cpu_s, HumanBytes(c->second.sum.memory_usage) + " / " + HumanBytes(limit),
                    mem_s, std::to_string(c->second.sum.pids_current)});
    arr.push_back({{"id", id},
                   {"cpu_percent", cpu},
                   {"cpu_total_ns", c->second.sum.cpu_total_ns},
                   {"memory_usage", c->second.sum.memory_usage},
                   {"memory_limit", limit},
                   {"memory_percent", mem_pct},
                   {"pids", c->second.sum.pids_current}});
  }
  if (s.globals().json) {
    std::string line = arr.dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
    return;
  }
  if (clear) std::fputs("\033[2J\033[H", stdout);
  PrintTable(rows);
}

int Stats(Session& s, const ParsedArgs& a) {
  for (const auto& id : a.positionals) s.LoadContainer(id);
  const bool clear = isatty(STDOUT_FILENO) != 0;
  auto ids = Targets(s, a);
  auto prev = Take(s, ids);
  if (a.Has("no-stream")) {
    // Two samples half a second apart give the CPU figure.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    Show(s, ids, prev, Take(s, ids), false);
    return 0;
  }
  for (;;) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (a.positionals.empty()) ids = Targets(s, a);
    auto cur = Take(s, ids);
    Show(s, ids, prev, cur, clear);
    prev = std::move(cur);
  }
}

}  // namespace

std::vector<Command> StatsCommands() {
  return {{"stats",
           "stats [--no-stream] [ID...]",
           "a live table of CPU %, memory usage/limit and pids (every running task when no id is "
           "given)",
           "  lcctl stats\n  lcctl stats --no-stream web1\n  lcctl stats --no-stream --json",
           {{"no-stream", 0, false, "", "print one table and exit"}},
           SIZE_MAX,
           Stats}};
}

}  // namespace lcctl
