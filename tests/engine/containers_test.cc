// The docker CLI's everyday container commands against lcd-engine: version, pull with progress,
// run (output and exit codes), inspect, ps with filters, stats, top, rename, wait, rm -f.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "engine_fixture.h"

namespace {

using namespace enginetest;
using json = nlohmann::json;
namespace fs = std::filesystem;

using EngineSystemTest = EngineApiTest;
using EngineImageTest = EngineApiTest;
using EngineRunTest = EngineTest;
using EngineContainerTest = EngineTest;

std::set<std::string> LineSet(const std::string& s) {
  std::set<std::string> out;
  for (const auto& l : Lines(s))
    if (!Trim(l).empty()) out.insert(Trim(l));
  return out;
}

TEST_F(EngineSystemTest, VersionReportsApi141OrNewer) {
  auto r = D({"version", "--format", "{{.Server.APIVersion}}"});
  ASSERT_EQ(r.code, 0) << r.why();
  std::string v = Trim(r.out);
  int major = 0, minor = 0;
  char dot = 0;
  std::istringstream in(v);
  in >> major >> dot >> minor;
  ASSERT_TRUE(in && dot == '.') << "not an API version: '" << v << "'";
  EXPECT_TRUE(major > 1 || (major == 1 && minor >= 41)) << "API version " << v;
}

TEST_F(EngineImageTest, PullShowsLayerProgressAndDigest) {
  Cleanup c;
  std::string ref = RegistryHost() + "/pulltest:latest";
  c.AddImage(ref);
  auto r = D({"pull", ref}, 120s);
  ASSERT_EQ(r.code, 0) << r.why();
  EXPECT_TRUE(Contains(r.out, "Pull complete") || Contains(r.out, "Already exists")) << r.why();
  EXPECT_TRUE(Contains(r.out, "Digest: sha256:")) << r.why();
  auto id = D({"image", "inspect", "--format", "{{.Id}}", ref});
  ASSERT_EQ(id.code, 0) << id.why();
  EXPECT_EQ(Trim(id.out).rfind("sha256:", 0), 0u) << id.why();
}

TEST_F(EngineRunTest, RunRmPrintsOutputAndRemovesContainer) {
  Cleanup c;
  std::string name = c.Container("echo");
  auto r = D({"run", "--rm", "--name", name, Busybox(), "echo", "hi"});
  ASSERT_EQ(r.code, 0) << r.why();
  EXPECT_EQ(r.out, "hi\n") << r.why();
  EXPECT_TRUE(WaitFor(
      [&] {
        return D({"container", "inspect", name}).code != 0;
      },
      10s))
      << "--rm left container " << name;
}

TEST_F(EngineRunTest, RunExitCodesFollowDocker) {
  struct Case {
    std::vector<std::string> args;
    int code;
    const char* what;
  };
  Cleanup c;
  std::string net = "etnonet" + std::to_string(getpid());
  std::vector<Case> cases = {
      {{Busybox(), "true"}, 0, "success"},
      {{Busybox(), "sh", "-c", "exit 3"}, 3, "the command's exit code"},
      {{"--network", net, Busybox(), "true"}, 125, "engine refused (no such network)"},
      {{Busybox(), "/etc/passwd"}, 126, "not executable"},
      {{Busybox(), "etnosuchcommand"}, 127, "command not found"},
  };
  for (const auto& k : cases) {
    std::vector<std::string> args = {"run", "--name", c.Container("exit")};
    args.insert(args.end(), k.args.begin(), k.args.end());
    auto r = D(args, 30s);
    EXPECT_EQ(r.code, k.code) << k.what << "\n" << r.why();
  }
}

TEST_F(EngineRunTest, RunRmOfACommandThatCannotStartEndsAndRemovesTheContainer) {
  Cleanup c;
  std::string name = c.Container("rm-nostart");
  // docker run --rm waits for the removal (wait?condition=removed) after the failed start.
  auto r = D({"run", "--rm", "--name", name, Busybox(), "etnosuchcommand"}, 30s);
  EXPECT_EQ(r.code, 127) << r.why();
  EXPECT_TRUE(Contains(r.err, "etnosuchcommand")) << r.why();
  EXPECT_TRUE(WaitFor(
      [&] {
        return D({"container", "inspect", name}).code != 0;
      },
      10s))
      << "--rm left container " << name << " after its start failed";
}

TEST_F(EngineContainerTest, InspectShowsStateCmdAddressAndBindMount) {
  Cleanup c;
  std::string dir = "/tmp/etbind-" + std::to_string(getpid());
  fs::create_directories(dir);
  std::ofstream(dir + "/f.txt") << "from the host\n";
  std::string name = c.Container("inspect");
  auto r = D({"run", "-d", "--name", name, "-v", dir + ":/data", Busybox(), "sleep", "100"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto i = D({"inspect", name});
  ASSERT_EQ(i.code, 0) << i.why();
  json all = json::parse(i.out, nullptr, false);
  ASSERT_TRUE(all.is_array() && all.size() == 1) << i.why();
  const json& j = all[0];
  EXPECT_EQ(j.value("/State/Running"_json_pointer, false), true) << j.dump(2);
  EXPECT_EQ(j.value("/State/ExitCode"_json_pointer, -1), 0) << j.dump(2);
  EXPECT_EQ(j.value("/Config/Cmd"_json_pointer, json()), json({"sleep", "100"})) << j.dump(2);
  EXPECT_EQ(j.value("/Name"_json_pointer, std::string()), "/" + name);
  EXPECT_FALSE(j.value("/NetworkSettings/IPAddress"_json_pointer, std::string()).empty())
      << "no IP address on the default bridge: " << j.dump(2);
  bool found = false;
  for (const auto& m : j.value("Mounts", json::array())) {
    if (m.value("Destination", "") == "/data") {
      found = true;
      EXPECT_EQ(m.value("Type", ""), "bind") << m.dump();
      EXPECT_EQ(m.value("Source", ""), dir) << m.dump();
      EXPECT_EQ(m.value("RW", false), true) << m.dump();
    }
  }
  EXPECT_TRUE(found) << "no Mounts entry for /data: " << j.dump(2);
  auto cat = D({"exec", name, "cat", "/data/f.txt"});
  EXPECT_EQ(cat.out, "from the host\n") << cat.why();

  std::string exited = c.Container("inspect-exited");
  auto e = D({"run", "--name", exited, Busybox(), "sh", "-c", "exit 4"});
  EXPECT_EQ(e.code, 4) << e.why();
  auto s = D(
      {"inspect", "--format", "{{.State.Running}} {{.State.ExitCode}} {{.State.Status}}", exited});
  EXPECT_EQ(Trim(s.out), "false 4 exited") << s.why();
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST_F(EngineContainerTest, PsFiltersByStatusNameAndLabel) {
  Cleanup c;
  std::string running = c.Container("ps-running");
  std::string exited = c.Container("ps-exited");
  std::string label = "etier=" + std::to_string(getpid());
  auto r1 = D({"run", "-d", "--name", running, "--label", label + "-a", Busybox(), "sleep", "100"});
  ASSERT_EQ(r1.code, 0) << r1.why();
  auto r2 = D({"run", "--name", exited, "--label", label + "-b", Busybox(), "true"});
  ASSERT_EQ(r2.code, 0) << r2.why();

  auto names = [](std::vector<std::string> filters, bool all) {
    std::vector<std::string> args = {"ps", "--format", "{{.Names}}"};
    if (all) args.push_back("-a");
    for (const auto& f : filters) {
      args.push_back("--filter");
      args.push_back(f);
    }
    auto r = D(args);
    EXPECT_EQ(r.code, 0) << r.why();
    return LineSet(r.out);
  };
  using S = std::set<std::string>;
  EXPECT_EQ(names({"name=" + running}, false), S{running});
  EXPECT_EQ(names({"name=" + exited}, false), S{}) << "ps without -a lists an exited container";
  EXPECT_EQ(names({"name=" + exited}, true), S{exited});
  EXPECT_EQ(names({"label=" + label + "-a"}, true), S{running});
  EXPECT_EQ(names({"label=" + label + "-b"}, true), S{exited});
  EXPECT_EQ(names({"status=exited", "name=et" + std::to_string(getpid()) + "-ps-"}, true),
            S{exited});
  EXPECT_EQ(names({"status=running", "name=et" + std::to_string(getpid()) + "-ps-"}, true),
            S{running});
}

TEST_F(EngineContainerTest, StatsNoStreamShowsCpuAndMemory) {
  Cleanup c;
  std::string name = c.Container("stats");
  auto r = D({"run", "-d", "--name", name, Busybox(), "sleep", "100"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto s = D({"stats", "--no-stream", "--format", "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}", name});
  ASSERT_EQ(s.code, 0) << s.why();
  std::smatch m;
  std::string line = Trim(s.out);
  std::regex re(
      R"(^([^|]*)\|([0-9]+(\.[0-9]+)?)%\|([0-9]+(\.[0-9]+)?)([KMGT]i)?B / [0-9.]+([KMGT]i)?B$)");
  ASSERT_TRUE(std::regex_match(line, m, re)) << "not 'NAME|CPU%|USAGE / LIMIT': " << s.why();
  EXPECT_EQ(m[1].str(), name);
  EXPECT_GT(std::atof(m[4].str().c_str()), 0.0)
      << "memory usage of a running container is 0: " << s.why();
}

TEST_F(EngineContainerTest, TopListsTheContainersProcesses) {
  Cleanup c;
  std::string name = c.Container("top");
  auto r = D({"run", "-d", "--name", name, Busybox(), "sleep", "123"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto t = D({"top", name});
  ASSERT_EQ(t.code, 0) << t.why();
  auto lines = Lines(t.out);
  ASSERT_GE(lines.size(), 2u) << t.why();
  EXPECT_TRUE(Contains(lines[0], "PID")) << t.why();
  EXPECT_TRUE(Contains(t.out, "sleep 123")) << t.why();
}

TEST_F(EngineContainerTest, RenameChangesTheName) {
  Cleanup c;
  std::string before = c.Container("rename-a");
  std::string after = c.Container("rename-b");
  auto r = D({"run", "-d", "--name", before, Busybox(), "sleep", "100"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto n = D({"rename", before, after});
  ASSERT_EQ(n.code, 0) << n.why();
  auto i = D({"inspect", "--format", "{{.Name}} {{.State.Running}}", after});
  EXPECT_EQ(Trim(i.out), "/" + after + " true") << i.why();
  auto old = D({"container", "inspect", before});
  EXPECT_NE(old.code, 0) << "the old name still resolves: " << old.why();
}

TEST_F(EngineContainerTest, WaitPrintsTheExitCode) {
  Cleanup c;
  std::string name = c.Container("wait");
  auto r = D({"run", "-d", "--name", name, Busybox(), "sh", "-c", "sleep 1; exit 7"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto w = D({"wait", name});
  EXPECT_EQ(w.code, 0) << w.why();
  EXPECT_EQ(Trim(w.out), "7") << w.why();
}

TEST_F(EngineContainerTest, RmForceRemovesARunningContainer) {
  Cleanup c;
  std::string name = c.Container("rmf");
  auto r = D({"run", "-d", "--name", name, Busybox(), "sleep", "100"});
  ASSERT_EQ(r.code, 0) << r.why();
  auto plain = D({"rm", name});
  EXPECT_NE(plain.code, 0) << "rm without -f removed a running container: " << plain.why();
  auto f = D({"rm", "-f", name});
  ASSERT_EQ(f.code, 0) << f.why();
  EXPECT_EQ(Trim(f.out), name) << f.why();
  auto i = D({"container", "inspect", name});
  EXPECT_NE(i.code, 0) << i.why();
  EXPECT_TRUE(Contains(i.err, "No such container")) << i.why();
}

}  // namespace
