// Streams through lcd-engine with the docker CLI: logs (stdout and stderr apart), logs -f while
// the container prints, exec with and without a terminal, attach to a -it container under a
// pseudo-terminal, and clients that hang up mid-attach (the container keeps running, the
// engine's fds do not grow).
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "engine_fixture.h"

namespace {

using namespace enginetest;

using EngineLogsTest = EngineTest;
using EngineExecTest = EngineTest;
using EngineAttachTest = EngineTest;

TEST_F(EngineLogsTest, LogsKeepStdoutAndStderrApart) {
  Cleanup c;
  std::string name = c.Container("logs");
  auto r =
      D({"run", "-d", "--name", name, Busybox(), "sh", "-c", "echo out-line; echo err-line >&2"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto w = D({"wait", name});
  ASSERT_EQ(w.code, 0) << w.why();
  auto l = D({"logs", name});
  ASSERT_EQ(l.code, 0) << l.why();
  EXPECT_EQ(l.out, "out-line\n") << l.why();
  EXPECT_EQ(l.err, "err-line\n") << l.why();
}

TEST_F(EngineLogsTest, LogsFollowSeesLinesPrintedLaterAndEndsWithTheContainer) {
  Cleanup c;
  std::string name = c.Container("logsf");
  // Prints "first", then waits for /tmp/go (made by exec below) before printing "second".
  auto r = D({"run", "-d", "--name", name, Busybox(), "sh", "-c",
              "echo first; while [ ! -f /tmp/go ]; do sleep 0.1; done; echo second"});
  ASSERT_EQ(r.code, 0) << r.why();
  Proc follow(DockerArgv({"logs", "-f", name}));
  ASSERT_TRUE(follow.ReadUntil("first", 15s)) << "logs -f printed: " << follow.output();
  EXPECT_FALSE(Contains(follow.output(), "second"));
  auto go = D({"exec", name, "touch", "/tmp/go"});
  ASSERT_EQ(go.code, 0) << go.why();
  EXPECT_TRUE(follow.ReadUntil("second", 15s))
      << "logs -f did not show a line printed while it followed: " << follow.output() << "\n"
      << EngineLog();
  EXPECT_EQ(follow.Wait(15s), 0) << "logs -f did not end (0) when the container exited: "
                                 << follow.output();
}

TEST_F(EngineExecTest, ExecRunsCommandsWithTheirExitCodeAndEnv) {
  Cleanup c;
  std::string name = c.Container("exec");
  auto r = D({"run", "-d", "--name", name, Busybox(), "sleep", "100"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto hi = D({"exec", name, "echo", "hi"});
  EXPECT_EQ(hi.code, 0) << hi.why();
  EXPECT_EQ(hi.out, "hi\n") << hi.why();
  auto five = D({"exec", name, "sh", "-c", "exit 5"});
  EXPECT_EQ(five.code, 5) << five.why();
  auto env = D({"exec", "-e", "ETVAR=bar", "-w", "/tmp", name, "sh", "-c", "echo $ETVAR $PWD"});
  EXPECT_EQ(env.out, "bar /tmp\n") << env.why();
  auto in = D({"exec", "-i", name, "cat"});  // no input: EOF at once
  EXPECT_EQ(in.code, 0) << in.why();
  auto notty = D({"exec", name, "tty"});
  EXPECT_EQ(notty.code, 1) << notty.why();
  EXPECT_TRUE(Contains(notty.out, "not a tty")) << notty.why();
}

TEST_F(EngineExecTest, ExecWithTerminalGetsAPtyAndItsInput) {
  Cleanup c;
  std::string name = c.Container("exect");
  auto r = D({"run", "-d", "--name", name, Busybox(), "sleep", "100"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto t = DTty({"exec", "-t", name, "tty"});
  EXPECT_EQ(t.code, 0) << t.why();
  EXPECT_TRUE(Contains(t.out, "/dev/pts/")) << t.why();
  auto it = DTty({"exec", "-it", name, "sh", "-c", "read x; echo got-$x"}, "abc\n");
  EXPECT_EQ(it.code, 0) << it.why();
  EXPECT_TRUE(Contains(it.out, "got-abc")) << it.why();
}

TEST_F(EngineAttachTest, AttachToInteractiveTerminalContainerEchoesAndDetaches) {
  Cleanup c;
  std::string name = c.Container("attach");
  auto r = D({"run", "-dit", "--name", name, Busybox(), "sh"});
  ASSERT_EQ(r.code, 0) << r.why();
  Proc attach(DockerTtyArgv({"attach", name}));
  // The shell computes 42x: a terminal's echo of the line alone shows "$((6*7))x".
  bool seen = false;
  for (int i = 0; i < 5 && !seen; ++i) {
    attach.Write("echo $((6*7))x\n");
    seen = attach.ReadUntil("42x", 3s);
  }
  EXPECT_TRUE(seen) << "attach showed: " << attach.output() << "\n" << EngineLog();
  attach.Write("\x10\x11");  // docker's detach keys: ctrl-p ctrl-q
  // docker attach ends with "read escape sequence" and exit code 1 on a detach (as with dockerd).
  EXPECT_EQ(attach.Wait(15s), 1) << "attach did not detach: " << attach.output();
  EXPECT_TRUE(Contains(attach.output(), "read escape sequence")) << attach.output();
  auto i = D({"inspect", "--format", "{{.State.Running}}", name});
  EXPECT_EQ(Trim(i.out), "true") << "detaching stopped the container: " << i.why();
}

TEST_F(EngineAttachTest, ClientHangingUpMidAttachLeavesContainerRunningAndNoFdLeak) {
  Cleanup c;
  std::string name = c.Container("hangup");
  auto r = D({"run", "-di", "--name", name, Busybox(), "sh"});
  ASSERT_EQ(r.code, 0) << r.why();
  int round = 0;
  auto attach_and_hang_up = [&] {
    Proc attach(DockerArgv({"attach", name}));
    std::string marker = "alive" + std::to_string(++round);
    bool seen = false;
    for (int i = 0; i < 5 && !seen; ++i) {
      attach.Write("echo " + marker + "\n");
      seen = attach.ReadUntil(marker, 3s);
    }
    attach.Signal(SIGKILL);
    attach.Wait(10s);
    return seen;
  };
  ASSERT_TRUE(attach_and_hang_up()) << "attach never showed the shell's output\n" << EngineLog();
  std::this_thread::sleep_for(500ms);
  int base = FdCount(EnginePid());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(attach_and_hang_up()) << "round " << i;
  int now = base;
  bool settled = WaitFor(
      [&] {
        now = FdCount(EnginePid());
        return now <= base + 2;
      },
      10s);
  EXPECT_TRUE(settled) << "engine fds grew from " << base << " to " << now
                       << " over 5 attaches that hung up";
  auto i = D({"inspect", "--format", "{{.State.Running}}", name});
  EXPECT_EQ(Trim(i.out), "true") << "a client hanging up stopped the container: " << i.why();
  auto ps = D({"ps", "--filter", "name=" + name, "--format", "{{.Names}}"});
  EXPECT_EQ(Trim(ps.out), name) << ps.why();
  // The container still answers a new client.
  auto e = D({"exec", name, "echo", "still"});
  EXPECT_EQ(e.out, "still\n") << e.why();
}

}  // namespace
