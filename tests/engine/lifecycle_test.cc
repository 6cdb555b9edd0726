// Container lifecycle through lcd-engine with the docker CLI: stop's grace period then SIGKILL,
// update of the memory limit (read back from inspect and the cgroup), events of a container's
// life (since/until), and an image's save | load round trip.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "engine_fixture.h"

namespace {

using namespace enginetest;
namespace fs = std::filesystem;

using EngineStopTest = EngineTest;
using EngineUpdateTest = EngineTest;
using EngineEventsTest = EngineTest;
using EngineSaveLoadTest = EngineTest;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(EngineStopTest, StopWaitsTheTimeoutThenKills) {
  Cleanup c;
  std::string name = c.Container("stop");
  auto r = D({"run", "-d", "--name", name, Busybox(), "sh", "-c", "trap '' TERM; sleep 100"});
  ASSERT_EQ(r.code, 0) << r.why();
  std::this_thread::sleep_for(300ms);  // the trap is set
  auto t0 = std::chrono::steady_clock::now();
  auto s = D({"stop", "-t", "2", name});
  auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  ASSERT_EQ(s.code, 0) << s.why();
  EXPECT_GE(elapsed, 2000) << "stop returned before the 2 s grace period (ms)";
  EXPECT_LT(elapsed, 15000) << "stop did not kill soon after the grace period (ms)";
  auto i = D({"inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", name});
  EXPECT_EQ(Trim(i.out), "false 137") << i.why();
}

TEST_F(EngineUpdateTest, UpdateMemoryLimitReachesInspectAndTheCgroup) {
  Cleanup c;
  std::string name = c.Container("update");
  auto r = D({"run", "-d", "--name", name, Busybox(), "sleep", "100"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto u = D({"update", "-m", "64m", name});
  ASSERT_EQ(u.code, 0) << u.why();
  auto i = D({"inspect", "--format", "{{.HostConfig.Memory}} {{.State.Pid}}", name});
  ASSERT_EQ(i.code, 0) << i.why();
  long long memory = 0, pid = 0;
  std::istringstream(Trim(i.out)) >> memory >> pid;
  EXPECT_EQ(memory, 64LL << 20) << i.why();
  ASSERT_GT(pid, 0) << i.why();
  // The container's memory cgroup, seen from the host: v1 "N:memory:/path", v2 "0::/path".
  std::string v1, v2;
  std::istringstream cg(ReadFile("/proc/" + std::to_string(pid) + "/cgroup"));
  for (std::string line; std::getline(cg, line);) {
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers.empty()) v2 = path;
    std::istringstream list(controllers);
    for (std::string ctl; std::getline(list, ctl, ',');)
      if (ctl == "memory") v1 = path;
  }
  std::string file = !v1.empty() ? "/sys/fs/cgroup/memory" + v1 + "/memory.limit_in_bytes"
                                 : "/sys/fs/cgroup" + v2 + "/memory.max";
  ASSERT_TRUE(fs::exists(file)) << "no memory cgroup file " << file << " for pid " << pid;
  EXPECT_EQ(Trim(ReadFile(file)), std::to_string(64LL << 20)) << file;
}

TEST_F(EngineEventsTest, EventsSinceUntilShowAContainersLife) {
  Cleanup c;
  std::string name = c.Container("events");
  auto since = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  auto r = D({"run", "--name", name, Busybox(), "true"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto rm = D({"rm", name});
  ASSERT_EQ(rm.code, 0) << rm.why();
  auto until = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() +
               1;
  auto e = D({"events", "--since", std::to_string(since), "--until", std::to_string(until),
              "--filter", "type=container", "--format", "{{.Actor.Attributes.name}} {{.Action}}"},
             30s);
  ASSERT_EQ(e.code, 0) << e.why();
  std::vector<std::string> actions;
  for (const auto& l : Lines(e.out))
    if (l.rfind(name + " ", 0) == 0) actions.push_back(l.substr(name.size() + 1));
  // create, start, die, destroy in that order (others, e.g. attach, may be between).
  std::vector<std::string> want = {"create", "start", "die", "destroy"};
  size_t k = 0;
  for (const auto& a : actions)
    if (k < want.size() && a == want[k]) ++k;
  EXPECT_EQ(k, want.size()) << "events of " << name << " lack " << want[k < want.size() ? k : 0]
                            << " (in order create, start, die, destroy): " << e.why();
}

TEST_F(EngineEventsTest, EventsStreamSeesAContainerRunBeside) {
  Cleanup c;
  std::string name = c.Container("evstream");
  Proc events(DockerArgv({"events", "--filter", "container=" + name, "--format",
                          "{{.Action}} {{.Actor.Attributes.name}}"}));
  std::this_thread::sleep_for(500ms);  // subscribed
  auto r = D({"run", "--name", name, Busybox(), "sh", "-c", "exit 2"});
  ASSERT_EQ(r.code, 2) << r.why();
  auto rm = D({"rm", name});
  ASSERT_EQ(rm.code, 0) << rm.why();
  EXPECT_TRUE(events.ReadUntil("destroy " + name, 10s)) << "events printed: " << events.output();
  for (const char* a : {"create ", "start ", "die "})
    EXPECT_TRUE(Contains(events.output(), a + name)) << a << "missing: " << events.output();
}

TEST_F(EngineSaveLoadTest, SaveRmiLoadRoundTrip) {
  Cleanup c;
  std::string ref = RegistryHost() + "/saveme:latest";
  c.AddImage(ref);
  auto p = D({"pull", "-q", ref}, 120s);
  ASSERT_EQ(p.code, 0) << p.why();
  std::string tar = "/tmp/etsave-" + std::to_string(getpid()) + ".tar";
  auto s = D({"save", "-o", tar, ref}, 120s);
  ASSERT_EQ(s.code, 0) << s.why();
  ASSERT_TRUE(fs::exists(tar) && fs::file_size(tar) > 1024) << "save wrote no archive: " << s.why();
  auto rmi = D({"rmi", ref});
  ASSERT_EQ(rmi.code, 0) << rmi.why();
  auto gone = D({"image", "inspect", ref});
  ASSERT_NE(gone.code, 0) << "rmi left the image: " << gone.why();
  auto l = D({"load", "-i", tar}, 120s);
  ASSERT_EQ(l.code, 0) << l.why();
  EXPECT_TRUE(Contains(l.out, "Loaded image")) << l.why();
  auto run = D({"run", "--rm", "--pull", "never", ref, "cat", "/saveme.txt"});
  EXPECT_EQ(run.code, 0) << run.why();
  EXPECT_EQ(run.out, "saved and loaded\n") << run.why();
  std::error_code ec;
  fs::remove(tar, ec);
}

}  // namespace
