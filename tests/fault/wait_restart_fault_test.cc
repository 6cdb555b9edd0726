// Waits that survive the daemon: a foreground `lcctl run` and Process::Wait keep waiting across
// a containerd SIGKILL and restart and return the real exit status, including an exit that
// happened while the daemon was down; a Wait whose deadline passes while the daemon stays
// down fails kUnavailable naming the address. Each test runs its own daemon (Supervisor).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/supervisor.h"
#include "run_program.h"
#include "test_util.h"

#ifndef LCCTL_PATH
#error "LCCTL_PATH must name the lcctl binary"
#endif

using namespace libcontainerd;
using namespace std::chrono_literals;
using lcdtest::Eventually;
using lcdtest::Gone;
using lcdtest::Scaled;

namespace {

class WaitRestartFault : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = "/tmp/lcdw-" + std::to_string(getpid());
    std::filesystem::remove_all(root_);
    StartDaemon();
    ClientOptions o;
    o.address = sup_->address();
    o.ns = ns_;
    o.state_dir = root_ + "/clients";
    o.runc_root = sup_->runc_root();
    client_ = NewContainerdClient(o);  // no Backend: Wait's answer comes from the daemon
  }
  void TearDown() override {
    if (!sup_ || sup_->pid() == 0 || Gone(sup_->pid())) RestartDaemon();
    if (auto err = lcdtest::TearDownPrivateDaemon(client_, sup_, root_); !err.empty())
      ADD_FAILURE() << "cleanup: " << err;
    // lcctl with -a passes no runc root: runc used its default, /run/containerd/runc/<ns>,
    // and leaves that (empty) namespace directory behind.
    std::error_code ec;
    std::filesystem::remove("/run/containerd/runc/" + ns_, ec);
  }
  void StartDaemon() {
    SupervisorOptions o;
    o.root = root_;
    o.watch = false;
    sup_ = std::make_unique<Supervisor>(o);
  }
  // SIGKILLs containerd and waits until it is gone (its shims keep running).
  void KillDaemon() {
    pid_t daemon = sup_->pid();
    ASSERT_GT(daemon, 0);
    ASSERT_EQ(kill(daemon, SIGKILL), 0);
    ASSERT_TRUE(Eventually([&] { return Gone(daemon); }, Scaled(10s)));
  }
  // Restarts containerd and waits until the client's channel has reconnected (gRPC retries
  // with its own back-off: calls fail kUnavailable until then).
  void RestartDaemon() {
    sup_.reset();  // the dead daemon's supervisor
    StartDaemon();
    ASSERT_TRUE(Eventually(
        [&] {
          return lcdtest::KindOf([&] { client_->ListContainers(Context()); }) !=
                 ErrorKind::kUnavailable;
        },
        Scaled(30s)));
  }
  std::shared_ptr<Container> Create(const std::string& id, std::vector<std::string> args) {
    oci::SpecOptions o;
    o.id = id;
    o.ns = ns_;
    o.args = std::move(args);
    o.rootfs = lcdtest::Rootfs();
    return client_->NewContainer(Context(), id, oci::DefaultSpec(o), "", {});
  }
  std::string root_;
  std::string ns_ = lcdtest::UniqueId("waitfault");
  std::unique_ptr<Supervisor> sup_;
  std::shared_ptr<Client> client_;
};

TEST_F(WaitRestartFault, ThreeForegroundLcctlRunsExitWithTheirOwnCodesAcrossADaemonRestart) {
  constexpr int kRuns = 3;
  const std::string sleep = lcdtest::ScaledSeconds(2);
  std::vector<lcdtest::Spawned> runs;
  std::vector<std::string> ids;
  for (int i = 0; i < kRuns; ++i) {
    ids.push_back("fg" + std::to_string(i));
    runs.push_back(
        lcdtest::Spawn({LCCTL_PATH, "--debug", "-a", sup_->address(), "-n", ns_, "--root",
                        root_ + "/lcctl", "run", "--rm", "--rootfs", lcdtest::Rootfs(), ids[i],
                        "sh", "-c", "sleep " + sleep + "; exit " + std::to_string(20 + i)},
                       nullptr, {}));
  }
  // Handshake: each lcctl is in its Wait (its --debug log says so). Killing the daemon
  // earlier could cut its Start short, a different failure (kUnavailable, exit 125).
  std::vector<std::string> early(kRuns);
  for (int i = 0; i < kRuns; ++i)
    ASSERT_TRUE(lcdtest::ReadUntil(runs[i].err, "Tasks.Wait " + ids[i] + ": waiting", early[i],
                                   Scaled(30s)))
        << ids[i] << ": " << early[i];
  KillDaemon();
  // The daemon stays down 3 s: the tasks exit (after their 2 s sleep) while it is.
  std::this_thread::sleep_for(Scaled(3s));
  RestartDaemon();
  for (int i = 0; i < kRuns; ++i) {
    lcdtest::Result r =
        lcdtest::Collect(runs[i], std::chrono::duration_cast<std::chrono::seconds>(Scaled(60s)));
    EXPECT_EQ(r.code, 20 + i) << ids[i] << ": stdout " << r.out << " stderr " << early[i] << r.err;
  }
  // --rm: each foreground run deleted its container after the wait.
  for (const auto& id : ids)
    EXPECT_EQ(lcdtest::KindOf([&] { client_->LoadContainer(Context(), id); }), ErrorKind::kNotFound)
        << id;
}

TEST_F(WaitRestartFault, ProcessWaitAcrossARestartReturnsTheExitThatHappenedDuringTheOutage) {
  auto c = Create("outage", {"sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.1; done"});
  auto task = c->NewTask(Context(), "", false, nullptr);
  task->Start(Context());
  // The shell has installed its trap once it runs its loop (a sleep child exists).
  ASSERT_TRUE(Eventually([&] { return task->Pids(Context()).size() >= 2; }, Scaled(10s)));

  auto waiter = std::async(std::launch::async, [&] { return task->Wait(Context::Background()); });
  // A second wait that the caller ends during the outage: only its Context ends it early.
  Context cancel_me = Context::Background();
  auto cancelled = std::async(std::launch::async,
                              [&] { return lcdtest::KindOf([&] { task->Wait(cancel_me); }); });
  std::this_thread::sleep_for(Scaled(200ms));  // both Tasks.Wait calls are in flight
  KillDaemon();
  const auto pid = static_cast<pid_t>(task->Pid());
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  ASSERT_TRUE(Eventually([&] { return Gone(pid); }, Scaled(10s)));
  EXPECT_EQ(waiter.wait_for(Scaled(1s)), std::future_status::timeout)
      << "Wait returned while containerd was down";
  cancel_me.Cancel();
  ASSERT_EQ(cancelled.wait_for(Scaled(5s)), std::future_status::ready);
  EXPECT_EQ(cancelled.get(), ErrorKind::kCancelled);

  RestartDaemon();
  ASSERT_EQ(waiter.wait_for(Scaled(30s)), std::future_status::ready);
  ExitStatus st = waiter.get();  // throws (and fails the test) if the wait gave up
  EXPECT_EQ(st.exit_code, 42u);
  EXPECT_EQ(task->Delete(Context()).exit_code, 42u);
}

TEST_F(WaitRestartFault, WaitWithADeadlineWhileTheDaemonStaysDownIsUnavailableNamingTheAddress) {
  auto c = Create("down", {"sleep", "300"});
  auto task = c->NewTask(Context(), "", false, nullptr);
  task->Start(Context());
  KillDaemon();
  const auto timeout = Scaled(2s);
  const auto start = std::chrono::steady_clock::now();
  try {
    task->Wait(Context::WithTimeout(timeout));
    FAIL() << "Wait returned while containerd was down";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find(sup_->address()), std::string::npos) << e.what();
  }
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, timeout - 50ms);
  EXPECT_LT(took, timeout + Scaled(2s));
  RestartDaemon();
  task->Kill(Context(), SIGKILL);
  EXPECT_EQ(task->Wait(Context()).exit_code, 137u);
  task->Delete(Context());
}

}  // namespace
