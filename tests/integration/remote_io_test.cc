// Stdio through FIFOs: output, stdin, terminals, attach.
#include <thread>

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
  auto second = NewContainerdClient(lcdtest::TestClientOptions(ns_));
  auto cap = std::make_shared<cio::Captured>();
  auto task = second->LoadContainer(ctx_, id)->AttachTask(ctx_, cio::Capture(cap));
  cap->fifos->WriteStdin("one\n");
  EXPECT_TRUE(Eventually([&] { return cap->Out() == "got:one\n"; })) << cap->Out();
  cap->fifos->CloseStdin();
  EXPECT_EQ(task->Wait(Context::WithTimeout(lcdtest::Scaled(10s))).exit_code, 0u);
  task->Delete(ctx_);
  EXPECT_EQ(cap->Out(), "got:one\nbye\n");
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
  std::string dir = lcdtest::ClientStateDir() + "/" + ns_ + "/" + id;
  EXPECT_TRUE(!std::filesystem::exists(dir) || std::filesystem::is_empty(dir));
}
