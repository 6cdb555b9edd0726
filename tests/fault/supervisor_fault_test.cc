// The Supervisor when its daemon is killed or hangs, and next to a system-style containerd.
// Each test starts its own daemons under short roots in /tmp and removes them.
#include <fcntl.h>
#include <ftw.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/supervisor.h"
#include "test_util.h"

namespace {

using libcontainerd::Supervisor;
using libcontainerd::SupervisorOptions;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

extern "C" char** environ;

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

using lcdtest::RemoveTree;

// Runs a shell command; returns its stdout, and its exit code through *code.
std::string Sh(const std::string& cmd, int* code = nullptr) {
  std::string out;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  int st = pclose(f);
  if (code) *code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

// `ctr tasks ls` line of id: "ID PID STATUS", or "" when absent.
std::string TaskLine(const std::string& sock, const std::string& ns, const std::string& id) {
  std::istringstream in(Sh("ctr --address " + sock + " -n " + ns + " tasks ls"));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(id + " ", 0) == 0) return line;
  return "";
}

// Starts a long-running busybox task with ctr.
void RunTask(const std::string& sock, const std::string& ns, const std::string& id,
             const std::string& runc_root) {
  int code = 0;
  std::string cmd = "ctr --address " + sock + " -n " + ns + " run -d --null-io --rootfs";
  if (!runc_root.empty()) cmd += " --runc-root " + runc_root;
  cmd += " " + lcdtest::Rootfs() + " " + id + " /bin/sleep 1000";
  std::string out = Sh(cmd, &code);
  ASSERT_EQ(code, 0) << cmd << ": " << out;
}

void RemoveTask(const std::string& sock, const std::string& ns, const std::string& id) {
  const std::string ctr = "ctr --address " + sock + " -n " + ns + " ";
  Sh(ctr + "tasks kill -s SIGKILL " + id);
  lcdtest::Eventually([&] { return TaskLine(sock, ns, id).find("STOPPED") != std::string::npos; },
                      lcdtest::Scaled(5s));
  Sh(ctr + "tasks delete " + id);
  Sh(ctr + "containers delete " + id);
}

// Kills the shims of the daemon at sock (they outlive it by design).
void KillShims(const std::string& sock) { Sh("pkill -KILL -f -- '-address " + sock + "( |$)'"); }

class SupervisorFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = "/tmp/lcf-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    root_ = root_.substr(0, 60);
    RemoveTree(root_);
  }
  void TearDown() override {
    try {
      Supervisor::StopDaemon(root_, lcdtest::Scaled(2000ms));
    } catch (...) {
    }
    KillShims(root_ + "/containerd.sock");
    Sh("umount -R " + root_ + "/state 2>/dev/null");
    RemoveTree(root_);
  }
  SupervisorOptions Opts() const {
    SupervisorOptions o;
    o.root = root_;
    return o;
  }
  // Waits until sup serves from a pid other than old; returns how long it took.
  static Clock::duration WaitReplaced(const Supervisor& sup, pid_t old,
                                      std::chrono::milliseconds limit) {
    auto t0 = Clock::now();
    while (Clock::now() - t0 < limit) {
      pid_t now = sup.pid();
      if (now != 0 && now != old && sup.Serving(200ms)) break;
      std::this_thread::sleep_for(20ms);
    }
    return Clock::now() - t0;
  }
  std::string root_;
};

TEST_F(SupervisorFaultTest, KilledDaemonServesAgainWithin3s) {
  Supervisor sup(Opts());
  const pid_t old = sup.pid();
  ASSERT_EQ(kill(old, SIGKILL), 0);
  auto took = WaitReplaced(sup, old, lcdtest::Scaled(5s));
  EXPECT_LT(took, lcdtest::Scaled(3s))
      << "took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_NE(sup.pid(), old);
  EXPECT_TRUE(sup.Serving());
  EXPECT_EQ(sup.restarts(), 1);
  std::ifstream pidf(sup.pid_file());
  pid_t recorded = 0;
  pidf >> recorded;
  EXPECT_EQ(recorded, sup.pid());
  std::printf(
      "restart after SIGKILL took %lld ms\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
}

TEST_F(SupervisorFaultTest, TwoSupervisorsOfOneRootReplaceAKilledDaemonOnce) {
  Supervisor a(Opts());
  Supervisor b(Opts());
  ASSERT_TRUE(b.adopted());
  const pid_t old = a.pid();
  ASSERT_EQ(kill(old, SIGKILL), 0);
  EXPECT_LT(WaitReplaced(a, old, lcdtest::Scaled(5s)), lcdtest::Scaled(3s));
  EXPECT_LT(WaitReplaced(b, old, lcdtest::Scaled(5s)), lcdtest::Scaled(3s));
  // Room for a wrong second restart to happen (a negative check: nothing to wait for).
  std::this_thread::sleep_for(lcdtest::Scaled(500ms));
  EXPECT_EQ(a.pid(), b.pid()) << "both follow the same daemon";
  EXPECT_EQ(a.restarts() + b.restarts(), 1) << "exactly one of them restarted it";
  EXPECT_TRUE(a.Serving());
}

TEST_F(SupervisorFaultTest, StoppedDaemonIsReplacedWithin10s) {
  Supervisor sup(Opts());
  const pid_t old = sup.pid();
  ASSERT_EQ(kill(old, SIGSTOP), 0);
  auto took = WaitReplaced(sup, old, lcdtest::Scaled(12s));
  EXPECT_LT(took, lcdtest::Scaled(10s));
  EXPECT_NE(sup.pid(), old);
  EXPECT_TRUE(sup.Serving());
  EXPECT_TRUE(lcdtest::Gone(old)) << "the hung daemon was not killed";
  std::printf(
      "replacement after SIGSTOP took %lld ms\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
}

TEST_F(SupervisorFaultTest, RunningTaskSurvivesDaemonCrash) {
  Supervisor sup(Opts());
  const std::string id = "surv-" + std::to_string(getpid());
  ASSERT_NO_FATAL_FAILURE(RunTask(sup.address(), "lcdsup", id, sup.runc_root()));
  const std::string before = TaskLine(sup.address(), "lcdsup", id);
  ASSERT_NE(before.find("RUNNING"), std::string::npos) << before;
  // The runc state is under the supervisor's root, not the system's.
  EXPECT_TRUE(Exists(sup.runc_root() + "/lcdsup/" + id + "/state.json"));

  const pid_t old = sup.pid();
  ASSERT_EQ(kill(old, SIGKILL), 0);
  EXPECT_LT(WaitReplaced(sup, old, 5s), 3s);
  const std::string after = TaskLine(sup.address(), "lcdsup", id);
  EXPECT_EQ(after, before) << "the task (same pid, RUNNING) must survive the daemon crash";
  RemoveTask(sup.address(), "lcdsup", id);
  EXPECT_EQ(TaskLine(sup.address(), "lcdsup", id), "");
}

bool SocketServes(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

TEST_F(SupervisorFaultTest, PrivateDaemonRunsAlongsideSystemStyleDaemonWithSameContainerId) {
  const std::string sys_sock = "/run/containerd/containerd.sock";
  if (SocketServes(sys_sock))
    GTEST_SKIP() << sys_sock << " is served by a containerd this test did not start";
  const bool had_run_dir = Exists("/run/containerd");
  // The system-style daemon: default socket path and default runc root
  // (/run/containerd/runc/<ns>); its data and state go to a private directory.
  const std::string sys_dir = root_ + "-sys";
  RemoveTree(sys_dir);
  mkdir(sys_dir.c_str(), 0700);
  mkdir("/run/containerd", 0711);
  std::ofstream(sys_dir + "/config.toml")
      << "version = 2\nroot = \"" << sys_dir << "/root\"\nstate = \"" << sys_dir
      << "/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \""
      << sys_sock << "\"\n";
  std::string log = sys_dir + "/containerd.log";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::string cfg = sys_dir + "/config.toml";
  char* argv[] = {const_cast<char*>("containerd"), const_cast<char*>("--config"), cfg.data(),
                  nullptr};
  pid_t sys_pid = 0;
  ASSERT_EQ(posix_spawnp(&sys_pid, "containerd", &fa, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  auto cleanup_sys = [&] {
    kill(sys_pid, SIGTERM);
    for (int i = 0; i < 100 && waitpid(sys_pid, nullptr, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(20ms);
    kill(sys_pid, SIGKILL);
    waitpid(sys_pid, nullptr, 0);
    KillShims(sys_sock);
    unlink(sys_sock.c_str());
    unlink((sys_sock + ".ttrpc").c_str());
    Sh("umount -R " + sys_dir + "/state 2>/dev/null");
    RemoveTree(sys_dir);
    rmdir("/run/containerd/runc/default");
    rmdir("/run/containerd/runc");
    if (!had_run_dir) {               // rmdir: only what is empty, other daemons' shims may use s/
      rmdir("/run/containerd/fifo");  // ctr's default FIFO dir
      rmdir("/run/containerd/s");
      rmdir("/run/containerd");
    }
  };
  bool up = lcdtest::Eventually(
      [&] {
        return Sh("ctr --address " + sys_sock + " version").find("Server:") != std::string::npos;
      },
      lcdtest::Scaled(10s));
  if (!up) {
    cleanup_sys();
    FAIL() << "system-style containerd did not come up";
  }

  Supervisor sup(Opts());
  const std::string id = "same-" + std::to_string(getpid());
  RunTask(sys_sock, "default", id, "");
  RunTask(sup.address(), "default", id, sup.runc_root());
  const std::string sys_line = TaskLine(sys_sock, "default", id);
  const std::string priv_line = TaskLine(sup.address(), "default", id);
  EXPECT_NE(sys_line.find("RUNNING"), std::string::npos) << sys_line;
  EXPECT_NE(priv_line.find("RUNNING"), std::string::npos) << priv_line;
  EXPECT_NE(sys_line, priv_line) << "two tasks, two pids";
  EXPECT_TRUE(Exists("/run/containerd/runc/default/" + id + "/state.json"));
  EXPECT_TRUE(Exists(sup.runc_root() + "/default/" + id + "/state.json"));

  // Both work independently: removing the private task leaves the system one running.
  RemoveTask(sup.address(), "default", id);
  EXPECT_EQ(TaskLine(sup.address(), "default", id), "");
  EXPECT_EQ(TaskLine(sys_sock, "default", id), sys_line);
  RemoveTask(sys_sock, "default", id);
  EXPECT_EQ(TaskLine(sys_sock, "default", id), "");
  cleanup_sys();
}

}  // namespace
