// lcd-monitor's runtime runner (tools/lcd-monitor/runtime.cc): the runtime's errors from its JSON
// log or stderr, `ps` output, and other children reaped while a runtime call runs.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "../../tools/lcd-monitor/flags.h"
#include "../../tools/lcd-monitor/runtime.h"

namespace {

TEST(MonitorRuntime, LastLogErrorIsTheRuntimesLastErrorLine) {
  std::string log = R"({"level":"warning","msg":"a warning","time":"t"})"
                    "\n"
                    R"({"level":"error","msg":"first","time":"t"})"
                    "\nnot json\n"
                    R"({"level":"error","msg":"exec: \"x\": not found","time":"t"})"
                    "\n"
                    R"({"level":"info","msg":"later info","time":"t"})"
                    "\n";
  EXPECT_EQ(lcdmon::LastLogError(log), "exec: \"x\": not found");
  EXPECT_EQ(lcdmon::LastLogError(""), "");
  EXPECT_EQ(lcdmon::LastLogError(R"({"level":"info","msg":"fine"})"), "");
}

TEST(MonitorRuntime, ParsesPsJson) {
  std::vector<int> pids;
  ASSERT_TRUE(lcdmon::ParsePids("[12,34]\n", &pids));
  EXPECT_EQ(pids, (std::vector<int>{12, 34}));
  ASSERT_TRUE(lcdmon::ParsePids("null", &pids));
  EXPECT_TRUE(pids.empty());
  EXPECT_FALSE(lcdmon::ParsePids("PID CMD", &pids));
  EXPECT_FALSE(lcdmon::ParsePids(R"(["a"])", &pids));
}

// Records the exits the runner hands over.
struct Sink : lcdmon::ChildSink {
  std::vector<std::pair<int, int>> exits;
  void OnChildExit(int pid, int status) override { exits.emplace_back(pid, status); }
};

// A fake runtime (a shell script) in a temporary task directory; SIGCHLD blocked meanwhile, as
// in the monitor.
class MonitorRuntimeRun : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lcdmon-rt-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old_);
  }
  void TearDown() override {
    sigprocmask(SIG_SETMASK, &old_, nullptr);
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  lcdmon::Options Script(const std::string& body) {
    std::string path = dir_ + "/fake-runtime";
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0755);
    lcdmon::Options o;
    o.runtime = path;
    o.runtime_root = dir_ + "/root";
    o.task_dir = dir_;
    return o;
  }
  std::string dir_;
  sigset_t old_;
};

TEST_F(MonitorRuntimeRun, PassesTheGlobalOptionsAndCapturesOutput) {
  lcdmon::Options o = Script("echo \"$@\"");
  o.runtime_args = {"--systemd-cgroup"};
  Sink sink;
  lcdmon::Reaper reaper;
  ASSERT_EQ(reaper.Init(&sink), "");
  lcdmon::Runtime rt(o, &reaper);
  lcdmon::RuntimeCall call;
  call.args = {"state", "c1"};
  lcdmon::RuntimeResult r = rt.Run(call);
  ASSERT_TRUE(r.ok()) << r.Message();
  EXPECT_EQ(r.out, "--systemd-cgroup --root " + dir_ + "/root --log " + dir_ +
                       "/runtime.log --log-format json state c1\n");
}

TEST_F(MonitorRuntimeRun, AFailureGivesTheLogsErrorElseStderr) {
  Sink sink;
  lcdmon::Reaper reaper;
  ASSERT_EQ(reaper.Init(&sink), "");
  lcdmon::Options o = Script(
      "for a; do case $prev in --log) log=$a;; esac; prev=$a; done\n"
      "echo '{\"level\":\"error\",\"msg\":\"container does not exist\"}' >> \"$log\"\n"
      "echo noise >&2; exit 1");
  lcdmon::Runtime rt(o, &reaper);
  lcdmon::RuntimeCall call;
  call.args = {"start", "c1"};
  lcdmon::RuntimeResult r = rt.Run(call);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.Message(), "container does not exist");
  lcdmon::Runtime rt2(Script("echo 'plain failure' >&2; exit 2"), &reaper);
  r = rt2.Run(call);  // the log of the previous call was truncated: only stderr is left
  EXPECT_EQ(r.Message(), "plain failure");
}

TEST_F(MonitorRuntimeRun, AMissingBinaryIsENOENT) {
  Sink sink;
  lcdmon::Reaper reaper;
  ASSERT_EQ(reaper.Init(&sink), "");
  lcdmon::Options o = Script("true");
  o.runtime = "lcd-no-such-runtime-binary";
  lcdmon::Runtime rt(o, &reaper);
  lcdmon::RuntimeCall call;
  call.args = {"create", "c1"};
  lcdmon::RuntimeResult r = rt.Run(call);
  EXPECT_EQ(r.spawn_errno, ENOENT);
}

TEST_F(MonitorRuntimeRun, ChildrenThatExitDuringTheCallGoToTheSink) {
  Sink sink;
  lcdmon::Reaper reaper;
  ASSERT_EQ(reaper.Init(&sink), "");
  pid_t other = fork();
  if (other == 0) {
    usleep(50 * 1000);
    _exit(9);
  }
  lcdmon::Runtime rt(Script("sleep 0.3; exit 0"), &reaper);
  lcdmon::RuntimeCall call;
  call.args = {"start", "c1"};
  lcdmon::RuntimeResult r = rt.Run(call);
  EXPECT_TRUE(r.ok()) << r.Message();
  ASSERT_EQ(sink.exits.size(), 1u);  // the other child, not the runtime itself
  EXPECT_EQ(sink.exits[0].first, other);
  EXPECT_TRUE(WIFEXITED(sink.exits[0].second) && WEXITSTATUS(sink.exits[0].second) == 9);
}

TEST_F(MonitorRuntimeRun, ARuntimeThatHangsIsKilledAtTheTimeout) {
  Sink sink;
  lcdmon::Reaper reaper;
  ASSERT_EQ(reaper.Init(&sink), "");
  lcdmon::Runtime rt(Script("exec sleep 30"), &reaper);
  lcdmon::RuntimeCall call;
  call.args = {"pause", "c1"};
  call.timeout_ms = 200;
  lcdmon::RuntimeResult r = rt.Run(call);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
}

}  // namespace
