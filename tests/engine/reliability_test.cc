// What keeps containers going through lcd-engine (issue 18): restart policies (on-failure:N,
// always after the process is killed, unless-stopped after a stop and an engine restart), live
// restore (the engine killed and started again: running containers adopted, their logs without a
// gap, exits while it was down recorded), log rotation, and names on user-defined networks.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "engine_fixture.h"

namespace {

using namespace enginetest;
namespace fs = std::filesystem;

using EngineRestartPolicyTest = EngineTest;
using EngineLiveRestoreTest = EngineTest;
using EngineLogRotationTest = EngineTest;
using EngineNamesTest = EngineTest;

std::string Inspect(const std::string& name, const std::string& format) {
  return Trim(D({"inspect", "--format", format, name}).out);
}

TEST_F(EngineRestartPolicyTest, OnFailureRestartsExactlyTheGivenNumberOfTimes) {
  Cleanup c;
  std::string name = c.Container("onfail");
  auto r = D(
      {"run", "-d", "--name", name, "--restart", "on-failure:3", Busybox(), "sh", "-c", "exit 1"});
  ASSERT_EQ(r.code, 0) << r.why();
  // 100 + 200 + 400 ms of back-off, then it stays exited.
  ASSERT_TRUE(WaitFor(
      [&] { return Inspect(name, "{{.State.Status}} {{.RestartCount}}") == "exited 3"; }, 60s))
      << Inspect(name, "{{.State.Status}} {{.RestartCount}}") << "\n"
      << EngineLog();
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(Inspect(name, "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}"), "exited 3 1");
  EXPECT_EQ(Inspect(name, "{{.HostConfig.RestartPolicy.Name}}"), "on-failure");
}

TEST_F(EngineRestartPolicyTest, OnFailureDoesNotRestartASuccess) {
  Cleanup c;
  std::string name = c.Container("onok");
  ASSERT_EQ(D({"run", "-d", "--name", name, "--restart", "on-failure", Busybox(), "true"}).code, 0);
  ASSERT_TRUE(WaitFor([&] { return Inspect(name, "{{.State.Status}}") == "exited"; }, 60s));
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(Inspect(name, "{{.State.Status}} {{.RestartCount}}"), "exited 0");
}

TEST_F(EngineRestartPolicyTest, AlwaysRestartsAfterItsProcessIsKilled) {
  Cleanup c;
  std::string name = c.Container("always");
  ASSERT_EQ(D({"run", "-d", "--name", name, "--restart", "always", Busybox(), "sleep", "300"}).code,
            0);
  ASSERT_TRUE(WaitFor([&] { return Inspect(name, "{{.State.Running}}") == "true"; }, 60s));
  pid_t pid = std::stoi(Inspect(name, "{{.State.Pid}}"));
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);  // from outside, as a crash: not a docker stop
  ASSERT_TRUE(WaitFor(
      [&] {
        std::string s = Inspect(name, "{{.State.Running}} {{.RestartCount}} {{.State.Pid}}");
        return s.rfind("true 1 ", 0) == 0 && s != "true 1 " + std::to_string(pid);
      },
      60s))
      << Inspect(name, "{{.State.Status}} {{.RestartCount}} {{.State.Pid}}") << "\n"
      << EngineLog();
  // A stop by the user is final.
  ASSERT_EQ(D({"stop", "-t", "1", name}).code, 0);
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(Inspect(name, "{{.State.Status}} {{.RestartCount}}"), "exited 1");
}

TEST_F(EngineRestartPolicyTest, UnlessStoppedStaysStoppedAcrossAnEngineRestartAlwaysComesBack) {
  Cleanup c;
  std::string stopped = c.Container("unless");
  std::string always = c.Container("alwaysback");
  ASSERT_EQ(D({"run", "-d", "--name", stopped, "--stop-timeout", "1", "--restart", "unless-stopped",
               Busybox(), "sleep", "300"})
                .code,
            0);
  ASSERT_EQ(D({"run", "-d", "--name", always, "--stop-timeout", "1", "--restart", "always",
               Busybox(), "sleep", "300"})
                .code,
            0);
  ASSERT_EQ(D({"stop", "-t", "1", stopped}).code, 0);
  // A graceful stop of the engine stops the running ones (no --live-restore); at its start the
  // `always` one runs again, the stopped `unless-stopped` one does not.
  std::string why = RestartEngine(SIGTERM, 200ms);
  ASSERT_TRUE(why.empty()) << why;
  EXPECT_TRUE(WaitFor([&] { return Inspect(always, "{{.State.Running}}") == "true"; }, 60s))
      << Inspect(always, "{{.State.Status}}") << "\n"
      << EngineLog();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(Inspect(stopped, "{{.State.Status}}"), "exited");
}

TEST_F(EngineRestartPolicyTest, BadPoliciesAreRefusedNamingThem) {
  auto r = D({"create", "--restart", "sometimes", Busybox(), "true"});
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(Contains(r.err, "sometimes")) << r.why();
  auto u = D({"create", "--restart", "always:3", Busybox(), "true"});
  EXPECT_NE(u.code, 0) << u.why();
}

// Numbers printed one a line by the printer; true when they are consecutive (no gap).
bool Consecutive(const std::string& out, int* count, std::string* why) {
  long prev = -1;
  *count = 0;
  for (const auto& l : Lines(out)) {
    std::string t = Trim(l);
    if (t.empty()) continue;
    long v = std::stol(t);
    if (prev >= 0 && v != prev + 1) {
      *why = "after " + std::to_string(prev) + " came " + std::to_string(v);
      return false;
    }
    prev = v;
    ++*count;
  }
  return true;
}

TEST_F(EngineLiveRestoreTest, KilledEngineAdoptsRunningContainersAndKeepsExitsAndLogs) {
  Cleanup c;
  std::string printer = c.Container("printer");
  std::string idle = c.Container("idle");
  ASSERT_EQ(D({"run", "-d", "--name", printer, Busybox(), "sh", "-c",
               "i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done"})
                .code,
            0);
  ASSERT_EQ(D({"run", "-d", "--name", idle, Busybox(), "sleep", "600"}).code, 0);
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::string exiter = c.Container("exiter");
    ASSERT_EQ(D({"run", "-d", "--name", exiter, Busybox(), "sh", "-c", "sleep 2; exit 7"}).code, 0);
    std::string why = RestartEngine(SIGKILL, round == 0 ? 5s : 3s);
    ASSERT_TRUE(why.empty()) << why;
    // The printer runs on; its log has every line, before and after, in order.
    EXPECT_EQ(Inspect(printer, "{{.State.Running}}"), "true") << EngineLog();
    std::this_thread::sleep_for(500ms);
    auto logs = D({"logs", printer});
    ASSERT_EQ(logs.code, 0) << logs.why();
    int count = 0;
    std::string gap;
    EXPECT_TRUE(Consecutive(logs.out, &count, &gap)) << gap;
    EXPECT_GT(count, 20 * (round + 1)) << "too few lines: " << count;
    // The exit while the engine was down is there with its code.
    EXPECT_TRUE(WaitFor([&] { return Inspect(exiter, "{{.State.Status}}") == "exited"; }, 60s));
    EXPECT_EQ(Inspect(exiter, "{{.State.ExitCode}}"), "7");
    // Its die event is published by the engine that found it (with the real code).
    EXPECT_TRUE(WaitFor(
        [&] {
          auto ev =
              D({"events", "--since", "10m", "--until", "0s", "--filter", "container=" + exiter,
                 "--filter", "event=die", "--format", "{{index .Actor.Attributes \"exitCode\"}}"});
          return Trim(ev.out) == "7";
        },
        60s))
        << "no die event with exit code 7 for " << exiter;
    auto ps = D({"ps", "-a", "--filter", "name=" + exiter, "--format", "{{.Status}}"});
    EXPECT_TRUE(Contains(ps.out, "Exited (7)")) << ps.why();
    // The idle one answers exec.
    auto e = D({"exec", idle, "echo", "still-here"});
    EXPECT_EQ(e.code, 0) << e.why();
    EXPECT_EQ(Trim(e.out), "still-here");
    ASSERT_EQ(D({"rm", "-f", exiter}).code, 0);
  }
}

TEST_F(EngineLogRotationTest, MaxSizeAndMaxFileKeepTheEndAndBoundTheDisk) {
  Cleanup c;
  std::string name = c.Container("rotate");
  // About 1 MB of output: lines "line N".
  auto r =
      D({"run", "-d", "--name", name, "--log-opt", "max-size=10k", "--log-opt", "max-file=3",
         Busybox(), "sh", "-c", "i=0; while [ $i -lt 80000 ]; do echo line $i; i=$((i+1)); done"});
  ASSERT_EQ(r.code, 0) << r.why();
  ASSERT_TRUE(WaitFor([&] { return Inspect(name, "{{.State.Status}}") == "exited"; }, 60s));
  auto logs = D({"logs", name});
  ASSERT_EQ(logs.code, 0) << logs.why();
  auto lines = Lines(logs.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(Trim(lines.back()), "line 79999");
  EXPECT_NE(Trim(lines.front()), "line 0") << "rotation kept everything";
  EXPECT_LT(lines.size(), 80000u);
  // The files on disk: the log and at most two rotated ones, each about max-size.
  std::string path = Inspect(name, "{{.LogPath}}");
  uintmax_t total = 0;
  int files = 0;
  for (const auto& e : fs::directory_iterator(fs::path(path).parent_path())) {
    if (e.path().filename().string().rfind(fs::path(path).filename().string(), 0) != 0) continue;
    total += e.file_size();
    ++files;
  }
  EXPECT_LE(files, 3);
  EXPECT_LE(total, 3u * 12 * 1024) << "log files use " << total << " bytes";
  auto bad = D({"run", "--rm", "--log-opt", "max-size=lots", Busybox(), "true"});
  EXPECT_NE(bad.code, 0);
  EXPECT_TRUE(Contains(bad.err, "max-size")) << bad.why();
}

TEST_F(EngineNamesTest, ContainersOnAUserNetworkResolveNamesAndAliases) {
  Cleanup c;
  std::string net = c.Network("names");
  std::string server = c.Container("server");
  ASSERT_EQ(D({"network", "create", net}).code, 0);
  ASSERT_EQ(D({"run", "-d", "--name", server, "--network", net, "--network-alias", "websvc",
               Busybox(), "sleep", "300"})
                .code,
            0);
  std::string ip = Inspect(server, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}");
  ASSERT_FALSE(ip.empty());
  for (const std::string& target : {server, std::string("websvc")}) {
    auto r = D({"run", "--rm", "--network", net, Busybox(), "ping", "-c", "1", "-W", "10", target});
    EXPECT_EQ(r.code, 0) << target << ": " << r.why();
    EXPECT_TRUE(Contains(r.out, ip)) << target << " did not resolve to " << ip << ": " << r.out;
  }
  // The default bridge has no names (docker's rule), and aliases are refused there.
  auto a = D({"run", "--rm", "--network-alias", "x", Busybox(), "true"});
  EXPECT_NE(a.code, 0);
  EXPECT_TRUE(Contains(a.err, "user defined networks") || Contains(a.err, "user-defined networks"))
      << a.why();
}

}  // namespace
