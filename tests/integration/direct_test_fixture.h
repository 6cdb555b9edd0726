// The direct backend's test fixture: a Client of NewDirectClient with its state under
// $LCD_TEST_ROOT/direct-<pid>-<n> (removed at the end, checked empty), busybox specs, and
// helpers to look at the state on disk. The monitor binary: LCD_MONITOR_PATH (the build's
// lcd-monitor, a compile definition) or $LCD_MONITOR, else the build tree's lcd-monitor.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "libcontainerd/cio.h"
#include "libcontainerd/direct.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/defaults.h"
#include "libcontainerd/oci/spec.h"
#include "recording_backend.h"
#include "test_util.h"

namespace lcdtest {

// The lcd-monitor binary the tests use ("" when none is configured).
inline std::string DirectMonitorPath() {
  if (const char* env = std::getenv("LCD_MONITOR"); env && *env) return env;
#ifdef LCD_MONITOR_PATH
  return LCD_MONITOR_PATH;
#else
  const std::string built = std::string(LCD_BINARY_DIR) + "/tools/lcd-monitor/lcd-monitor";
  return ::access(built.c_str(), X_OK) == 0 ? built : "";
#endif
}

inline bool PathExists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// Names in a directory (empty when it does not exist).
inline std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
  }
  return out;
}

// The file's text; "" when it cannot be read (a /proc file of a process that exits meanwhile
// fails with ESRCH, which libstdc++'s filebuf throws as an exception).
// Pids of lcd-monitor processes (whatever their binary is called) with a task directory under
// `needle` (a state root).
inline std::vector<pid_t> MonitorsUnder(const std::string& needle) {
  std::vector<pid_t> out;
  for (const auto& name : DirEntries("/proc")) {
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = Slurp("/proc/" + name + "/cmdline");
    for (auto& c : cmd)
      if (c == '\0') c = ' ';
    // With the separator: root ".../x-12" is no prefix of another test's ".../x-123".
    if (cmd.find("--task-dir " + needle + (needle.ends_with('/') ? "" : "/")) !=
        std::string::npos) {
      // A zombie is gone for this purpose.
      std::string stat = Slurp("/proc/" + name + "/stat");
      auto p = stat.rfind(')');
      if (p != std::string::npos && p + 2 < stat.size() && stat[p + 2] == 'Z') continue;
      out.push_back(std::stoi(name));
    }
  }
  return out;
}

class DirectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> n{0};
    root_ = DaemonRoot() + "/direct-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    ns_ = "d" + std::to_string(::getpid());
    monitor_ = DirectMonitorPath();
  }

  void TearDown() override {
    client_.reset();
    // Whatever a failed test left: kill its monitors, then the runtime's containers.
    for (pid_t p : MonitorsUnder(root_)) ::kill(p, SIGKILL);
    std::error_code ec;
    if (PathExists(root_ + "/runtime/" + ns_)) {
      for (const auto& id : DirEntries(root_ + "/runtime/" + ns_))
        (void)!std::system(("runc --root " + root_ + "/runtime/" + ns_ + " delete --force " + id +
                            " >/dev/null 2>&1")
                               .c_str());
    }
    std::filesystem::remove_all(root_, ec);
  }

  // Options of a Client of this test: its root, namespace, the monitor, `backend`.
  libcontainerd::DirectClientOptions ClientOptions(
      std::shared_ptr<libcontainerd::Backend> backend = nullptr) const {
    libcontainerd::DirectClientOptions o;
    o.root = root_;
    o.ns = ns_;
    o.monitor_path = monitor_;
    o.backend = std::move(backend);
    return o;
  }

  // Makes client_ (with a RecordingBackend in backend_). Fails the test without a monitor.
  void Connect() {
    ASSERT_FALSE(monitor_.empty())
        << "no lcd-monitor: build it and set LCD_MONITOR=/path/to/lcd-monitor (or define "
           "LCD_MONITOR_PATH for the test target)";
    backend_ = std::make_shared<RecordingBackend>();
    client_ = libcontainerd::NewDirectClient(ClientOptions(backend_));
  }

  libcontainerd::oci::Spec SpecOf(const std::string& id, std::vector<std::string> args) const {
    libcontainerd::oci::SpecOptions o;
    o.id = id;
    o.ns = ns_;
    o.args = std::move(args);
    o.rootfs = Rootfs();
    auto spec = libcontainerd::oci::DefaultSpec(o);
    if (spec.linux) spec.linux->cgroups_path.clear();  // the backend's default, /lcd/<ns>/<id>
    return spec;
  }

  std::shared_ptr<libcontainerd::Container> Create(const std::string& id,
                                                   std::vector<std::string> args) {
    return client_->NewContainer(libcontainerd::Context(), id, SpecOf(id, std::move(args)), "",
                                 libcontainerd::RuncOptions{});
  }

  // One lifecycle of `true` with captured stdio (NewContainer, NewTask, Start, Wait, task and
  // container Delete) under a Context of its own (ctx_'s deadline runs from the test's start).
  void TrueLifecycle(const std::string& id) {
    libcontainerd::Context ctx;
    auto c = Create(id, {"true"});
    auto t =
        c->NewTask(ctx, "", false,
                   libcontainerd::cio::Capture(std::make_shared<libcontainerd::cio::Captured>()));
    t->Start(ctx);
    EXPECT_EQ(t->Wait(ctx).exit_code, 0u) << id;
    t->Delete(ctx);
    c->Delete(ctx);
  }

  // Whether backend_ has had at least `n` exits within `timeout`.
  bool ExitsReach(int n, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return backend_->WaitFor(
        [&](const std::vector<Recorded>& evs) {
          int exits = 0;
          for (const auto& e : evs) exits += e.type == libcontainerd::EventType::kExit;
          return exits >= n;
        },
        timeout);
  }

  std::string ContainerDir(const std::string& id) const { return root_ + "/" + ns_ + "/" + id; }
  std::string TaskDir(const std::string& id) const { return ContainerDir(id) + "/task"; }
  std::string RuntimeRoot() const { return root_ + "/runtime/" + ns_; }

  // True when the runtime still knows the container.
  bool RuntimeKnows(const std::string& id) const {
    return std::system(
               ("runc --root " + RuntimeRoot() + " state " + id + " >/dev/null 2>&1").c_str()) == 0;
  }

  // Every entry left under the root (the runtime's empty root directory does not count).
  std::vector<std::string> Leftovers() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(root_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      const std::string p = it->path().string();
      if (p == root_ + "/runtime" || p == RuntimeRoot()) continue;
      out.push_back(p);
    }
    return out;
  }

  std::string root_, ns_, monitor_;
  std::shared_ptr<RecordingBackend> backend_;
  std::shared_ptr<libcontainerd::Client> client_;
  libcontainerd::Context ctx_;
};

}  // namespace lcdtest
