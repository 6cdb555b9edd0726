// lcd_bench: libcontainerd's benchmarks, side by side with ctr, lcctl and runc on one daemon.
//
//   lcd_bench daemon-start ROOT      start (or adopt) a detached private containerd under ROOT
//   lcd_bench daemon-stop ROOT [NS]  remove what is left in namespace NS, stop the daemon
//   lcd_bench run [flags]            measure; one JSON line per measurement (samples in ns)
//
// `run` measures in-process through the public API and, alternately in the same loop (ours,
// then the peers, then ours again...), the command-line peers as child processes, so that drift
// of the machine affects every variant alike. See bench/run.sh and bench/RESULTS.md.
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "libcontainerd/cio.h"
#include "libcontainerd/client.h"
#include "libcontainerd/containerd.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"
#include "libcontainerd/oci/defaults.h"
#include "libcontainerd/oci/spec.h"
#include "libcontainerd/rootfs.h"
#include "libcontainerd/supervisor.h"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define LCD_HAVE_CALLGRIND 1
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(x)
#define LCD_HAVE_CALLGRIND 0
#endif

extern char** environ;

// Experiment (LCD_BENCH_EVENT_THREADS_NICE=N): the dispatcher threads run at nice N
// (setpriority on their own thread id at their first event), the rest of the process as it is:
// does a scheduling priority of the library's event threads remove the tail?
namespace lcd_bench_probe {
void MaybeRenice() {
  static const char* env = std::getenv("LCD_BENCH_EVENT_THREADS_NICE");
  if (env == nullptr || *env == '\0') return;
  thread_local bool done = false;
  if (done) return;
  done = true;
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), std::atoi(env));
}
}  // namespace lcd_bench_probe

namespace {

using namespace libcontainerd;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

// Unit of throughput samples (integers): thousandths of a lifecycle per second.
constexpr const char* kMilliRate = "1e-3 lifecycles/s";

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}
int64_t CpuNs(clockid_t clock = CLOCK_PROCESS_CPUTIME_ID) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
// CPU time (user + system) of process `pid` from /proc, in ns; -1 when it cannot be read.
int64_t ProcCpuNs(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  int64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {  // fields 14 and 15: utime, stime (ticks)
    if (i == 14) utime = std::strtoll(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoll(field.c_str(), nullptr, 10);
  }
  return (utime + stime) * (1'000'000'000 / sysconf(_SC_CLK_TCK));
}
// The whole machine's busy CPU time (all CPUs, /proc/stat minus idle and iowait), in ns.
int64_t MachineBusyNs() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  int64_t v[10] = {};
  in >> cpu;
  for (auto& x : v) in >> x;
  int64_t busy = 0;
  for (int i = 0; i < 8; ++i)
    if (i != 3 && i != 4) busy += v[i];  // user nice system [idle iowait] irq softirq steal
  return busy * (1'000'000'000 / sysconf(_SC_CLK_TCK));
}

// Context switches (voluntary + involuntary) of each thread of this process, by thread name
// (threads of one name summed; threads that ended meanwhile are not counted).
std::map<std::string, int64_t> ThreadSwitches() {
  std::map<std::string, int64_t> out;
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(t.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (t.path().filename() == std::to_string(getpid()))
      name = "main (the caller)";
    else if (name == program_invocation_short_name)
      name = "unnamed (event reader, dispatchers, ...)";
    std::ifstream st(t.path() / "status");
    std::string line;
    int64_t n = 0;
    while (std::getline(st, line))
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0 ||
          line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
        n += std::strtoll(line.c_str() + line.find(':') + 1, nullptr, 10);
    out[name] += n;
  }
  return out;
}

long VmRssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Samples and summaries

struct Series {
  std::string bench;    // "lifecycle", "exec", ...
  std::string variant;  // "api", "ctr", ...
  std::string unit = "ns";
  std::string what;   // one line: what one sample is
  bool peer = false;  // a tool we compare against (not ours)
  std::vector<int64_t> samples;
  std::string error;  // set when the series could not be measured
};

double Percentile(std::vector<int64_t> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  if (q == 0.5) {
    size_t n = v.size();
    return n % 2 ? double(v[n / 2]) : (double(v[n / 2 - 1]) + double(v[n / 2])) / 2.0;
  }
  size_t rank = static_cast<size_t>(std::ceil(q * double(v.size())));
  return double(v[std::clamp<size_t>(rank, 1, v.size()) - 1]);
}

json SeriesJson(const Series& s) {
  json j{{"bench", s.bench}, {"variant", s.variant},  {"unit", s.unit},      {"what", s.what},
         {"peer", s.peer},   {"n", s.samples.size()}, {"samples", s.samples}};
  if (!s.samples.empty()) {
    j["median"] = Percentile(s.samples, 0.5);
    j["p90"] = Percentile(s.samples, 0.9);
    j["p99"] = Percentile(s.samples, 0.99);
    j["min"] = *std::min_element(s.samples.begin(), s.samples.end());
    j["max"] = *std::max_element(s.samples.begin(), s.samples.end());
  }
  if (!s.error.empty()) j["error"] = s.error;
  return j;
}

// ---------------------------------------------------------------------------------------------
// Child processes: wall time and peak RSS (wait4's ru_maxrss) of one command.

struct ChildResult {
  int64_t wall_ns = 0;
  long maxrss_kb = 0;
  int exit_code = -1;
  std::string err;  // stderr (first KB) when the command failed
};

ChildResult RunChild(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int errfd = memfd_create("lcd-bench-stderr", MFD_CLOEXEC);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  if (errfd >= 0) posix_spawn_file_actions_adddup2(&fa, errfd, 2);
  ChildResult r;
  pid_t pid = 0;
  int64_t t0 = NowNs();
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    r.err = "cannot run " + argv[0] + ": " + std::strerror(rc);
    if (errfd >= 0) close(errfd);
    return r;
  }
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  r.wall_ns = NowNs() - t0;
  r.maxrss_kb = ru.ru_maxrss;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (r.exit_code != 0 && errfd >= 0) {
    char buf[1024];
    ssize_t n = pread(errfd, buf, sizeof buf, 0);
    if (n > 0) r.err.assign(buf, static_cast<size_t>(n));
    while (!r.err.empty() && (r.err.back() == '\n' || r.err.back() == '\r')) r.err.pop_back();
  }
  if (errfd >= 0) close(errfd);
  return r;
}

std::string Join(const std::vector<std::string>& v, const char* sep = " ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

bool Executable(const std::string& path) {
  if (path.empty()) return false;
  if (path.find('/') != std::string::npos) return access(path.c_str(), X_OK) == 0;
  const char* env = std::getenv("PATH");
  std::stringstream ss(env ? env : "/usr/bin:/bin:/usr/sbin:/sbin");
  std::string dir;
  while (std::getline(ss, dir, ':'))
    if (!dir.empty() && access((dir + "/" + path).c_str(), X_OK) == 0) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Configuration

struct Config {
  std::string daemon_root;  // Supervisor root: gives address and runc root
  std::string address;
  std::string runc_root;
  std::string ns = "lcdbench";
  std::string rootfs = kDefaultRootfs;
  std::string state_dir;  // clients' FIFO sets, runc bundle
  int iters = 30;
  int event_iters = 100;
  int stats_n = 50;
  int rss_n = 100;
  int throughput_total = 32;  // lifecycles per round and worker count
  int throughput_rounds = 3;
  int scale_n = 100;           // scale: running containers (LCD_BENCH_SCALE_N)
  int instr_n = 20;            // instr: lifecycles counted by callgrind, after the warm-up
  int latency_n = 320;         // event_latency: lifecycles, 16 at a time
  int parallel = 16;           // workers of scale, event_latency and the ctr throughput peer
  std::set<std::string> only;  // empty: all
  std::string ctr = "ctr";
  std::string runc = "runc";
  std::string lcctl;     // empty or missing: lcctl rows are pending
  std::string jsonl;     // JSON lines go here (default stdout)
  std::string results;   // summary JSON (results.json)
  std::string markdown;  // the table, as Markdown
  bool smoke = false;
  std::map<std::string, std::string> meta;  // --meta KEY=VALUE: machine description etc.
  bool want(const std::string& b) const { return only.empty() || only.count(b); }
  // Heavy or tool-bound benchmarks: only when named.
  bool named(const std::string& b) const { return only.count(b) != 0; }
};

[[noreturn]] void Usage(const char* msg = nullptr) {
  if (msg) std::fprintf(stderr, "lcd_bench: %s\n", msg);
  std::fprintf(stderr,
               "usage: lcd_bench daemon-start ROOT\n"
               "       lcd_bench daemon-stop ROOT [NAMESPACE...]\n"
               "       lcd_bench run [--daemon-root ROOT | --address SOCK --runc-root DIR]\n"
               "                     [--ns NS] [--rootfs DIR] [--state-dir DIR] [--iters N]\n"
               "                     [--event-iters N] [--stats-n N] [--rss-n N]\n"
               "                     [--scale-n N] [--instr-n N] [--latency-n N] [--parallel N]\n"
               "                     [--only lifecycle,exec,stats,events,throughput,rss,\n"
               "                             event_latency,scale,instr]\n"
               "                     [--ctr PATH|''] [--runc PATH|''] [--lcctl PATH|'']\n"
               "                     [--jsonl FILE] [--results FILE] [--markdown FILE] [--smoke]\n"
               "                     [--meta KEY=VALUE]...\n"
               "--daemon-root defaults to $LCD_TEST_ROOT (the integration fixture's daemon).\n"
               "--smoke: one iteration of everything, small counts (CI; timings are not checked).\n"
               "scale and instr run only when named in --only; --scale-n defaults to\n"
               "$LCD_BENCH_SCALE_N, else 100. instr is meant to run under\n"
               "valgrind --tool=callgrind --instr-atstart=no (bench/run.sh does: "
               "LCD_BENCH_ONLY=callgrind).\n");
  std::exit(2);
}

Config ParseRun(int argc, char** argv) {
  Config c;
  if (const char* env = std::getenv("LCD_TEST_ROOT"); env && *env) c.daemon_root = env;
  if (const char* env = std::getenv("LCD_BENCH_SCALE_N"); env && *env) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (*end || n < 1) Usage("LCD_BENCH_SCALE_N must be a positive number");
    c.scale_n = static_cast<int>(n);
  }
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    auto num = [&]() {
      std::string v = val();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (*end || n < 1) Usage(("bad number for " + a + ": " + v).c_str());
      return static_cast<int>(n);
    };
    if (a == "--daemon-root")
      c.daemon_root = val();
    else if (a == "--address")
      c.address = val();
    else if (a == "--runc-root")
      c.runc_root = val();
    else if (a == "--ns")
      c.ns = val();
    else if (a == "--rootfs")
      c.rootfs = val();
    else if (a == "--state-dir")
      c.state_dir = val();
    else if (a == "--iters")
      c.iters = num();
    else if (a == "--event-iters")
      c.event_iters = num();
    else if (a == "--stats-n")
      c.stats_n = num();
    else if (a == "--rss-n")
      c.rss_n = num();
    else if (a == "--scale-n")
      c.scale_n = num();
    else if (a == "--instr-n")
      c.instr_n = num();
    else if (a == "--latency-n")
      c.latency_n = num();
    else if (a == "--parallel")
      c.parallel = num();
    else if (a == "--ctr")
      c.ctr = val();
    else if (a == "--runc")
      c.runc = val();
    else if (a == "--lcctl")
      c.lcctl = val();
    else if (a == "--jsonl")
      c.jsonl = val();
    else if (a == "--results")
      c.results = val();
    else if (a == "--markdown")
      c.markdown = val();
    else if (a == "--smoke")
      c.smoke = true;
    else if (a == "--meta") {
      std::string kv = val();
      auto eq = kv.find('=');
      if (eq == std::string::npos) Usage(("--meta wants KEY=VALUE, got " + kv).c_str());
      c.meta[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (a == "--only") {
      std::stringstream ss(val());
      std::string b;
      while (std::getline(ss, b, ',')) c.only.insert(b);
    } else {
      Usage(("unknown flag " + a).c_str());
    }
  }
  if (c.address.empty()) {
    if (c.daemon_root.empty()) Usage("no daemon: give --daemon-root ROOT or --address SOCK");
    c.address = Supervisor::AddressFor(c.daemon_root);
    if (c.runc_root.empty()) c.runc_root = Supervisor::RuncRootFor(c.daemon_root);
  }
  if (c.state_dir.empty())
    c.state_dir = (c.daemon_root.empty() ? std::string("/tmp") : c.daemon_root) + "/bench-" +
                  std::to_string(getpid());
  if (c.smoke) {
    c.iters = 1;
    c.event_iters = 1;
    c.stats_n = std::min(c.stats_n, 3);
    c.rss_n = std::min(c.rss_n, 3);
    c.throughput_total = 0;  // one lifecycle per worker
    c.throughput_rounds = 1;
    c.scale_n = std::min(c.scale_n, 3);
    c.instr_n = 1;
    c.latency_n = std::min(c.latency_n, c.parallel);
  } else if (c.event_iters < c.iters) {
    c.event_iters = c.iters;
  }
  if (!Executable(c.ctr)) c.ctr.clear();
  if (!Executable(c.runc)) c.runc.clear();
  if (!Executable(c.lcctl)) c.lcctl.clear();
  return c;
}

// ---------------------------------------------------------------------------------------------
// The benchmark run

class ExitRecorder final : public Backend {
 public:
  void ProcessEvent(const std::string& container_id, EventType type,
                    const EventInfo& info) override {
    if (type != EventType::kExit || info.process_id != container_id) return;
    int64_t t = NowNs();
    std::lock_guard l(mu_);
    exits_.emplace(container_id, t);
    cv_.notify_all();
  }
  // Time the exit of container `id` was delivered, or nullopt after `timeout`.
  std::optional<int64_t> WaitExit(const std::string& id, std::chrono::milliseconds timeout) {
    std::unique_lock l(mu_);
    if (!cv_.wait_for(l, timeout, [&] { return exits_.count(id) != 0; })) return std::nullopt;
    return exits_[id];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int64_t> exits_;
};

constexpr int kSteps = 7;
constexpr const char* kStepNames[kSteps] = {"spec", "new_container", "new_task",        "start",
                                            "wait", "delete_task",   "delete_container"};

class Bench {
 public:
  explicit Bench(Config cfg) : cfg_(std::move(cfg)) {}

  int Run();

 private:
  ClientOptions Opts(std::shared_ptr<Backend> backend = nullptr) const {
    ClientOptions o;
    o.address = cfg_.address;
    o.ns = cfg_.ns;
    o.state_dir = cfg_.state_dir + "/client";
    o.runc_root = cfg_.runc_root;
    o.backend = std::move(backend);
    return o;
  }
  oci::Spec SpecFor(const std::string& id, std::vector<std::string> args) const {
    oci::SpecOptions so;
    so.id = id;
    so.ns = cfg_.ns;
    so.args = std::move(args);
    so.rootfs = cfg_.rootfs;
    return oci::DefaultSpec(so);
  }
  std::string Id(const std::string& what) {
    return what + "-" + std::to_string(getpid()) + "-" + std::to_string(++seq_);
  }

  Series& Add(std::string bench, std::string variant, std::string what, bool peer = false,
              std::string unit = "ns") {
    series_.push_back(Series{
        std::move(bench), std::move(variant), std::move(unit), std::move(what), peer, {}, {}});
    return series_.back();
  }
  void Emit(const Series& s) {
    std::string line = SeriesJson(s).dump();
    if (jsonl_)
      *jsonl_ << line << "\n" << std::flush;
    else
      std::cout << line << "\n" << std::flush;
  }
  // Runs one sample of a child command into `s` (and its peak RSS into `rss`). A failure
  // stops the series: its error is kept and later samples are skipped.
  void Child(Series& s, Series* rss, const std::vector<std::string>& argv) {
    if (!s.error.empty()) return;
    ChildResult r = RunChild(argv);
    if (r.exit_code != 0) {
      s.error = "`" + Join(argv) + "` exited " + std::to_string(r.exit_code) + ": " + r.err;
      std::fprintf(stderr, "lcd_bench: %s\n", s.error.c_str());
      return;
    }
    s.samples.push_back(r.wall_ns);
    if (rss) rss->samples.push_back(r.maxrss_kb);
  }
  void Progress(const char* what, int i, int n) {
    if (!cfg_.smoke) std::fprintf(stderr, "\r%-12s %d/%d   ", what, i, n);
    if (!cfg_.smoke && i == n) std::fprintf(stderr, "\n");
  }

  std::vector<std::string> Ctr() const {
    return {cfg_.ctr, "--address", cfg_.address, "-n", cfg_.ns};
  }
  std::vector<std::string> Lcctl() const { return {cfg_.lcctl, "-a", cfg_.address, "-n", cfg_.ns}; }

  void Clean();
  void PrepareBundle();
  // steps (when given) receives the wall time of each step, kSteps of them.
  // on: the Client to use (default client_); id_out: receives the container's id.
  void ApiLifecycle(bool with_stdio, int64_t* cpu_ns = nullptr, int64_t* thread_cpu_ns = nullptr,
                    int64_t* steps = nullptr, Client* on = nullptr, std::string* id_out = nullptr);
  void BenchRss();
  void BenchLifecycle();
  void BenchExec();
  void BenchStats();
  void BenchEvents();
  void BenchThroughput();
  void BenchInstr();
  void BenchEventLatency();
  void BenchScale();
  // Runs fn(i) for i in [0, n) on `workers` threads; the first exception is rethrown (as an
  // Error) after every thread has stopped. Returns the wall time.
  int64_t Parallel(int n, int workers, const std::function<void(int)>& fn);
  // Removes every container (and its task) of `client`'s namespace with `workers` threads.
  void Teardown(Client& client, int workers);
  void Report();

  // A fresh context (default 30 s deadline) for each call: a Context's deadline is fixed
  // when it is made, and a run is longer than that.
  static Context Ctx() { return Context(); }

  Config cfg_;
  std::shared_ptr<Client> client_;
  std::atomic<int> seq_{0};
  std::string bundle_;
  std::deque<Series> series_;  // deque: references from Add stay valid
  std::unique_ptr<std::ofstream> jsonl_;
  double load_start_[3] = {0, 0, 0};
  std::vector<std::string> pending_;  // rows that could not be measured, with the reason
};

void Bench::Clean() {
  // Leftovers of an interrupted run in our namespace.
  for (const auto& id : client_->ListContainers(Ctx())) {
    auto c = client_->LoadContainer(Ctx(), id);
    try {
      c->GetTask(Ctx())->ForceDelete(Ctx());
    } catch (const Error& e) {
      if (!IsNotFound(e)) throw;
    }
    c->Delete(Ctx());
  }
}

void Bench::PrepareBundle() {
  bundle_ = cfg_.state_dir + "/bundle";
  std::filesystem::create_directories(bundle_);
  std::ofstream(bundle_ + "/config.json") << oci::EncodeSpec(SpecFor("runc-floor", {"/bin/true"}));
}

// One lifecycle of /bin/true through the API: create container, new task, start, exit seen via
// Wait, delete task, delete container. with_stdio: through a FIFO set copied by the library
// (as `ctr run` without --null-io); otherwise /dev/null (as `ctr run --null-io`).
void Bench::ApiLifecycle(bool with_stdio, int64_t* cpu_ns, int64_t* thread_cpu_ns, int64_t* steps,
                         Client* on, std::string* id_out) {
  Client& client = on ? *on : *client_;
  const std::string id = Id("lc");
  if (id_out) *id_out = id;
  int64_t cpu0 = CpuNs();
  int64_t tcpu0 = CpuNs(CLOCK_THREAD_CPUTIME_ID);
  int64_t last = NowNs();
  auto step = [&](int i) {
    int64_t now = NowNs();
    if (steps) steps[i] = now - last;
    last = now;
  };
  oci::Spec spec = SpecFor(id, {"/bin/true"});
  step(0);
  auto c = client.NewContainer(Ctx(), id, spec, "", RuncOptions{});
  step(1);
  auto t = c->NewTask(Ctx(), "", false,
                      with_stdio ? cio::Capture(std::make_shared<cio::Captured>()) : nullptr);
  step(2);
  t->Start(Ctx());
  step(3);
  ExitStatus st = t->Wait(Ctx());
  step(4);
  t->Delete(Ctx());
  step(5);
  c->Delete(Ctx());
  step(6);
  if (thread_cpu_ns) *thread_cpu_ns = CpuNs(CLOCK_THREAD_CPUTIME_ID) - tcpu0;
  if (cpu_ns) *cpu_ns = CpuNs() - cpu0;
  if (st.exit_code != 0)
    throw Error(ErrorKind::kUnknown, "/bin/true exited " + std::to_string(st.exit_code));
}

void Bench::BenchRss() {
  // A fresh client, measured before anything else allocates in this process.
  Series& s = Add("rss", "client_" + std::to_string(cfg_.rss_n) + "_containers", "", false, "kB");
  long before = VmRssKb();
  auto client = NewContainerdClient(Opts());
  long connected = VmRssKb();
  std::vector<std::shared_ptr<Container>> held;
  std::vector<std::string> ids;
  std::vector<oci::Spec> specs;
  for (int i = 0; i < cfg_.rss_n; ++i) {
    ids.push_back(Id("rss"));
    specs.push_back(SpecFor(ids.back(), {"/bin/true"}));
  }
  long specs_made = VmRssKb();
  for (int i = 0; i < cfg_.rss_n; ++i)
    held.push_back(client->NewContainer(Ctx(), ids[i], specs[i], "", RuncOptions{}));
  specs.clear();
  long holding = VmRssKb();
  s.what = "VmRSS of this process holding a Client and " + std::to_string(cfg_.rss_n) +
           " Container objects (samples: before client, client connected, holding)";
  s.samples = {before, connected, holding};
  Series& d =
      Add("rss", "client_delta", "VmRSS growth: client connected minus before", false, "kB");
  d.samples = {connected - before};
  Series& d2 =
      Add("rss", "containers_delta",
          "VmRSS growth from " + std::to_string(cfg_.rss_n) + " Container objects (specs excluded)",
          false, "kB");
  d2.samples = {holding - specs_made};
  for (auto& c : held) c->Delete(Ctx());
  Emit(s);
  Emit(d);
  Emit(d2);
}

void Bench::BenchLifecycle() {
  Series& api = Add(
      "lifecycle", "api",
      "create container, new task, start, Wait, delete task, delete container (stdio /dev/null)");
  Series& api_cpu =
      Add("lifecycle", "api_cpu",
          "CPU time of this process (all threads, user + kernel) during one API lifecycle");
  Series& api_tcpu = Add("lifecycle", "api_thread_cpu",
                         "CPU time of the calling thread (user + kernel) during one API lifecycle");
  Series& api_io =
      Add("lifecycle", "api_stdio", "as api, stdio through a FIFO set copied by the library");
  Series& ctr_null = Add("lifecycle", "ctr_null_io", "ctr run --rm --null-io --rootfs", true);
  Series& ctr = Add("lifecycle", "ctr", "ctr run --rm --rootfs (stdio through FIFOs)", true);
  Series& lcctl = Add("lifecycle", "lcctl", "lcctl run --rm --rootfs");
  Series& runc = Add("lifecycle", "runc", "runc run on a bundle (no containerd: the floor)", true);
  Series& ctr_version = Add("startup", "ctr", "ctr version: start, connect, one RPC, exit", true);
  Series& lcctl_version = Add("startup", "lcctl", "lcctl version: start, connect, one RPC, exit");
  std::vector<Series*> step_series;
  for (const char* name : kStepNames)
    step_series.push_back(&Add("lifecycle_step", name,
                               std::string("wall time of the API lifecycle's step: ") + name));
  Series& rss_ctr =
      Add("footprint", "ctr", "peak RSS of `ctr run --rm` (wait4 ru_maxrss)", true, "kB");
  Series& rss_lcctl =
      Add("footprint", "lcctl", "peak RSS of `lcctl run --rm` (wait4 ru_maxrss)", false, "kB");
  Series& rss_runc =
      Add("footprint", "runc", "peak RSS of `runc run` (wait4 ru_maxrss)", true, "kB");
  if (cfg_.lcctl.empty()) lcctl.error = rss_lcctl.error = lcctl_version.error = "lcctl not built";
  if (cfg_.ctr.empty())
    ctr.error = ctr_null.error = rss_ctr.error = ctr_version.error = "ctr not installed";
  if (cfg_.runc.empty()) runc.error = rss_runc.error = "runc not installed";
  ApiLifecycle(false);  // warm-up: connection, first shim binary pages
  // The calling thread's user/kernel split, summed over the API lifecycles (rusage is too
  // coarse for one lifecycle).
  int64_t thread_user_ns = 0, thread_sys_ns = 0;
  auto tv_ns = [](const timeval& tv) {
    return int64_t{tv.tv_sec} * 1'000'000'000 + int64_t{tv.tv_usec} * 1000;
  };
  for (int i = 1; i <= cfg_.iters; ++i) {
    Progress("lifecycle", i, cfg_.iters);
    int64_t cpu = 0, tcpu = 0;
    rusage ru0{}, ru1{};
    getrusage(RUSAGE_THREAD, &ru0);
    int64_t t0 = NowNs();
    int64_t steps[kSteps] = {};
    ApiLifecycle(false, &cpu, &tcpu, steps);
    for (int k = 0; k < kSteps; ++k) step_series[k]->samples.push_back(steps[k]);
    api.samples.push_back(NowNs() - t0);
    getrusage(RUSAGE_THREAD, &ru1);
    thread_user_ns += tv_ns(ru1.ru_utime) - tv_ns(ru0.ru_utime);
    thread_sys_ns += tv_ns(ru1.ru_stime) - tv_ns(ru0.ru_stime);
    api_cpu.samples.push_back(cpu);
    api_tcpu.samples.push_back(tcpu);
    if (!cfg_.ctr.empty()) {
      auto a = Ctr();
      for (const char* x : {"run", "--rm", "--null-io", "--runc-root"}) a.push_back(x);
      a.insert(a.end(), {cfg_.runc_root, "--rootfs", cfg_.rootfs, Id("ctrn"), "/bin/true"});
      Child(ctr_null, nullptr, a);
    }
    t0 = NowNs();
    ApiLifecycle(true);
    api_io.samples.push_back(NowNs() - t0);
    if (!cfg_.ctr.empty()) {
      auto a = Ctr();
      a.insert(a.end(), {"run", "--rm", "--runc-root", cfg_.runc_root, "--rootfs", cfg_.rootfs,
                         Id("ctr"), "/bin/true"});
      Child(ctr, &rss_ctr, a);
    }
    if (!cfg_.lcctl.empty()) {
      auto a = Lcctl();
      a.insert(a.end(), {"run", "--rm", "--rootfs", cfg_.rootfs, Id("lcctl"), "/bin/true"});
      Child(lcctl, &rss_lcctl, a);
    }
    if (!cfg_.ctr.empty())
      Child(ctr_version, nullptr, {cfg_.ctr, "--address", cfg_.address, "version"});
    if (!cfg_.lcctl.empty())
      Child(lcctl_version, nullptr, {cfg_.lcctl, "-a", cfg_.address, "version"});
    if (!cfg_.runc.empty())
      Child(runc, &rss_runc,
            {cfg_.runc, "--root", cfg_.state_dir + "/runc-floor", "run", "--bundle", bundle_,
             Id("runc")});
  }
  Series& tu = Add("lifecycle", "api_thread_user_cpu_mean",
                   "calling thread's user CPU per API lifecycle (rusage, mean)");
  Series& ts = Add("lifecycle", "api_thread_sys_cpu_mean",
                   "calling thread's kernel CPU per API lifecycle (rusage, mean)");
  tu.samples = {thread_user_ns / cfg_.iters};
  ts.samples = {thread_sys_ns / cfg_.iters};
  Emit(tu);
  Emit(ts);
  for (auto* s : {&api, &api_cpu, &api_tcpu, &api_io, &ctr_null, &ctr, &lcctl, &runc, &rss_ctr,
                  &rss_lcctl, &rss_runc, &ctr_version, &lcctl_version})
    Emit(*s);
  for (auto* s : step_series) Emit(*s);
}

void Bench::BenchExec() {
  Series& api = Add("exec", "api", "Exec /bin/true (stdio through FIFOs), Wait, Delete");
  Series& api_null = Add("exec", "api_null_io", "as api with stdio /dev/null");
  Series& lcctl = Add("exec", "lcctl", "lcctl task exec --exec-id");
  Series& ctr = Add("exec", "ctr", "ctr task exec --exec-id", true);
  if (cfg_.lcctl.empty()) lcctl.error = "lcctl not built";
  if (cfg_.ctr.empty()) ctr.error = "ctr not installed";
  const std::string id = Id("exec");
  auto c = client_->NewContainer(Ctx(), id, SpecFor(id, {"sleep", "100000"}), "", RuncOptions{});
  auto t = c->NewTask(Ctx(), "", false, nullptr);
  t->Start(Ctx());
  oci::Process proc = oci::DefaultProcess({.args = {"/bin/true"}});
  auto exec_once = [&](bool stdio) {
    auto p = t->Exec(Ctx(), Id("e"), proc, false,
                     stdio ? cio::Capture(std::make_shared<cio::Captured>()) : nullptr);
    ExitStatus st = p->Wait(Ctx());
    p->Delete(Ctx());
    if (st.exit_code != 0)
      throw Error(ErrorKind::kUnknown, "exec /bin/true exited " + std::to_string(st.exit_code));
  };
  exec_once(true);  // warm-up
  for (int i = 1; i <= cfg_.iters; ++i) {
    Progress("exec", i, cfg_.iters);
    int64_t t0 = NowNs();
    exec_once(true);
    api.samples.push_back(NowNs() - t0);
    if (!cfg_.ctr.empty()) {
      auto a = Ctr();
      a.insert(a.end(), {"task", "exec", "--exec-id", Id("ce"), id, "/bin/true"});
      Child(ctr, nullptr, a);
    }
    t0 = NowNs();
    exec_once(false);
    api_null.samples.push_back(NowNs() - t0);
    if (!cfg_.lcctl.empty()) {
      auto a = Lcctl();
      a.insert(a.end(), {"task", "exec", "--exec-id", Id("le"), id, "/bin/true"});
      Child(lcctl, nullptr, a);
    }
  }
  t->ForceDelete(Ctx());
  c->Delete(Ctx());
  for (auto* s : {&api, &api_null, &lcctl, &ctr}) Emit(*s);
}

void Bench::BenchStats() {
  const int n = cfg_.stats_n;
  const std::string N = std::to_string(n);
  Series& batched = Add("stats", "api_batched", "one StatsMany of " + N + " running containers");
  Series& single = Add("stats", "api_single", N + " Task::GetStats calls, one per container");
  Series& ctr = Add("stats", "ctr", N + " `ctr task metrics` commands, one per container", true);
  if (cfg_.ctr.empty()) ctr.error = "ctr not installed";
  std::vector<std::string> ids;
  std::vector<std::shared_ptr<Container>> cs;
  std::vector<std::shared_ptr<Task>> ts;
  for (int i = 0; i < n; ++i) {
    ids.push_back(Id("st"));
    cs.push_back(client_->NewContainer(Ctx(), ids.back(), SpecFor(ids.back(), {"sleep", "100000"}),
                                       "", RuncOptions{}));
    ts.push_back(cs.back()->NewTask(Ctx(), "", false, nullptr));
    ts.back()->Start(Ctx());
  }
  if (client_->StatsMany(Ctx(), ids).size() != ids.size())
    throw Error(ErrorKind::kUnknown, "StatsMany did not return every running container");
  for (int i = 1; i <= cfg_.iters; ++i) {
    Progress("stats", i, cfg_.iters);
    int64_t t0 = NowNs();
    auto all = client_->StatsMany(Ctx(), ids);
    batched.samples.push_back(NowNs() - t0);
    if (all.size() != ids.size()) throw Error(ErrorKind::kUnknown, "StatsMany lost containers");
    t0 = NowNs();
    for (auto& t : ts) (void)t->GetStats(Ctx());
    single.samples.push_back(NowNs() - t0);
    if (!cfg_.ctr.empty() && ctr.error.empty()) {
      int64_t sum = 0;
      for (const auto& id : ids) {
        auto a = Ctr();
        a.insert(a.end(), {"task", "metrics", id});
        ChildResult r = RunChild(a);
        if (r.exit_code != 0) {
          ctr.error = "`" + Join(a) + "` exited " + std::to_string(r.exit_code) + ": " + r.err;
          break;
        }
        sum += r.wall_ns;
      }
      if (ctr.error.empty()) ctr.samples.push_back(sum);
    }
  }
  for (auto& t : ts) t->ForceDelete(Ctx());
  for (auto& c : cs) c->Delete(Ctx());
  for (auto* s : {&batched, &single, &ctr}) Emit(*s);
}

void Bench::BenchEvents() {
  Series& s = Add("events", "kill_to_exit_event",
                  "Task::Kill(SIGKILL) called to Backend::ProcessEvent(exit) of the init process");
  Series& w = Add("events", "kill_to_wait_return",
                  "reference: Task::Kill(SIGKILL) called to the return of a Task::Wait blocked "
                  "before the kill");
  auto rec = std::make_shared<ExitRecorder>();
  auto client = NewContainerdClient(Opts(rec));
  for (int i = 1; i <= cfg_.event_iters; ++i) {
    Progress("events", i, cfg_.event_iters);
    const std::string id = Id("ev");
    auto c = client->NewContainer(Ctx(), id, SpecFor(id, {"sleep", "100000"}), "", RuncOptions{});
    auto t = c->NewTask(Ctx(), "", false, nullptr);
    t->Start(Ctx());
    // Reference: when a blocked Tasks.Wait (started before the kill) learns of the exit.
    int64_t waited_at = 0;
    std::thread waiter([&] {
      t->Wait(Context::Background());
      waited_at = NowNs();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    int64_t t0 = NowNs();
    t->Kill(Ctx(), SIGKILL);
    auto at = rec->WaitExit(id, std::chrono::seconds(3));
    waiter.join();
    w.samples.push_back(waited_at - t0);
    t->Delete(Ctx());
    c->Delete(Ctx());
    if (!at) {
      s.error =
          "no exit event reached Backend::ProcessEvent within 3 s (events not delivered by this "
          "build)";
      pending_.push_back("event latency: " + s.error);
      std::fprintf(stderr, "\nlcd_bench: %s\n", s.error.c_str());
      break;
    }
    s.samples.push_back(*at - t0);
  }
  Emit(s);
  Emit(w);
}

void Bench::BenchThroughput() {
  // Issue 20: 16 workers sharing one Client against 16 parallel `ctr run --rm --null-io` (the
  // same work: stdio /dev/null), round by round in turn; both also under "throughput16".
  const int P = cfg_.parallel;
  const std::string PS = std::to_string(P);
  Series& api16 = Add("throughput16", "api",
                      "lifecycles per second, " + PS +
                          " threads sharing one Client (as "
                          "throughput api_" +
                          PS + "_workers)",
                      false, kMilliRate);
  Series& ctr16 = Add("throughput16", "ctr",
                      "lifecycles per second, " + PS + " parallel `ctr run --rm --null-io` " +
                          "(one process each, same daemon, same count)",
                      true, kMilliRate);
  Series& cpu_ours = Add("throughput16", "cpu_this_process",
                         "CPU time of this process per lifecycle during the api rounds", false);
  Series& cpu_daemon = Add("throughput16", "cpu_containerd",
                           "CPU time of containerd per lifecycle during the api rounds (from "
                           "/proc; the daemon's pid from <root>/containerd.pid)",
                           false);
  Series& cpu_machine = Add("throughput16", "cpu_machine",
                            "busy CPU time of the whole machine (/proc/stat, every process: "
                            "shims, runc, containerd, this one, and anything else running) per "
                            "lifecycle during the api rounds",
                            false);
  pid_t daemon_pid = 0;
  if (!cfg_.daemon_root.empty()) {
    std::ifstream pf(cfg_.daemon_root + "/containerd.pid");
    pf >> daemon_pid;
  }
  if (cfg_.ctr.empty()) ctr16.error = "ctr not installed";
  for (int workers : {1, 4, P}) {
    const int total = std::max(cfg_.throughput_total, workers);
    Series& s =
        Add("throughput", "api_" + std::to_string(workers) + "_workers",
            "lifecycles per second, " + std::to_string(workers) + " threads sharing one Client, " +
                std::to_string(total) + " lifecycles per round",
            false, kMilliRate);
    Series& lat = Add("throughput", "api_" + std::to_string(workers) + "_workers_latency",
                      "one lifecycle's wall time under that concurrency");
    for (int round = 0; round < cfg_.throughput_rounds; ++round) {
      std::atomic<int> next{0};
      std::mutex mu;
      std::string failure;
      std::vector<int64_t> lats;
      const int64_t c0 = CpuNs(), m0 = MachineBusyNs(),
                    d0 = daemon_pid > 0 ? ProcCpuNs(daemon_pid) : -1;
      int64_t t0 = NowNs();
      std::vector<std::thread> threads;
      for (int w = 0; w < workers; ++w)
        threads.emplace_back([&] {
          while (next.fetch_add(1) < total) {
            int64_t a = NowNs();
            try {
              ApiLifecycle(false);
            } catch (const std::exception& e) {
              std::lock_guard l(mu);
              failure = e.what();
              return;
            }
            std::lock_guard l(mu);
            lats.push_back(NowNs() - a);
          }
        });
      for (auto& th : threads) th.join();
      int64_t wall = NowNs() - t0;
      if (!failure.empty())
        throw Error(ErrorKind::kUnknown, "throughput worker failed: " + failure);
      s.samples.push_back(static_cast<int64_t>(std::llround(double(total) * 1e12 / double(wall))));
      lat.samples.insert(lat.samples.end(), lats.begin(), lats.end());
      if (workers != P) continue;
      api16.samples.push_back(s.samples.back());
      cpu_ours.samples.push_back((CpuNs() - c0) / total);
      cpu_machine.samples.push_back((MachineBusyNs() - m0) / total);
      if (d0 >= 0) cpu_daemon.samples.push_back((ProcCpuNs(daemon_pid) - d0) / total);
      if (!ctr16.error.empty()) continue;
      std::mutex emu;
      int64_t cwall = Parallel(total, P, [&](int) {
        auto a = Ctr();
        a.insert(a.end(), {"run", "--rm", "--null-io", "--runc-root", cfg_.runc_root, "--rootfs",
                           cfg_.rootfs, Id("ctrp"), "/bin/true"});
        ChildResult r = RunChild(a);
        if (r.exit_code != 0) {
          std::lock_guard l(emu);
          ctr16.error = "`" + Join(a) + "` exited " + std::to_string(r.exit_code) + ": " + r.err;
        }
      });
      if (ctr16.error.empty())
        ctr16.samples.push_back(
            static_cast<int64_t>(std::llround(double(total) * 1e12 / double(cwall))));
    }
    Emit(s);
    Emit(lat);
  }
  Emit(api16);
  Emit(ctr16);
  Emit(cpu_ours);
  Emit(cpu_daemon);
  Emit(cpu_machine);
}

int64_t Bench::Parallel(int n, int workers, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  std::mutex mu;
  std::string failure;
  int64_t t0 = NowNs();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w)
    threads.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < n;) {
        try {
          fn(i);
        } catch (const std::exception& e) {
          std::lock_guard l(mu);
          if (failure.empty()) failure = e.what();
          next = n;  // the others stop at their next item
          return;
        }
      }
    });
  for (auto& th : threads) th.join();
  int64_t wall = NowNs() - t0;
  if (!failure.empty()) throw Error(ErrorKind::kUnknown, "parallel worker failed: " + failure);
  return wall;
}

void Bench::Teardown(Client& client, int workers) {
  auto ids = client.ListContainers(Ctx());
  Parallel(static_cast<int>(ids.size()), workers, [&](int i) {
    auto c = client.LoadContainer(Ctx(), ids[i]);
    try {
      c->GetTask(Ctx())->ForceDelete(Ctx());
    } catch (const Error& e) {
      if (!IsNotFound(e)) throw;
    }
    c->Delete(Ctx());
  });
}

// Issue 20, CPU per lifecycle in instructions: run under
//   valgrind --tool=callgrind --instr-atstart=no lcd_bench run --only instr ...
// Instrumentation is on only around instr_n lifecycles after a warm-up, so the count excludes
// start-up, connection and the warm-up's first-use costs. The Client has a Backend (as moby's
// has), so its event reader and dispatchers are counted too; every thread of the process is.
// Outside valgrind the toggles do nothing and the series give the CPU time with a Backend.
void Bench::BenchInstr() {
  // Experiment (LCD_BENCH_ABSL_NO_DEADLOCK_CHECK=1): Debian's abseil checks every absl::Mutex
  // (gRPC's) for lock-order cycles; switch that off process-wide, as a release build of abseil
  // does, to count what it costs.
  if (const char* e = std::getenv("LCD_BENCH_ABSL_NO_DEADLOCK_CHECK"); e && *e == '1') {
    using Fn = void (*)(int);
    auto fn = reinterpret_cast<Fn>(dlsym(
        RTLD_DEFAULT, "_ZN4absl7debian329SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE"));
    if (fn == nullptr)
      throw Error(ErrorKind::kNotFound, "absl::SetMutexDeadlockDetectionMode not found");
    fn(0);  // absl::OnDeadlockCycle::kIgnore
  }
  auto rec = std::make_shared<ExitRecorder>();
  auto client = NewContainerdClient(Opts(rec));
  auto one = [&](int64_t* cpu) {
    std::string id;
    ApiLifecycle(false, cpu, nullptr, nullptr, client.get(), &id);
    // The exit's delivery belongs to the lifecycle: wait for it inside the counted span.
    if (!rec->WaitExit(id, std::chrono::seconds(30)))
      throw Error(ErrorKind::kUnknown, "no exit event for " + id + " within 30 s");
  };
  for (int i = 0; i < 3; ++i) one(nullptr);  // warm-up
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Series& cpu = Add("instr", "api_cpu_with_backend",
                    "CPU time of this process (all threads) per lifecycle, Client with a Backend "
                    "(exit event awaited); under valgrind this is valgrind's time");
  Series& wall = Add("instr", "api_wall_with_backend", "wall time of those lifecycles");
  Series& tot =
      Add("instr", "counted_lifecycles",
          std::string("lifecycles inside the callgrind toggles (") +
              (LCD_HAVE_CALLGRIND ? "callgrind.h present" : "no callgrind.h: no-op") + ")",
          false, "lifecycles");
  Series& sw = Add("instr", "context_switches",
                   "context switches of this process's threads per lifecycle (from "
                   "/proc/self/task; by thread name in the JSON's `what`)",
                   false, "switches");
  const auto sw0 = ThreadSwitches();
  CALLGRIND_ZERO_STATS;
  CALLGRIND_START_INSTRUMENTATION;
  for (int i = 1; i <= cfg_.instr_n; ++i) {
    int64_t c = 0, t0 = NowNs();
    one(&c);
    wall.samples.push_back(NowNs() - t0);
    cpu.samples.push_back(c);
  }
  CALLGRIND_STOP_INSTRUMENTATION;
  const auto sw1 = ThreadSwitches();
  int64_t all = 0;
  std::string by;
  for (const auto& [name, n] : sw1) {
    auto it = sw0.find(name);
    const int64_t d = n - (it == sw0.end() ? 0 : it->second);
    if (d <= 0) continue;
    all += d;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s%s %.1f", by.empty() ? "" : ", ", name.c_str(),
                  double(d) / cfg_.instr_n);
    by += buf;
  }
  sw.samples = {all / cfg_.instr_n};
  sw.what += ": " + by;
  tot.samples = {cfg_.instr_n};
  Emit(cpu);
  Emit(wall);
  Emit(sw);
  Emit(tot);
}

// A Backend that keeps the library's part of each task event's latency: the library stamps
// EventInfo::received when the event reached it (containerd's stream read it), so now minus
// that is the reader's and the dispatcher's work, containerd's excluded. For exits also
// exited_at (the shim's clock) to ProcessEvent.
class LatencyRecorder final : public Backend {
 public:
  void ProcessEvent(const std::string& container_id, EventType type,
                    const EventInfo& info) override {
    const auto now = Clock::now();
    const auto sys = std::chrono::system_clock::now();
    lcd_bench_probe::MaybeRenice();
    if (type != EventType::kCreate && type != EventType::kStart && type != EventType::kExit) return;
    std::lock_guard l(mu_);
    if (info.received != Clock::time_point{}) {
      const int64_t ours =
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - info.received).count();
      (type == EventType::kExit ? ours_exit : ours_other).push_back(ours);
      trace.push_back({info.received.time_since_epoch().count(), now.time_since_epoch().count(),
                       static_cast<int>(type), container_id, static_cast<long>(gettid())});
      // The first event a dispatcher thread delivers: that thread was started for it.
      if (threads.insert(std::this_thread::get_id()).second) new_thread.push_back(ours);
    } else {
      ++unstamped;
    }
    if (type == EventType::kExit && info.process_id == container_id &&
        info.exited_at != SystemTime{})
      total_exit.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(sys - info.exited_at).count());
  }
  std::mutex mu_;
  std::vector<int64_t> ours_exit, ours_other, total_exit, new_thread;
  std::set<std::thread::id> threads;  // dispatcher threads seen
  struct Trace {
    int64_t received, delivered;
    int type;
    std::string container_id;
    long tid;
  };
  std::vector<Trace> trace;  // every event (LCD_BENCH_EVENT_TRACE=FILE writes it)
  int unstamped = 0;
};

// Issue 20, the library's part of the event latency under `parallel` concurrent lifecycles.
void Bench::BenchEventLatency() {
  Series& all = Add("event_latency", "library_part",
                    "event read from containerd's stream (EventInfo::received) to "
                    "Backend::ProcessEvent called, create/start/exit, " +
                        std::to_string(cfg_.parallel) + " concurrent lifecycles");
  Series& ex = Add("event_latency", "library_part_exit", "as library_part, exit events only");
  Series& dpn = Add("event_latency", "library_part_new_thread",
                    "library_part of the events each delivered first by a dispatcher thread "
                    "(a thread the dispatcher started, or one of its first 4)");
  Series& floor = Add("event_latency", "thread_handoff_floor",
                      "reference: one thread of this process stamps and notifies a condition "
                      "variable, another wakes (every 2 ms during the run): the scheduler's part "
                      "of any hand-off from the stream reader to a dispatcher on this machine");
  Series& tot = Add("event_latency", "exited_at_to_process_event",
                    "reference: TaskExit.exited_at (the shim's clock) to ProcessEvent: shim, "
                    "containerd's publish and the stream included");
  auto rec = std::make_shared<LatencyRecorder>();
  auto client = NewContainerdClient(Opts(rec));
  ApiLifecycle(false, nullptr, nullptr, nullptr, client.get());  // warm-up
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    std::lock_guard l(rec->mu_);
    rec->ours_exit.clear();
    rec->ours_other.clear();
    rec->total_exit.clear();
    rec->new_thread.clear();
    rec->threads.clear();
    rec->trace.clear();
    rec->unstamped = 0;
  }
  // The hand-off floor, measured alongside.
  std::mutex hmu;
  std::condition_variable hcv;
  int64_t stamp = 0;
  bool stop = false;
  std::vector<int64_t> handoffs;
  std::thread waker([&] {
    std::unique_lock l(hmu);
    for (;;) {
      hcv.wait(l, [&] { return stop || stamp != 0; });
      if (stop) return;
      handoffs.push_back(NowNs() - stamp);
      stamp = 0;
    }
  });
  std::thread ticker([&] {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      std::lock_guard l(hmu);
      if (stop) return;
      if (stamp == 0) stamp = NowNs();
      hcv.notify_one();
    }
  });
  try {
    Parallel(cfg_.latency_n, cfg_.parallel, [&](int i) {
      if (i % cfg_.parallel == 0) Progress("event_lat", i, cfg_.latency_n);
      ApiLifecycle(false, nullptr, nullptr, nullptr, client.get());
    });
  } catch (...) {
    {
      std::lock_guard l(hmu);
      stop = true;
    }
    hcv.notify_all();
    ticker.join();
    waker.join();
    throw;
  }
  {
    std::lock_guard l(hmu);
    stop = true;
  }
  hcv.notify_all();
  ticker.join();
  waker.join();
  floor.samples = std::move(handoffs);
  Progress("event_lat", cfg_.latency_n, cfg_.latency_n);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the last events
  {
    std::lock_guard l(rec->mu_);
    ex.samples = rec->ours_exit;
    all.samples = rec->ours_exit;
    all.samples.insert(all.samples.end(), rec->ours_other.begin(), rec->ours_other.end());
    tot.samples = rec->total_exit;
    if (const char* f = std::getenv("LCD_BENCH_EVENT_TRACE"); f && *f) {
      std::ofstream out(f);
      out << "received_ns delivered_ns type container tid\n";
      for (const auto& t : rec->trace)
        out << t.received << ' ' << t.delivered << ' ' << t.type << ' ' << t.container_id << ' '
            << t.tid << '\n';
    }
    dpn.samples = rec->new_thread;
    dpn.what += " (" + std::to_string(rec->threads.size()) + " dispatcher threads delivered)";
    if (all.samples.empty())
      all.error = ex.error = "no event carried EventInfo::received";
    else if (rec->unstamped)
      all.what += " (" + std::to_string(rec->unstamped) + " events had no EventInfo::received)";
  }
  client.reset();
  for (auto* s : {&all, &ex, &dpn, &floor, &tot}) Emit(*s);
}

// The shims of namespace `ns` still running (containerd-shim-runc-v2 -namespace NS ...).
int ShimsOf(const std::string& ns) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find("containerd-shim") == std::string::npos) continue;
    if (cmd.find(std::string("-namespace") + '\0' + ns + '\0') != std::string::npos) ++n;
  }
  return n;
}

// Issue 20, scale: scale_n running busybox `sleep` containers (no stdio) under one Client with
// a Backend, created by `parallel` workers; batched stats and list of all of them; the
// process's RSS; the same count through `ctr run -d` in a namespace of its own; tear-down
// checked (no container listed by ctr, no shim left).
void Bench::BenchScale() {
  const int n = cfg_.scale_n, P = cfg_.parallel;
  const std::string N = std::to_string(n), PS = std::to_string(P);
  Series& create = Add("scale", "api_create",
                       N + " containers (NewContainer, NewTask, Start of `sleep`) by " + PS +
                           " threads sharing one Client, in lifecycles per second",
                       false, kMilliRate);
  Series& ctr = Add("scale", "ctr_create",
                    N + " `ctr run -d --null-io` (" + PS + " in parallel), lifecycles per second",
                    true, kMilliRate);
  Series& stats = Add("scale_stats", "api", "one StatsMany of all " + N + " running containers");
  Series& stats_cpu = Add("scale_stats", "api_cpu",
                          "CPU time of this process during that StatsMany (decoding included)");
  constexpr int kSplit = 8;
  Series& split = Add("scale_stats", "api_split8",
                      "reference for a change in FetchStats: " + std::to_string(kSplit) +
                          " concurrent StatsMany of " + N + "/" + std::to_string(kSplit) +
                          " containers each (containerd asks the shims one after another "
                          "within one Tasks.Metrics)");
  Series& direct = Add("scale_stats", "cgroupfs_reference",
                       "reference for reading the stats without the daemon: open+read (no "
                       "parsing) of 11 cgroup v1 files per container (memory.stat, usage, "
                       "limit, max usage; cpuacct.usage, cpuacct.stat, cpu.stat; pids.current, "
                       "pids.max; blkio io_service_bytes, io_serviced) of all " +
                           N);
  Series& list = Add("scale_list", "api", "one ListContainers of the " + N + " containers");
  Series& list_cpu = Add("scale_list", "api_cpu",
                         "CPU time of this process during that ListContainers (containerd sends "
                         "every record, specs included)");
  Series& rss = Add("scale_rss", "client", "", false, "kB");
  Series& rss_delta = Add("scale_rss", "delta",
                          "VmRSS growth: holding " + N +
                              " running containers minus before "
                              "the Client",
                          false, "kB");
  Series& down = Add("scale_teardown", "api",
                     "ForceDelete + Delete of all " + N + " by " + PS + " threads, per second",
                     false, kMilliRate);
  Series& left = Add("scale_teardown", "left",
                     "containers listed by ctr plus shims left in both namespaces (must be 0)",
                     false, "things");
  if (cfg_.ctr.empty()) ctr.error = "ctr not installed";
  auto rate = [&](int64_t wall) {
    return static_cast<int64_t>(std::llround(double(n) * 1e12 / double(wall)));
  };
  auto ctr_count = [&](const std::string& ns) {
    if (cfg_.ctr.empty()) return 0;
    std::string cmd = cfg_.ctr + " --address " + cfg_.address + " -n " + ns + " c ls -q";
    FILE* f = popen(cmd.c_str(), "r");
    if (!f) return -1;
    int lines = 0;
    for (int ch; (ch = std::fgetc(f)) != EOF;) lines += ch == '\n';
    return pclose(f) == 0 ? lines : -1;
  };

  long rss_before = VmRssKb();
  {
    auto rec = std::make_shared<ExitRecorder>();
    auto client = NewContainerdClient(Opts(rec));
    long rss_client = VmRssKb();
    std::vector<std::string> ids(n);
    std::vector<std::shared_ptr<Container>> cs(n);
    std::vector<std::shared_ptr<Task>> ts(n);
    for (auto& id : ids) id = Id("sc");
    int64_t wall = Parallel(n, P, [&](int i) {
      if (i % 50 == 0) Progress("scale", i, n);
      cs[i] = client->NewContainer(Ctx(), ids[i], SpecFor(ids[i], {"/bin/sleep", "100000"}), "",
                                   RuncOptions{});
      ts[i] = cs[i]->NewTask(Ctx(), "", false, nullptr);
      ts[i]->Start(Ctx());
    });
    Progress("scale", n, n);
    create.samples.push_back(rate(wall));
    long rss_holding = VmRssKb();
    for (int i = 0; i < std::max(cfg_.iters, 5); ++i) {
      int64_t t0 = NowNs(), c0 = CpuNs();
      auto all = client->StatsMany(Ctx(), ids);
      stats.samples.push_back(NowNs() - t0);
      stats_cpu.samples.push_back(CpuNs() - c0);
      std::vector<std::vector<std::string>> parts(kSplit);
      for (int k = 0; k < n; ++k) parts[k % kSplit].push_back(ids[k]);
      std::atomic<size_t> got{0};
      split.samples.push_back(Parallel(kSplit, kSplit, [&](int k) {
        if (!parts[k].empty()) got += client->StatsMany(Ctx(), parts[k]).size();
      }));
      if (got != ids.size())
        throw Error(ErrorKind::kUnknown,
                    "split StatsMany returned " + std::to_string(got) + " of " + N + " containers");
      static const std::pair<const char*, const char*> kFiles[] = {
          {"memory", "memory.stat"},
          {"memory", "memory.usage_in_bytes"},
          {"memory", "memory.limit_in_bytes"},
          {"memory", "memory.max_usage_in_bytes"},
          {"cpuacct", "cpuacct.usage"},
          {"cpuacct", "cpuacct.stat"},
          {"cpu", "cpu.stat"},
          {"pids", "pids.current"},
          {"pids", "pids.max"},
          {"blkio", "blkio.throttle.io_service_bytes"},
          {"blkio", "blkio.throttle.io_serviced"}};
      t0 = NowNs();
      size_t read_ok = 0;
      char buf[8192];
      for (const auto& id : ids)
        for (const auto& [ctl, file] : kFiles) {
          const std::string path =
              std::string("/sys/fs/cgroup/") + ctl + "/" + cfg_.ns + "/" + id + "/" + file;
          int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
          if (fd < 0) continue;
          if (read(fd, buf, sizeof buf) >= 0) ++read_ok;
          close(fd);
        }
      direct.samples.push_back(NowNs() - t0);
      if (read_ok != ids.size() * std::size(kFiles))
        direct.error = "read " + std::to_string(read_ok) + " of " +
                       std::to_string(ids.size() * std::size(kFiles)) +
                       " cgroup files (not cgroup v1 at /sys/fs/cgroup/<ctl>/<ns>/<id>?)";
      if (all.size() != ids.size())
        throw Error(ErrorKind::kUnknown, "StatsMany returned " + std::to_string(all.size()) +
                                             " of " + N + " containers");
      t0 = NowNs();
      c0 = CpuNs();
      auto listed = client->ListContainers(Ctx());
      list.samples.push_back(NowNs() - t0);
      list_cpu.samples.push_back(CpuNs() - c0);
      if (listed.size() != ids.size())
        throw Error(ErrorKind::kUnknown,
                    "ListContainers returned " + std::to_string(listed.size()) + " of " + N);
    }
    long rss_after = VmRssKb();
    rss.what = "VmRSS of this process (samples: before the Client, Client connected, holding " + N +
               " running containers, after the stats and lists)";
    rss.samples = {rss_before, rss_client, rss_holding, rss_after};
    rss_delta.samples = {rss_holding - rss_before};
    ts.clear();
    cs.clear();
    wall = Parallel(n, P, [&](int i) {
      auto c = client->LoadContainer(Ctx(), ids[i]);
      c->GetTask(Ctx())->ForceDelete(Ctx());
      c->Delete(Ctx());
    });
    down.samples.push_back(rate(wall));
  }
  // ctr's own containers, same daemon, same count, a namespace of their own (cleaned by us).
  const std::string ctr_ns = cfg_.ns + "-ctr";
  if (ctr.error.empty()) {
    std::mutex emu;
    int64_t wall = Parallel(n, P, [&](int i) {
      if (i % 50 == 0) Progress("scale ctr", i, n);
      std::vector<std::string> a = {cfg_.ctr,      "--address",    cfg_.address, "-n",
                                    ctr_ns,        "run",          "-d",         "--null-io",
                                    "--runc-root", cfg_.runc_root, "--rootfs",   cfg_.rootfs,
                                    Id("sctr"),    "/bin/sleep",   "100000"};
      ChildResult r = RunChild(a);
      if (r.exit_code != 0) {
        std::lock_guard l(emu);
        if (ctr.error.empty())
          ctr.error = "`" + Join(a) + "` exited " + std::to_string(r.exit_code) + ": " + r.err;
      }
    });
    Progress("scale ctr", n, n);
    if (ctr.error.empty()) ctr.samples.push_back(rate(wall));
    ClientOptions o = Opts();
    o.ns = ctr_ns;
    auto cc = NewContainerdClient(o);
    Teardown(*cc, P);
  }
  // Nothing left: ctr lists no container, no shim of either namespace runs (a shim exits just
  // after its task's delete: allow it a few seconds).
  int leftover = 0;
  for (int tries = 0; tries < 50; ++tries) {
    leftover = std::max(0, ctr_count(cfg_.ns)) + std::max(0, ctr_count(ctr_ns)) + ShimsOf(cfg_.ns) +
               ShimsOf(ctr_ns);
    if (leftover == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  left.samples = {leftover};
  if (leftover != 0)
    left.error = std::to_string(leftover) + " containers or shims left after the tear-down";
  for (auto* s : {&create, &ctr, &stats, &stats_cpu, &split, &direct, &list, &list_cpu, &rss,
                  &rss_delta, &down, &left})
    Emit(*s);
}

// ---------------------------------------------------------------------------------------------
// Table

std::string Fmt(double v, const std::string& unit) {
  char buf[64];
  if (std::isnan(v)) return "-";
  if (unit == "ns") {
    if (v >= 1e9)
      std::snprintf(buf, sizeof buf, "%.2f s", v / 1e9);
    else if (v >= 1e6)
      std::snprintf(buf, sizeof buf, "%.2f ms", v / 1e6);
    else
      std::snprintf(buf, sizeof buf, "%.1f us", v / 1e3);
  } else if (unit == kMilliRate) {
    std::snprintf(buf, sizeof buf, "%.2f lifecycles/s", v / 1000.0);
  } else if (unit == "kB") {
    std::snprintf(buf, sizeof buf, "%.1f MB", v / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, unit.c_str());
  }
  return buf;
}

const Series* Find(const std::deque<Series>& all, const std::string& bench,
                   const std::string& variant) {
  for (const auto& s : all)
    if (s.bench == bench && s.variant == variant && !s.samples.empty()) return &s;
  return nullptr;
}

double Median(const Series* s) { return s ? Percentile(s->samples, 0.5) : NAN; }

// Series whose samples are successive readings (RSS at points of a run), not repetitions.
bool Snapshot(const Series& s) { return s.bench == "rss" || s.bench == "scale_rss"; }

void Bench::Report() {
  // Ratios: each row against every peer of its group (ctr first, runc the floor).
  std::ostringstream md;
  md << "| benchmark | variant | n | median | p90 | ratio to peers | what one sample is |\n"
     << "| --- | --- | ---: | ---: | ---: | --- | --- |\n";
  json rows = json::array();
  for (const auto& s : series_) {
    if (Snapshot(s)) continue;
    std::string ratios;
    json jr = json::object();
    if (!s.samples.empty()) {
      for (const auto& p : series_) {
        if (&p == &s || !p.peer || p.bench != s.bench || p.samples.empty() || p.unit != s.unit)
          continue;
        if (s.variant.find("_cpu") != std::string::npos)
          continue;  // CPU is not comparable to wall time
        double r = Percentile(s.samples, 0.5) / Percentile(p.samples, 0.5);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.3gx %s", r, p.variant.c_str());
        ratios += (ratios.empty() ? "" : ", ") + std::string(buf);
        jr[p.variant] = r;
      }
    }
    md << "| " << s.bench << " | " << s.variant << (s.peer ? " (peer)" : "") << " | "
       << s.samples.size() << " | "
       << (s.samples.empty() ? "-" : Fmt(Percentile(s.samples, 0.5), s.unit)) << " | "
       << (s.samples.empty() ? "-" : Fmt(Percentile(s.samples, 0.9), s.unit)) << " | "
       << (s.error.empty() ? ratios : "not measured: " + s.error) << " | " << s.what << " |\n";
    rows.push_back({{"bench", s.bench}, {"variant", s.variant}, {"ratios", jr}});
  }
  for (const auto& s : series_) {
    if (!Snapshot(s)) continue;
    md << "| " << s.bench << " | " << s.variant << " | " << s.samples.size() << " | "
       << (s.samples.empty() ? "-" : Fmt(double(s.samples.back()), s.unit)) << " | - | | "
       << s.what;
    if (s.samples.size() > 1) {
      md << ": ";
      for (size_t i = 0; i < s.samples.size(); ++i)
        md << (i ? ", " : "") << Fmt(double(s.samples[i]), s.unit);
    }
    md << " |\n";
  }

  // Targets of issue 8.
  struct Target {
    std::string name;
    double value;
    double limit;
    std::string unit;
    bool at_least = false;  // met when value >= limit (else value <= limit)
  };
  auto ratio = [&](const char* b, const char* ours, const char* peer) {
    return Median(Find(series_, b, ours)) / Median(Find(series_, b, peer));
  };
  const Series* ev = Find(series_, "events", "kill_to_exit_event");
  const Series* ours = Find(series_, "event_latency", "library_part");
  std::vector<Target> targets = {
      {"lifecycle via lcctl <= 0.9x ctr run --rm", ratio("lifecycle", "lcctl", "ctr"), 0.9, "x"},
      {"lifecycle via the API <= 0.85x ctr run --rm (both stdio /dev/null)",
       ratio("lifecycle", "api", "ctr_null_io"), 0.85, "x"},
      {"lifecycle via the API (stdio FIFOs) <= 0.85x ctr run --rm",
       ratio("lifecycle", "api_stdio", "ctr"), 0.85, "x"},
      {"exec via the API <= 0.9x ctr task exec", ratio("exec", "api", "ctr"), 0.9, "x"},
      {"batched stats of " + std::to_string(cfg_.stats_n) + " <= 0.1x " +
           std::to_string(cfg_.stats_n) + " ctr task metrics",
       ratio("stats", "api_batched", "ctr"), 0.1, "x"},
      {"event latency p99 < 5 ms", ev ? Percentile(ev->samples, 0.99) / 1e6 : NAN, 5.0, "ms"},
      {"lcctl peak RSS <= 0.5x ctr's", ratio("footprint", "lcctl", "ctr"), 0.5, "x"},
      {"library CPU per lifecycle < 1 ms (whole process, gRPC included)",
       Median(Find(series_, "lifecycle", "api_cpu")) / 1e6, 1.0, "ms"},
      // Issue 20.
      {"library's part of the event latency p99 <= 1 ms (" + std::to_string(cfg_.parallel) +
           " concurrent lifecycles)",
       ours ? Percentile(ours->samples, 0.99) / 1e6 : NAN, 1.0, "ms"},
      {std::to_string(cfg_.parallel) + " workers sharing one Client >= 1.5x " +
           std::to_string(cfg_.parallel) + " parallel ctr run --rm",
       ratio("throughput16", "api", "ctr"), 1.5, "x", true},
      {"StatsMany of " + std::to_string(cfg_.scale_n) + " running containers <= 100 ms",
       Median(Find(series_, "scale_stats", "api")) / 1e6, 100.0, "ms"},
      {"ListContainers of " + std::to_string(cfg_.scale_n) + " containers <= 20 ms",
       Median(Find(series_, "scale_list", "api")) / 1e6, 20.0, "ms"},
      {"scale tear-down leaves nothing (containers + shims)",
       Median(Find(series_, "scale_teardown", "left")), 0.0, ""},
  };
  md << "\n| target | measured | result |\n| --- | ---: | --- |\n";
  json jt = json::array();
  for (const auto& t : targets) {
    const bool met = t.at_least ? t.value >= t.limit : t.value <= t.limit;
    std::string result = std::isnan(t.value) ? "pending (not measured)" : met ? "met" : "missed";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g %s", t.value, t.unit.c_str());
    md << "| " << t.name << " | " << (std::isnan(t.value) ? "-" : buf) << " | " << result << " |\n";
    jt.push_back({{"target", t.name},
                  {"limit", t.limit},
                  {"unit", t.unit},
                  {"value", std::isnan(t.value) ? json(nullptr) : json(t.value)},
                  {"result", result}});
  }
  std::cout << "\n" << md.str() << std::flush;
  if (!cfg_.markdown.empty()) std::ofstream(cfg_.markdown) << md.str();
  if (!cfg_.results.empty()) {
    json all = json::array();
    for (const auto& s : series_) all.push_back(SeriesJson(s));
    char date[64];
    std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    json doc{{"date", date},
             {"meta", cfg_.meta},
             {"loadavg_at_start", {load_start_[0], load_start_[1], load_start_[2]}},
             {"loadavg_at_end", {load[0], load[1], load[2]}},
             {"nproc", std::thread::hardware_concurrency()},
             {"iterations", cfg_.iters},
             {"event_iterations", cfg_.event_iters},
             {"namespace", cfg_.ns},
             {"address", cfg_.address},
             {"runc_root", cfg_.runc_root},
             {"rootfs", cfg_.rootfs},
             {"series", all},
             {"ratios", rows},
             {"targets", jt},
             {"pending", pending_}};
    std::ofstream(cfg_.results) << doc.dump(1) << "\n";
  }
}

int Bench::Run() {
  getloadavg(load_start_, 3);
  if (!cfg_.jsonl.empty()) jsonl_ = std::make_unique<std::ofstream>(cfg_.jsonl);
  std::filesystem::create_directories(cfg_.state_dir);
  BuildBusyboxRootfs(cfg_.rootfs);
  PrepareBundle();
  if (cfg_.want("rss")) BenchRss();  // first: least disturbed heap
  client_ = NewContainerdClient(Opts());
  Clean();
  if (cfg_.lcctl.empty())
    pending_.push_back("lcctl rows: lcctl is not built (no tools/lcctl main yet)");
  try {
    if (cfg_.want("lifecycle")) BenchLifecycle();
    if (cfg_.want("exec")) BenchExec();
    if (cfg_.want("stats")) BenchStats();
    if (cfg_.want("events")) BenchEvents();
    if (cfg_.want("throughput")) BenchThroughput();
    if (cfg_.want("event_latency")) BenchEventLatency();
    if (cfg_.named("scale")) BenchScale();
    if (cfg_.named("instr")) BenchInstr();
  } catch (...) {
    // A failed benchmark leaves nothing either: its containers (also those of the scale
    // benchmark's ctr namespace) and the state directory go before the error is reported.
    try {
      Clean();
      if (cfg_.named("scale")) {
        ClientOptions o = Opts();
        o.ns = cfg_.ns + "-ctr";
        auto cc = NewContainerdClient(o);
        Teardown(*cc, cfg_.parallel);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lcd_bench: cleaning up after the failure: %s\n", e.what());
    }
    client_.reset();
    std::error_code ec;
    std::filesystem::remove_all(cfg_.state_dir, ec);
    throw;
  }
  Clean();
  Report();
  std::error_code ec;
  std::filesystem::remove_all(cfg_.state_dir, ec);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// daemon-start / daemon-stop

int DaemonStart(const std::string& root) {
  SupervisorOptions o;
  o.root = root;
  o.detached = true;
  o.watch = false;
  Supervisor sup(o);
  std::printf("%s\n", sup.address().c_str());
  return 0;
}

int DaemonStop(const std::string& root, const std::vector<std::string>& namespaces) {
  const std::string sock = Supervisor::AddressFor(root);
  if (access(sock.c_str(), F_OK) == 0) {
    for (const auto& ns : namespaces) {
      try {
        ClientOptions o;
        o.address = sock;
        o.ns = ns;
        o.state_dir = root + "/bench-stop";
        o.connect_timeout = std::chrono::milliseconds(2000);
        auto client = NewContainerdClient(o);
        Context ctx;
        for (const auto& id : client->ListContainers(ctx)) {
          auto c = client->LoadContainer(ctx, id);
          try {
            c->GetTask(ctx)->ForceDelete(ctx);
          } catch (const Error& e) {
            if (!IsNotFound(e)) throw;
          }
          c->Delete(ctx);
        }
      } catch (const Error& e) {
        std::fprintf(stderr, "lcd_bench daemon-stop: cleaning namespace %s: %s\n", ns.c_str(),
                     e.what());
      }
    }
  }
  bool was = Supervisor::StopDaemon(root);
  std::printf("containerd under %s %s\n", root.c_str(), was ? "stopped" : "was not running");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Usage();
  std::signal(SIGPIPE, SIG_IGN);
  std::string cmd = argv[1];
  SetLogSink([](LogLevel level, std::string_view msg) {
    if (level >= LogLevel::kWarning)
      std::fprintf(stderr, "lcd_bench: library: %.*s\n", int(msg.size()), msg.data());
  });
  try {
    if (cmd == "daemon-start" && argc == 3) return DaemonStart(argv[2]);
    if (cmd == "daemon-stop" && argc >= 3) {
      std::vector<std::string> ns(argv + 3, argv + argc);
      if (ns.empty()) ns.push_back("lcdbench");
      return DaemonStop(argv[2], ns);
    }
    if (cmd == "run") return Bench(ParseRun(argc - 2, argv + 2)).Run();
  } catch (const Error& e) {
    std::fprintf(stderr, "lcd_bench %s: %s (%s)\n", cmd.c_str(), e.what(),
                 std::string(ToString(e.kind())).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lcd_bench %s: %s\n", cmd.c_str(), e.what());
    return 1;
  }
  Usage();
}
