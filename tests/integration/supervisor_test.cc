// The Supervisor against the real containerd: start, serve, stop, adopt, detach, bad inputs.
// Each test uses its own short root under /tmp (not the fixture's daemon).
#include "libcontainerd/supervisor.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "libcontainerd/errors.h"
#include "test_util.h"

namespace {

using libcontainerd::Error;
using libcontainerd::ErrorKind;
using libcontainerd::Supervisor;
using libcontainerd::SupervisorOptions;
using namespace std::chrono_literals;

extern "C" char** environ;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// True when pid names no process, or only a zombie that is not ours: an orphan (its starter
// exited) that init has yet to reap. A zombie child of this process counts as left behind.
bool ProcessGone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line, state;
  pid_t ppid = 0;
  while (std::getline(in, line)) {
    if (line.rfind("State:", 0) == 0) state = line;
    if (line.rfind("PPid:", 0) == 0) ppid = static_cast<pid_t>(std::atoi(line.c_str() + 5));
  }
  if (state.empty()) return true;
  return state.find("zombie") != std::string::npos && ppid != getpid();
}

bool WaitGone(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ProcessGone(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::string Cmdline(pid_t pid) {
  std::string s = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : s)
    if (c == '\0') c = ' ';
  return s;
}

using lcdtest::RemoveTree;

// A fresh short root "/tmp/lcs-<pid>-<n>", removed (with anything left running) at the end.
class SupervisorTest : public ::testing::Test {
 protected:
  std::string NewRoot() {
    static int n = 0;
    std::string r = "/tmp/lcs-" + std::to_string(getpid()) + "-" + std::to_string(++n);
    RemoveTree(r);
    roots_.push_back(r);
    return r;
  }
  void TearDown() override {
    for (const auto& r : roots_) {
      try {
        Supervisor::StopDaemon(r, lcdtest::Scaled(2000ms));
      } catch (...) {
      }
      RemoveTree(r);
    }
  }
  static SupervisorOptions Opts(const std::string& root) {
    SupervisorOptions o;
    o.root = root;
    return o;
  }
  // A fake "containerd": a shell script with the given body.
  std::string FakeBinary(const std::string& body) {
    std::string dir = NewRoot();
    mkdir(dir.c_str(), 0700);
    std::string path = dir + "/fake-containerd";
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0755);
    return path;
  }
  std::vector<std::string> roots_;
};

TEST_F(SupervisorTest, StartServesAndStopLeavesNoProcessSocketOrPidFile) {
  const std::string root = NewRoot();
  Supervisor sup(Opts(root));
  const pid_t pid = sup.pid();
  ASSERT_GT(pid, 0);
  EXPECT_FALSE(sup.adopted());
  EXPECT_TRUE(sup.Serving());
  EXPECT_EQ(sup.address(), root + "/containerd.sock");
  EXPECT_EQ(sup.runc_root(), root + "/runc");
  EXPECT_EQ(sup.root(), root);
  EXPECT_NE(Cmdline(pid).find("--config " + root + "/config.toml"), std::string::npos)
      << Cmdline(pid);
  EXPECT_EQ(ReadFile(sup.pid_file()), std::to_string(pid) + "\n");
  EXPECT_TRUE(Exists(sup.address()));
  EXPECT_NE(ReadFile(sup.log_path()).find("serving on"), std::string::npos);
  // The daemon runs in its own session.
  EXPECT_EQ(getsid(pid), pid);

  sup.Stop();
  EXPECT_TRUE(WaitGone(pid, lcdtest::Scaled(5000ms)))
      << "containerd pid " << pid << " still exists";
  EXPECT_FALSE(Exists(root + "/containerd.sock"));
  EXPECT_FALSE(Exists(root + "/containerd.sock.ttrpc"));
  EXPECT_FALSE(Exists(root + "/debug.sock"));
  EXPECT_FALSE(Exists(root + "/containerd.pid"));
  EXPECT_EQ(sup.pid(), 0);
  EXPECT_FALSE(sup.Serving(lcdtest::Scaled(200ms)));
  sup.Stop();  // idempotent
}

TEST_F(SupervisorTest, ConfigHasPrivatePathsMessageLimitsAndNoCri) {
  const std::string root = NewRoot();
  SupervisorOptions o = Opts(root);
  o.log_level = "debug";
  Supervisor sup(o);
  const std::string cfg = ReadFile(sup.config_path());
  EXPECT_NE(cfg.find("version = 2"), std::string::npos);
  EXPECT_NE(cfg.find("root = \"" + root + "/root\""), std::string::npos);
  EXPECT_NE(cfg.find("state = \"" + root + "/state\""), std::string::npos);
  EXPECT_NE(cfg.find("address = \"" + root + "/containerd.sock\""), std::string::npos);
  EXPECT_NE(cfg.find("address = \"" + root + "/debug.sock\""), std::string::npos);
  EXPECT_NE(cfg.find("max_recv_message_size = 16777216"), std::string::npos);
  EXPECT_NE(cfg.find("max_send_message_size = 16777216"), std::string::npos);
  EXPECT_NE(cfg.find("disabled_plugins = [\"io.containerd.grpc.v1.cri\"]"), std::string::npos);
  EXPECT_NE(cfg.find("level = \"debug\""), std::string::npos);
  EXPECT_TRUE(Exists(root + "/state")) << "containerd did not use the private state dir";
  EXPECT_TRUE(Exists(root + "/root")) << "containerd did not use the private root dir";
}

TEST_F(SupervisorTest, DestructorStopsTheDaemonItStarted) {
  const std::string root = NewRoot();
  pid_t pid = 0;
  {
    Supervisor sup(Opts(root));
    pid = sup.pid();
  }
  EXPECT_TRUE(WaitGone(pid, lcdtest::Scaled(5000ms)));
  EXPECT_FALSE(Exists(root + "/containerd.sock"));
  EXPECT_FALSE(Exists(root + "/containerd.pid"));
}

TEST_F(SupervisorTest, SecondSupervisorOnSameRootAdoptsTheRunningDaemon) {
  const std::string root = NewRoot();
  Supervisor first(Opts(root));
  const pid_t pid = first.pid();
  {
    Supervisor second(Opts(root));
    EXPECT_TRUE(second.adopted());
    EXPECT_EQ(second.pid(), pid);
    EXPECT_TRUE(second.Serving());
  }
  // An adopter leaves the daemon running when it goes away.
  EXPECT_FALSE(ProcessGone(pid));
  EXPECT_TRUE(first.Serving());
  EXPECT_EQ(first.pid(), pid);
  first.Stop();
  EXPECT_TRUE(WaitGone(pid, lcdtest::Scaled(5000ms)));
}

TEST_F(SupervisorTest, ConcurrentStartsOnOneRootShareOneDaemon) {
  const std::string root = NewRoot();
  auto start = [&] { return std::make_unique<Supervisor>(Opts(root)); };
  auto a = std::async(std::launch::async, start);
  auto b = std::async(std::launch::async, start);
  auto sa = a.get();
  auto sb = b.get();
  EXPECT_EQ(sa->pid(), sb->pid());
  EXPECT_NE(sa->adopted(), sb->adopted());
  sa->Stop();
  sb->Stop();
}

TEST_F(SupervisorTest, DetachedDaemonOutlivesItsObjectAndIsAdoptedAndStopped) {
  const std::string root = NewRoot();
  pid_t pid = 0;
  {
    SupervisorOptions o = Opts(root);
    o.detached = true;
    Supervisor sup(o);
    pid = sup.pid();
  }
  std::this_thread::sleep_for(lcdtest::Scaled(100ms));  // room for a wrong kill to land
  ASSERT_FALSE(ProcessGone(pid));
  Supervisor later(Opts(root));
  EXPECT_TRUE(later.adopted());
  EXPECT_EQ(later.pid(), pid);
  EXPECT_TRUE(later.Serving());
  later.Stop();
  EXPECT_TRUE(WaitGone(pid, lcdtest::Scaled(5000ms)));
  EXPECT_FALSE(Exists(root + "/containerd.sock"));
  EXPECT_FALSE(Exists(root + "/containerd.pid"));
}

int RunFixture(const std::string& cmd, const std::string& root) {
  std::string bin = std::string(LCD_BINARY_DIR) + "/tests/lcd_test_daemon";
  std::vector<char*> argv = {bin.data(), const_cast<char*>(cmd.c_str()),
                             const_cast<char*>(root.c_str()), nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, bin.c_str(), nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST_F(SupervisorTest, DaemonStartedByAnotherProcessIsReusedAfterItExits) {
  const std::string root = NewRoot();
  ASSERT_EQ(RunFixture("start", root), 0);  // that process has exited now
  const pid_t pid = static_cast<pid_t>(std::atoi(ReadFile(root + "/containerd.pid").c_str()));
  ASSERT_GT(pid, 0);
  ASSERT_FALSE(ProcessGone(pid));
  {
    Supervisor sup(Opts(root));
    EXPECT_TRUE(sup.adopted());
    EXPECT_EQ(sup.pid(), pid);
    EXPECT_TRUE(sup.Serving());
  }
  ASSERT_EQ(RunFixture("stop", root), 0);
  EXPECT_TRUE(WaitGone(pid, lcdtest::Scaled(5000ms)));
  EXPECT_FALSE(Exists(root)) << "lcd_test_daemon stop left the root behind";
}

// Pids whose command line has "-address SOCK" (the shims of the daemon on SOCK).
std::vector<pid_t> ShimsOf(const std::string& sock) {
  std::vector<pid_t> out;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
      if (pid > 0 && Cmdline(pid).find("-address " + sock + " ") != std::string::npos)
        out.push_back(pid);
    }
    closedir(d);
  }
  return out;
}

TEST_F(SupervisorTest, FixtureStopKillsLeftoverTasksAndShimsAndRemovesRoot) {
  const std::string root = NewRoot();
  ASSERT_EQ(RunFixture("start", root), 0);
  const std::string sock = root + "/containerd.sock";
  const std::string cmd = "ctr --address " + sock +
                          " -n lcdfix run -d --null-io --rootfs --runc-root " + root + "/runc " +
                          lcdtest::Rootfs() + " left /bin/sleep 1000 2>&1";
  ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
  FILE* f = popen(("ctr --address " + sock + " -n lcdfix tasks ls -q 2>&1").c_str(), "r");
  char buf[256] = "";
  ASSERT_NE(fgets(buf, sizeof(buf), f), nullptr);
  pclose(f);
  EXPECT_EQ(std::string(buf), "left\n");
  pid_t task_pid = 0;
  f = popen(("ctr --address " + sock + " -n lcdfix tasks ls | awk '/^left/{print $2}'").c_str(),
            "r");
  ASSERT_EQ(fscanf(f, "%d", &task_pid), 1);
  pclose(f);
  ASSERT_FALSE(ShimsOf(sock).empty());

  ASSERT_EQ(RunFixture("stop", root), 0);
  EXPECT_TRUE(WaitGone(task_pid, lcdtest::Scaled(5000ms))) << "the container's process survived";
  EXPECT_TRUE(ShimsOf(sock).empty()) << "a shim of the stopped daemon survived";
  EXPECT_FALSE(Exists(root));
}

TEST_F(SupervisorTest, StopDaemonWithoutObjectStopsItAndReportsNothingRunningAfterwards) {
  const std::string root = NewRoot();
  SupervisorOptions o = Opts(root);
  o.detached = true;
  pid_t pid = Supervisor(o).pid();
  EXPECT_TRUE(Supervisor::StopDaemon(root));
  EXPECT_TRUE(WaitGone(pid, lcdtest::Scaled(5000ms)));
  EXPECT_FALSE(Exists(root + "/containerd.pid"));
  EXPECT_FALSE(Supervisor::StopDaemon(root));
}

// --- bad inputs: the right kind, nothing left behind ----------------------------------------

ErrorKind KindOf(const SupervisorOptions& o, std::string* what = nullptr) {
  try {
    Supervisor sup(o);
  } catch (const Error& e) {
    if (what) *what = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "Supervisor started on " << o.root;
  return ErrorKind::kUnknown;
}

TEST_F(SupervisorTest, MissingContainerdBinaryIsNotFoundNamingThePackage) {
  const std::string root = NewRoot();
  SupervisorOptions o = Opts(root);
  o.containerd_binary = "lcd-no-such-containerd";
  std::string what;
  EXPECT_EQ(KindOf(o, &what), ErrorKind::kNotFound);
  EXPECT_NE(what.find("containerd` package"), std::string::npos) << what;
  EXPECT_NE(what.find("scripts/setup"), std::string::npos) << what;
  EXPECT_FALSE(Exists(root + "/containerd.pid"));
  EXPECT_FALSE(Exists(root + "/containerd.sock"));
  o.containerd_binary = "/nonexistent/containerd";
  EXPECT_EQ(KindOf(o), ErrorKind::kNotFound);
}

TEST_F(SupervisorTest, SocketPathOverKernelLimitIsInvalidArgumentSayingHowLongRootMayBe) {
  const std::string root = "/tmp/lcs-" + std::string(90, 'x');
  std::string what;
  EXPECT_EQ(KindOf(Opts(root), &what), ErrorKind::kInvalidArgument);
  EXPECT_NE(what.find("at most 82 characters"), std::string::npos) << what;
  EXPECT_FALSE(Exists(root)) << "nothing may be created for a refused root";
  // The longest accepted root works (82 characters).
  const std::string longest = "/tmp/lcs-" + std::to_string(getpid()) + "-" +
                              std::string(82 - 10 - std::to_string(getpid()).size(), 'y');
  ASSERT_EQ(longest.size(), 82u);
  roots_.push_back(longest);
  Supervisor sup(Opts(longest));
  EXPECT_TRUE(sup.Serving());
}

TEST_F(SupervisorTest, RelativeOrEmptyRootIsInvalidArgument) {
  EXPECT_EQ(KindOf(Opts("relative/root")), ErrorKind::kInvalidArgument);
  EXPECT_EQ(KindOf(Opts("")), ErrorKind::kInvalidArgument);
  EXPECT_EQ(KindOf(Opts("/")), ErrorKind::kInvalidArgument);
  EXPECT_EQ(KindOf(Opts("/tmp/../etc")), ErrorKind::kInvalidArgument);
  SupervisorOptions o = Opts(NewRoot());
  o.log_level = "loud";
  EXPECT_EQ(KindOf(o), ErrorKind::kInvalidArgument);
}

TEST_F(SupervisorTest, RootThatCannotBeWrittenIsFailedPrecondition) {
  // Under a regular file: the root cannot even be created.
  const std::string dir = NewRoot();
  mkdir(dir.c_str(), 0700);
  std::ofstream(dir + "/file") << "x";
  std::string what;
  EXPECT_EQ(KindOf(Opts(dir + "/file/root"), &what), ErrorKind::kFailedPrecondition);
  EXPECT_NE(what.find("writable"), std::string::npos) << what;

  // An existing directory on a read-only file system.
  const std::string ro = dir + "/ro";
  mkdir(ro.c_str(), 0700);
  ASSERT_EQ(mount("tmpfs", ro.c_str(), "tmpfs", MS_RDONLY, "size=64k"), 0)
      << "cannot mount a read-only tmpfs for the read-only case: " << std::strerror(errno);
  ErrorKind kind = KindOf(Opts(ro), &what);
  umount2(ro.c_str(), MNT_DETACH);
  EXPECT_EQ(kind, ErrorKind::kFailedPrecondition);
  EXPECT_NE(what.find("not writable"), std::string::npos) << what;
}

TEST_F(SupervisorTest, DaemonThatNeverServesIsDeadlineExceededWithLogTailAndIsKilled) {
  const std::string dir = NewRoot();
  mkdir(dir.c_str(), 0700);
  const std::string bin = FakeBinary("echo \"fake containerd: waiting forever\"\necho $$ > " + dir +
                                     "/fake.pid\nexec sleep 300");
  const std::string root = NewRoot();
  SupervisorOptions o = Opts(root);
  o.containerd_binary = bin;
  o.start_timeout = 700ms;
  std::string what;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(KindOf(o, &what), ErrorKind::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, lcdtest::Scaled(5s));
  EXPECT_NE(what.find("fake containerd: waiting forever"), std::string::npos) << what;
  const pid_t fake = static_cast<pid_t>(std::atoi(ReadFile(dir + "/fake.pid").c_str()));
  ASSERT_GT(fake, 0);
  EXPECT_TRUE(WaitGone(fake, lcdtest::Scaled(5000ms)))
      << "the daemon that never served is still there";
  EXPECT_FALSE(Exists(root + "/containerd.pid"));
  EXPECT_FALSE(Exists(root + "/containerd.sock"));
}

TEST_F(SupervisorTest, DaemonThatExitsBeforeServingIsUnavailableWithStatusAndLogTail) {
  const std::string bin = FakeBinary("echo \"fake containerd: bad config\" >&2\nexit 3");
  const std::string root = NewRoot();
  SupervisorOptions o = Opts(root);
  o.containerd_binary = bin;
  std::string what;
  EXPECT_EQ(KindOf(o, &what), ErrorKind::kUnavailable);
  EXPECT_NE(what.find("fake containerd: bad config"), std::string::npos) << what;
  EXPECT_NE(what.find("exited with status 3"), std::string::npos) << what;
  EXPECT_FALSE(Exists(root + "/containerd.pid"));
}

TEST_F(SupervisorTest, StalePidFileOfDeadProcessIsReplaced) {
  const std::string root = NewRoot();
  mkdir(root.c_str(), 0711);
  // A pid that certainly is dead: a reaped child.
  pid_t dead = 0;
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  ASSERT_EQ(posix_spawn(&dead, "/bin/true", nullptr, nullptr, argv, environ), 0);
  waitpid(dead, nullptr, 0);
  std::ofstream(root + "/containerd.pid") << dead << "\n";
  Supervisor sup(Opts(root));
  EXPECT_FALSE(sup.adopted());
  EXPECT_NE(sup.pid(), dead);
  EXPECT_TRUE(sup.Serving());
  EXPECT_EQ(ReadFile(sup.pid_file()), std::to_string(sup.pid()) + "\n");
  EXPECT_NE(ReadFile(sup.log_path()).find("stale pid file"), std::string::npos);
}

TEST_F(SupervisorTest, StalePidFileOfForeignProcessIsReplacedAndTheProcessLeftAlone) {
  const std::string root = NewRoot();
  mkdir(root.c_str(), 0711);
  pid_t foreign = 0;
  char* argv[] = {const_cast<char*>("/bin/sleep"), const_cast<char*>("30"), nullptr};
  ASSERT_EQ(posix_spawn(&foreign, "/bin/sleep", nullptr, nullptr, argv, environ), 0);
  std::ofstream(root + "/containerd.pid") << foreign << "\n";
  {
    Supervisor sup(Opts(root));
    EXPECT_FALSE(sup.adopted());
    EXPECT_NE(sup.pid(), foreign);
    EXPECT_TRUE(sup.Serving());
    sup.Stop();
  }
  EXPECT_EQ(waitpid(foreign, nullptr, WNOHANG), 0) << "the foreign process was touched";
  kill(foreign, SIGKILL);
  waitpid(foreign, nullptr, 0);
}

}  // namespace
