// lcd-monitor's OOM paths (tools/lcd-monitor/oom.cc) and stdio (process_io.cc): where the memory
// cgroup is, the v2 counter, the never-read FIFO ends and the pty copy with its stdin EOF.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "../../tools/lcd-monitor/oom.h"
#include "../../tools/lcd-monitor/process_io.h"

namespace {

const char* kSelfCgroup =
    "9:name=systemd:/\n8:pids:/\n4:memory:/outer/svc\n3:cpu,cpuacct:/c\n0::/unified/svc\n";

TEST(MonitorOom, AbsoluteCgroupsPathIsUnderTheHierarchy) {
  EXPECT_EQ(lcdmon::MemoryCgroupDir("/lcd/ns/c1", "c1", kSelfCgroup, false),
            "/sys/fs/cgroup/memory/lcd/ns/c1");
  EXPECT_EQ(lcdmon::MemoryCgroupDir("/lcd/ns/c1/", "c1", kSelfCgroup, true),
            "/sys/fs/cgroup/lcd/ns/c1");
}

TEST(MonitorOom, RelativeOrEmptyPathIsUnderTheMonitorsOwnCgroup) {
  EXPECT_EQ(lcdmon::MemoryCgroupDir("sub/c1", "c1", kSelfCgroup, false),
            "/sys/fs/cgroup/memory/outer/svc/sub/c1");
  EXPECT_EQ(lcdmon::MemoryCgroupDir("", "c1", kSelfCgroup, false),
            "/sys/fs/cgroup/memory/outer/svc/c1");
  EXPECT_EQ(lcdmon::MemoryCgroupDir("c1", "c1", kSelfCgroup, true),
            "/sys/fs/cgroup/unified/svc/c1");
  EXPECT_EQ(lcdmon::MemoryCgroupDir("c1", "c1", "0::/\n", true), "/sys/fs/cgroup/c1");
}

TEST(MonitorOom, UnknowableCgroupsGiveNoPath) {
  EXPECT_EQ(lcdmon::MemoryCgroupDir("system.slice:lcd:c1", "c1", kSelfCgroup, false),
            "");                                                             // systemd driver
  EXPECT_EQ(lcdmon::MemoryCgroupDir("rel", "c1", "8:pids:/\n", false), "");  // no memory line
}

TEST(MonitorOom, ParsesTheOomKillCounterOfMemoryEvents) {
  uint64_t n = 0;
  ASSERT_TRUE(
      lcdmon::ParseOomKill("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n", &n));
  EXPECT_EQ(n, 2u);
  EXPECT_FALSE(lcdmon::ParseOomKill("low 0\noom 3\n", &n));
  EXPECT_FALSE(lcdmon::ParseOomKill("", &n));
}

class MonitorIo : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lcdmon-io-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* n : {"in", "out", "err"}) ASSERT_EQ(mkfifo((dir_ + "/" + n).c_str(), 0600), 0);
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  std::string P(const char* n) { return dir_ + "/" + n; }
  std::string dir_;
};

TEST_F(MonitorIo, WithoutTerminalTheRuntimeGetsTheFifosAndNoWriteFailsWhenNobodyReads) {
  lcdmon::ProcessIo io;
  int in_w = open(P("in").c_str(), O_RDWR | O_CLOEXEC);  // the library's ends
  int out_r = open(P("out").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_EQ(io.Open({P("in"), P("out"), ""}, false), "");
  ASSERT_GE(io.child_fd(0), 0);
  EXPECT_EQ(fcntl(io.child_fd(1), F_GETFL) & O_NONBLOCK, 0);  // the container gets blocking fds
  close(out_r);                                               // the caller went away
  signal(SIGPIPE, SIG_IGN);
  EXPECT_EQ(write(io.child_fd(1), "x", 1), 1);  // no EPIPE: the monitor keeps a read end
  EXPECT_EQ(write(io.child_fd(2), "y", 1), 1);  // stderr "" is /dev/null
  signal(SIGPIPE, SIG_DFL);
  io.CloseChildFds();
  EXPECT_LT(io.child_fd(1), 0);
  close(in_w);
}

TEST_F(MonitorIo, AMissingFifoIsNamedInTheError) {
  lcdmon::ProcessIo io;
  std::string err = io.Open({P("nope"), "", ""}, false);
  EXPECT_NE(err.find(P("nope")), std::string::npos) << err;
}

// Pumps until `done` or `limit`.
template <typename F>
bool PumpUntil(lcdmon::ProcessIo& io, F done,
               std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    pollfd fds[3];
    int n = io.PollFds(fds);
    poll(fds, n, 20);
    io.Pump();
  }
  return true;
}

TEST_F(MonitorIo, TerminalCopiesBothWaysAndStdinEofEndsAReadingProcess) {
  int master = -1, slave = -1;
  ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  termios t{};
  tcgetattr(slave, &t);
  t.c_lflag &= ~ECHO;  // only the process's own output below
  tcsetattr(slave, TCSANOW, &t);
  int in_w = open(P("in").c_str(), O_RDWR | O_CLOEXEC);
  int out_r = open(P("out").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  lcdmon::ProcessIo io;
  ASSERT_EQ(io.Open({P("in"), P("out"), ""}, true), "");
  io.SetMaster(lcdmon::Fd(master));
  ASSERT_TRUE(io.has_master());
  EXPECT_EQ(io.Resize(100, 30), "");
  winsize ws{};
  ioctl(slave, TIOCGWINSZ, &ws);
  EXPECT_EQ(ws.ws_col, 100);
  EXPECT_EQ(ws.ws_row, 30);

  // stdin -> master, then the caller closes stdin after an unfinished line (its end, and the
  // monitor's own writer on close_stdin): the process reads "abc" and then EOF (read returns 0),
  // as `echo -n abc | run -t cat` needs. While the monitor's writer is open, the caller's close
  // alone is no EOF (stdin outlives the calling program, as with containerd's shim).
  ASSERT_EQ(write(in_w, "abc", 3), 3);
  close(in_w);
  std::string got_before;
  {
    std::string early;
    bool early_eof = false;
    fcntl(slave, F_SETFL, O_NONBLOCK);
    PumpUntil(
        io,
        [&] {
          char buf[64];
          ssize_t n = read(slave, buf, sizeof buf);
          if (n > 0) early.append(buf, static_cast<size_t>(n));
          if (n == 0) early_eof = true;
          return early_eof;
        },
        std::chrono::milliseconds(300));
    EXPECT_FALSE(early_eof) << "EOF before close_stdin";
    ASSERT_EQ(early.find('\x04'), std::string::npos) << "EOF char before close_stdin";
    io.CloseStdin();
    got_before = early;
  }
  std::string got = got_before;
  bool eof = false;
  ASSERT_TRUE(PumpUntil(io, [&] {
    char buf[64];
    ssize_t n = read(slave, buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    if (n == 0) eof = true;
    return eof;
  }));
  EXPECT_EQ(got, "abc");

  // master -> stdout FIFO; the slave's close ends the copy and the FIFO reader sees EOF.
  ASSERT_EQ(write(slave, "out\n", 4), 4);
  close(slave);
  std::string out;
  bool out_eof = false;
  ASSERT_TRUE(PumpUntil(io, [&] {
    char buf[64];
    ssize_t n = read(out_r, buf, sizeof buf);
    if (n > 0) out.append(buf, static_cast<size_t>(n));
    if (n == 0 && !out.empty()) out_eof = true;
    return out_eof;
  }));
  EXPECT_EQ(out, "out\r\n");
  close(out_r);
}

}  // namespace
