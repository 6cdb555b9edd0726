// Stdio through FIFOs: output, stdin, terminals, attach.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"
#include "test_util.h"

using namespace libcontainerd;
using lcdtest::ClientTest;
using namespace std::chrono_literals;

namespace {
// Polls until pred() or timeout.
template <typename P>
bool Eventually(P pred, std::chrono::milliseconds timeout = lcdtest::Scaled(5000ms)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}
}  // namespace

TEST_F(ClientTest, EchoDeliversExactlyHelloOnStdoutAndStderrSeparately) {
  auto c = Create(lcdtest::UniqueId("echo"), {"sh", "-c", "echo hello; echo oops >&2"});
  auto cap = std::make_shared<cio::Captured>();
  auto task = c->NewTask(ctx_, "", false, cio::Capture(cap));
  task->Start(ctx_);
  task->Wait(ctx_);
  EXPECT_EQ(task->Delete(ctx_).exit_code, 0u);
  EXPECT_EQ(cap->Out(), "hello\n");
  EXPECT_EQ(cap->Err(), "oops\n");
}

TEST_F(ClientTest, StdinReachesCatAndClosingItEndsCat) {
  auto c = Create(lcdtest::UniqueId("cat"), {"cat"});
  auto cap = std::make_shared<cio::Captured>();
  auto task = c->NewTask(ctx_, "", true, cio::Capture(cap));
  task->Start(ctx_);
  cap->fifos->WriteStdin("ping\n");
  EXPECT_TRUE(Eventually([&] { return cap->Out() == "ping\n"; })) << cap->Out();
  cap->fifos->WriteStdin("pong");
  cap->fifos->CloseStdin();
  ExitStatus st = task->Wait(Context::WithTimeout(lcdtest::Scaled(10s)));
  EXPECT_EQ(st.exit_code, 0u);
  task->Delete(ctx_);
  EXPECT_EQ(cap->Out(), "ping\npong");
}

TEST_F(ClientTest, StdinClosedBeforeStartIsDeliveredAfterStart) {
  auto c = Create(lcdtest::UniqueId("catearly"), {"cat"});
  auto cap = std::make_shared<cio::Captured>();
  auto task = c->NewTask(ctx_, "", true, cio::Capture(cap));
  cap->fifos->WriteStdin("early");
  cap->fifos->CloseStdin();
  task->Start(ctx_);
  EXPECT_EQ(task->Wait(Context::WithTimeout(lcdtest::Scaled(10s))).exit_code, 0u);
  task->Delete(ctx_);
  EXPECT_EQ(cap->Out(), "early");
}

TEST_F(ClientTest, TerminalOutputArrivesOnStdoutAndResizeShowsInStty) {
  auto opts = Options(lcdtest::UniqueId("tty"), {"sh", "-c", "read x; stty size"});
  opts.terminal = true;
  auto c = Create(opts);
  auto cap = std::make_shared<cio::Captured>();
  auto task = c->NewTask(ctx_, "", true, cio::Capture(cap));
  task->Start(ctx_);
  task->Resize(ctx_, 100, 40);
  cap->fifos->WriteStdin("go\n");
  EXPECT_EQ(task->Wait(Context::WithTimeout(lcdtest::Scaled(10s))).exit_code, 0u);
  task->Delete(ctx_);
  EXPECT_NE(cap->Out().find("40 100\r\n"), std::string::npos) << cap->Out();
  EXPECT_EQ(cap->Err(), "");
}

TEST_F(ClientTest, AttachTaskFromASecondClientGetsLaterOutputAndStdin) {
  std::string id = lcdtest::UniqueId("attach");
  auto c = Create(id, {"sh", "-c", "while read l; do echo got:$l; done; echo bye"});
  {
    auto first = c->NewTask(ctx_, "", true, cio::Capture(std::make_shared<cio::Captured>()));
    first->Start(ctx_);
  }  // the first handle (its IO) is gone, as after a restart of the program
  auto second = lcdtest::NewTestClient(ns_);
  auto cap = std::make_shared<cio::Captured>();
  auto task = second->LoadContainer(ctx_, id)->AttachTask(ctx_, cio::Capture(cap));
  cap->fifos->WriteStdin("one\n");
  EXPECT_TRUE(Eventually([&] { return cap->Out() == "got:one\n"; })) << cap->Out();
  cap->fifos->CloseStdin();
  EXPECT_EQ(task->Wait(Context::WithTimeout(lcdtest::Scaled(10s))).exit_code, 0u);
  task->Delete(ctx_);
  EXPECT_EQ(cap->Out(), "got:one\nbye\n");
}

// A reader that opens the output FIFOs after their writers are gone sees no EOF by itself: the
// Delete of a task attached after its exit must not wait for one (it would hang).
TEST_F(ClientTest, DeleteOfATaskAttachedAfterItsExitDoesNotWaitForOutput) {
  std::string id = lcdtest::UniqueId("attachgone");
  auto c = Create(id, {"true"});
  {
    auto task = c->NewTask(ctx_, "", false, cio::Capture(std::make_shared<cio::Captured>()));
    task->Start(ctx_);
    task->Wait(ctx_);
  }
  auto attached = c->AttachTask(ctx_, cio::Capture(std::make_shared<cio::Captured>()));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(attached->Delete(ctx_).exit_code, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  c->Delete(ctx_);
}

TEST_F(ClientTest, ThrowingStdioCallbackFailsNewTaskAndLeavesNoFifo) {
  std::string id = lcdtest::UniqueId("cbthrow");
  auto c = Create(id, {"true"});
  int fds = lcdtest::OpenFdCount();
  // The callback's own error reaches the caller, kind and all.
  EXPECT_ERROR_KIND(c->NewTask(ctx_, "", true,
                               [](std::shared_ptr<DirectIO>) -> std::shared_ptr<IO> {
                                 throw Error(ErrorKind::kNotImplemented, "callback failed");
                               }),
                    ErrorKind::kNotImplemented);
  EXPECT_EQ(lcdtest::OpenFdCount(), fds);
  std::string dir = lcdtest::BackendStateDir() + "/" + ns_ + "/" + id, extra;
  EXPECT_TRUE(lcdtest::NoProcessStateIn(dir, &extra)) << extra;
}

// docs/security.md: a FIFO set lives in a fresh directory of mode 0700 under the state dir (whose
// directories the library makes 0700), its FIFOs are 0700, and a directory is never reused.
TEST_F(ClientTest, FifoDirectoriesAndFifosAre0700AndNeverReused) {
  std::string id = lcdtest::UniqueId("fifomode");
  auto c = Create(id, {"cat"});
  auto mode_of = [](const std::string& p, mode_t type) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_mode & S_IFMT, type) << p;
    EXPECT_EQ(st.st_uid, ::geteuid()) << p;
    return st.st_mode & 07777;
  };
  std::vector<std::string> dirs;
  for (int round = 0; round < 2; ++round) {
    auto cap = std::make_shared<cio::Captured>();
    FifoConfig cfg;
    auto task = c->NewTask(ctx_, "", true, [&](std::shared_ptr<DirectIO> fifos) {
      cfg = fifos->Config();
      return cio::Capture(cap)(fifos);
    });
    const std::string dir = std::filesystem::path(cfg.stdout_path).parent_path();
    ASSERT_FALSE(dir.empty());
    EXPECT_EQ(std::filesystem::path(dir).parent_path(),
              std::filesystem::path(lcdtest::BackendStateDir()) / ns_ / id);
    EXPECT_EQ(mode_of(dir, S_IFDIR), 0700u) << dir;
    EXPECT_EQ(mode_of(lcdtest::BackendStateDir() + "/" + ns_, S_IFDIR), 0700u);
    EXPECT_EQ(mode_of(lcdtest::BackendStateDir() + "/" + ns_ + "/" + id, S_IFDIR), 0700u);
    for (const auto& f : {cfg.stdin_path, cfg.stdout_path, cfg.stderr_path})
      EXPECT_EQ(mode_of(f, S_IFIFO), 0700u) << f;
    dirs.push_back(dir);
    task->Start(ctx_);
    cap->fifos->CloseStdin();
    EXPECT_EQ(task->Wait(Context::WithTimeout(lcdtest::Scaled(10s))).exit_code, 0u);
    task->Delete(ctx_);
    EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " outlived its task";
  }
  EXPECT_NE(dirs[0], dirs[1]) << "a FIFO directory was reused";
}
