// The direct backend's benchmark driver, run by bench/direct_bench.sh (which alternates it with
// runc, ctr, podman and lcctl). Each sample is printed as one line "<name> <value>" (ns or kB);
// the script computes medians and ratios. Only the public API (NewDirectClient,
// NewContainerdClient) is used, so the figures are what a program embedding the library gets.
//
//   direct_bench lifecycle --rootfs DIR [--backend direct|containerd] [--iters N] [common]
//       N lifecycles of /bin/true (NewContainer, NewTask with stdio /dev/null, Start, Wait,
//       task Delete, container Delete), after one warm-up: "lifecycle <ns>" each, then
//       "step_<name> <ns>" for each step (new_container, new_task, start, wait, delete_task,
//       delete_container). Client creation and process start-up are not in the samples.
//   direct_bench exec --rootfs DIR [--iters N] [--runc BIN] [common]
//       one direct-backend container running `sleep`; then, alternating which goes first, an
//       API Exec of /bin/true (stdio /dev/null, Wait, Delete) and `runc --root R exec ID
//       /bin/true` on the same container: "exec_api <ns>" and "exec_runc <ns>" each.
//   direct_bench rss --rootfs DIR [--settle-ms N] [common]
//       one idle direct-backend container (`sleep`); after it settled, its lcd-monitor's
//       "monitor_pid P", "rss_kb K" (VmRSS) and "pss_kb K" (smaps_rollup Pss); then removed.
//   direct_bench stats --rootfs DIR [--backend direct|containerd] [--n N] [--iters N] [common]
//       N containers running `sleep` (default 100), made by one Client; after one warm-up
//       StatsMany of all, "stats_many <ns>" and "stats_many_cpu <ns>" (this process's CPU time)
//       for each of --iters StatsMany of all N; then all are removed.
//   direct_bench bundle --rootfs DIR --out DIR --id ID -- ARGS...
//       writes DIR/config.json: the library's DefaultSpec for ARGS (what both backends give
//       runc), for `runc run` on the same bundle.
// common: --root DIR (direct state, default /run/lcdbench-direct), --ns NS (default lcdbench),
//         --address SOCK --runc-root DIR (containerd backend).
// Exit status: 0, or 1 with the error on stderr (whatever was created is removed first).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "libcontainerd/client.h"
#include "libcontainerd/containerd.h"
#include "libcontainerd/direct.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/defaults.h"
#include "libcontainerd/oci/spec.h"

extern char** environ;

using namespace libcontainerd;

namespace {

struct Config {
  std::string mode;
  std::string backend = "direct";
  std::string root = "/run/lcdbench-direct";
  std::string ns = "lcdbench";
  std::string rootfs;
  std::string address;
  std::string runc_root;
  std::string runc = "runc";
  std::string out;
  std::string id;
  std::vector<std::string> args;
  int iters = 10;
  int settle_ms = 2000;
  int n = 100;
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "direct_bench: " << why
            << "\nusage: direct_bench lifecycle|exec|rss|stats --rootfs DIR"
               " [--backend direct|containerd] [--iters N] [--n N] [--root DIR] [--ns NS]"
               " [--address SOCK] [--runc-root DIR] [--runc BIN] [--settle-ms N]\n"
               "       direct_bench bundle --rootfs DIR --out DIR --id ID -- ARGS...\n";
  std::exit(2);
}

Config Parse(int argc, char** argv) {
  if (argc < 2) Usage("no mode");
  Config c;
  c.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (++i; i < argc; ++i) c.args.emplace_back(argv[i]);
      break;
    }
    if (i + 1 >= argc) Usage(a + " needs a value");
    std::string v = argv[++i];
    if (a == "--backend") {
      c.backend = v;
    } else if (a == "--root") {
      c.root = v;
    } else if (a == "--ns") {
      c.ns = v;
    } else if (a == "--rootfs") {
      c.rootfs = v;
    } else if (a == "--address") {
      c.address = v;
    } else if (a == "--runc-root") {
      c.runc_root = v;
    } else if (a == "--runc") {
      c.runc = v;
    } else if (a == "--out") {
      c.out = v;
    } else if (a == "--id") {
      c.id = v;
    } else if (a == "--iters" || a == "--settle-ms" || a == "--n") {
      int n = 0;
      try {
        n = std::stoi(v);
      } catch (const std::exception&) {
        Usage(a + " must be a number, got '" + v + "'");
      }
      if (n < 0 || (a != "--settle-ms" && n < 1)) Usage(a + " out of range: " + v);
      (a == "--iters" ? c.iters : a == "--n" ? c.n : c.settle_ms) = n;
    } else {
      Usage("unknown flag " + a);
    }
  }
  if (c.rootfs.empty()) Usage("--rootfs is required");
  if (c.backend != "direct" && c.backend != "containerd") Usage("unknown backend " + c.backend);
  if (c.backend == "containerd" && c.address.empty()) Usage("--backend containerd needs --address");
  return c;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Id(const std::string& what) {
  static int seq = 0;
  return "db-" + what + "-" + std::to_string(getpid()) + "-" + std::to_string(++seq);
}

std::shared_ptr<Client> MakeClient(const Config& c) {
  if (c.backend == "containerd") {
    ClientOptions o;
    o.address = c.address;
    o.ns = c.ns;
    o.state_dir = c.root + "/client";
    o.runc_root = c.runc_root;
    return NewContainerdClient(o);
  }
  DirectClientOptions o;
  o.root = c.root;
  o.ns = c.ns;
  return NewDirectClient(o);
}

// The runtime root the direct backend gives runc (DirectClientOptions' default).
std::string DirectRuntimeRoot(const Config& c) { return c.root + "/runtime/" + c.ns; }

oci::Spec SpecFor(const Config& c, const std::string& id, std::vector<std::string> args) {
  oci::SpecOptions so;
  so.id = id;
  so.ns = c.ns;
  so.args = std::move(args);
  so.rootfs = c.rootfs;
  return oci::DefaultSpec(so);
}

// A container whose task runs `sleep`, removed (task killed) when this goes out of scope.
class Sleeper {
 public:
  Sleeper(Client& client, const Config& c) : id_(Id("sleep")) {
    container_ =
        client.NewContainer(ctx_, id_, SpecFor(c, id_, {"sleep", "1000000"}), "", RuncOptions{});
    try {
      task_ = container_->NewTask(ctx_, "", false, nullptr);
      task_->Start(ctx_);
    } catch (...) {
      Remove();
      throw;
    }
  }
  ~Sleeper() {
    try {
      Remove();
    } catch (const std::exception& e) {
      std::cerr << "direct_bench: removing " << id_ << ": " << e.what() << "\n";
    }
  }
  Sleeper(const Sleeper&) = delete;
  Sleeper& operator=(const Sleeper&) = delete;
  const std::string& id() const { return id_; }
  Task& task() { return *task_; }

 private:
  void Remove() {
    if (task_) task_->ForceDelete(ctx_);
    task_.reset();
    if (container_) container_->Delete(ctx_);
    container_.reset();
  }
  Context ctx_;
  std::string id_;
  std::shared_ptr<Container> container_;
  std::shared_ptr<Task> task_;
};

// The wall time of each step of one lifecycle, ns.
struct Steps {
  int64_t new_container = 0, new_task = 0, start = 0, wait = 0, delete_task = 0,
          delete_container = 0;
};

void Lifecycle(Client& client, const Config& c, Steps* steps) {
  Context ctx;
  std::string id = Id("life");
  oci::Spec spec = SpecFor(c, id, {"/bin/true"});
  int64_t last = NowNs();
  auto step = [&](int64_t* slot) {
    int64_t now = NowNs();
    *slot = now - last;
    last = now;
  };
  auto container = client.NewContainer(ctx, id, spec, "", RuncOptions{});
  step(&steps->new_container);
  ExitStatus st{};
  try {
    auto task = container->NewTask(ctx, "", false, nullptr);
    step(&steps->new_task);
    task->Start(ctx);
    step(&steps->start);
    st = task->Wait(ctx);
    step(&steps->wait);
    task->Delete(ctx);
    step(&steps->delete_task);
  } catch (...) {
    try {
      if (auto t = container->GetTask(ctx)) t->ForceDelete(ctx);
    } catch (const Error&) {
    }
    container->Delete(ctx);
    throw;
  }
  container->Delete(ctx);
  step(&steps->delete_container);
  if (st.exit_code != 0) {
    throw std::runtime_error("/bin/true exited " + std::to_string(st.exit_code));
  }
}

int RunLifecycle(const Config& c) {
  auto client = MakeClient(c);
  Steps steps;
  Lifecycle(*client, c, &steps);  // warm-up: page cache, the monitor's binary, runc
  for (int i = 0; i < c.iters; ++i) {
    int64_t t0 = NowNs();
    Lifecycle(*client, c, &steps);
    std::printf(
        "lifecycle %lld\nstep_new_container %lld\nstep_new_task %lld\nstep_start %lld\n"
        "step_wait %lld\nstep_delete_task %lld\nstep_delete_container %lld\n",
        static_cast<long long>(NowNs() - t0), static_cast<long long>(steps.new_container),
        static_cast<long long>(steps.new_task), static_cast<long long>(steps.start),
        static_cast<long long>(steps.wait), static_cast<long long>(steps.delete_task),
        static_cast<long long>(steps.delete_container));
    std::fflush(stdout);
  }
  return 0;
}

// Runs argv with stdio /dev/null and waits; throws unless it exits 0.
void RunQuiet(const std::vector<std::string>& argv) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  for (int fd = 0; fd <= 2; ++fd) {
    posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("waitpid: " + std::string(std::strerror(errno)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    throw std::runtime_error(cmd + " failed (wait status " + std::to_string(status) + ")");
  }
}

int RunExec(const Config& c) {
  if (c.backend != "direct") Usage("exec compares the direct backend with runc exec only");
  auto client = MakeClient(c);
  Sleeper s(*client, c);
  oci::Process proc = oci::DefaultProcess({.args = {"/bin/true"}});
  Context ctx;
  auto api = [&] {
    auto p = s.task().Exec(ctx, Id("e"), proc, false, nullptr);
    ExitStatus st = p->Wait(ctx);
    p->Delete(ctx);
    if (st.exit_code != 0) {
      throw std::runtime_error("exec /bin/true exited " + std::to_string(st.exit_code));
    }
  };
  const std::vector<std::string> runc = {c.runc, "--root", DirectRuntimeRoot(c),
                                         "exec", s.id(),   "/bin/true"};
  api();  // warm-up
  RunQuiet(runc);
  for (int i = 0; i < c.iters; ++i) {
    for (int k = 0; k < 2; ++k) {
      bool api_now = (k == 0) == (i % 2 == 0);
      int64_t t0 = NowNs();
      if (api_now) {
        api();
      } else {
        RunQuiet(runc);
      }
      std::printf("%s %lld\n", api_now ? "exec_api" : "exec_runc",
                  static_cast<long long>(NowNs() - t0));
      std::fflush(stdout);
    }
  }
  return 0;
}

// A "Key:   N kB" line of a /proc file; -1 when absent.
long ProcKb(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size() + 1, key + ":") == 0) {
      return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
    }
  }
  return -1;
}

int RunRss(const Config& c) {
  if (c.backend != "direct") Usage("rss measures the direct backend's monitor only");
  auto client = MakeClient(c);
  Sleeper s(*client, c);
  std::this_thread::sleep_for(std::chrono::milliseconds(c.settle_ms));
  std::string pid_file = c.root + "/" + c.ns + "/" + s.id() + "/task/monitor.pid";
  std::ifstream in(pid_file);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) throw std::runtime_error("no monitor pid in " + pid_file);
  std::string proc = "/proc/" + std::to_string(pid);
  long rss = ProcKb(proc + "/status", "VmRSS");
  long pss = ProcKb(proc + "/smaps_rollup", "Pss");
  if (rss < 0) throw std::runtime_error("monitor pid " + std::to_string(pid) + " is not running");
  std::printf("monitor_pid %ld\nrss_kb %ld\npss_kb %ld\n", pid, rss, pss);
  return 0;
}

int64_t CpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int RunStats(const Config& c) {
  auto client = MakeClient(c);
  std::vector<std::unique_ptr<Sleeper>> sleepers;
  std::vector<std::string> ids;
  for (int i = 0; i < c.n; ++i) {
    sleepers.push_back(std::make_unique<Sleeper>(*client, c));
    ids.push_back(sleepers.back()->id());
  }
  Context ctx;
  auto all = [&] {
    auto got = client->StatsMany(ctx, ids);
    if (got.size() != ids.size()) {
      throw std::runtime_error("StatsMany gave " + std::to_string(got.size()) + " of " +
                               std::to_string(ids.size()));
    }
  };
  all();  // warm-up: the spec facts, the cgroup files in the page cache
  for (int i = 0; i < c.iters; ++i) {
    int64_t t0 = NowNs(), c0 = CpuNs();
    all();
    std::printf("stats_many %lld\nstats_many_cpu %lld\n", static_cast<long long>(NowNs() - t0),
                static_cast<long long>(CpuNs() - c0));
    std::fflush(stdout);
  }
  return 0;
}

int RunBundle(const Config& c) {
  if (c.out.empty() || c.id.empty() || c.args.empty())
    Usage("bundle needs --out, --id and -- ARGS");
  oci::Spec spec = SpecFor(c, c.id, c.args);
  std::ofstream out(c.out + "/config.json");
  out << oci::EncodeSpec(spec);
  out.close();
  if (!out) throw std::runtime_error("cannot write " + c.out + "/config.json");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config c = Parse(argc, argv);
  try {
    if (c.mode == "lifecycle") return RunLifecycle(c);
    if (c.mode == "exec") return RunExec(c);
    if (c.mode == "rss") return RunRss(c);
    if (c.mode == "stats") return RunStats(c);
    if (c.mode == "bundle") return RunBundle(c);
    Usage("unknown mode " + c.mode);
  } catch (const std::exception& e) {
    std::cerr << "direct_bench " << c.mode << ": " << e.what() << "\n";
    return 1;
  }
}
