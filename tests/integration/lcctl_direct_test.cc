// lcctl --backend direct (issue 19): the container commands on the daemonless backend, no
// containerd involved: run (foreground, detached, stdin, exit codes), container ls/info/rm,
// task ls/exec/kill/delete, version; bad flags; nothing left (state, monitors).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "direct_test_fixture.h"
#include "harness.h"
#include "run_program.h"
#include "test_util.h"

#ifndef LCCTL_PATH
#error "LCCTL_PATH must name the lcctl binary"
#endif

namespace {

using lcdtest::Describe;
using lcdtest::Exec;
using lcdtest::Result;

class LcctlDirect : public ::testing::Test {
 protected:
  void TearDown() override {
    // Whatever a failed test left: kill and remove, then check the root holds no container.
    for (const auto& id : {"d-fg", "d-bg", "d-in"}) Run({"container", "rm", "-f", id});
    for (pid_t p : lcdtest::MonitorsUnder(root_)) ::kill(p, SIGKILL);  // what rm could not stop
    std::error_code ec;
    EXPECT_TRUE(!std::filesystem::exists(root_ + "/direct/" + ns_, ec))
        << "state left under " << root_;
    std::filesystem::remove_all(root_, ec);
  }
  std::vector<std::string> Base() const {
    return {LCCTL_PATH, "--backend", "direct", "--root", root_, "-n", ns_};
  }
  Result Run(std::vector<std::string> args, const std::string* input = nullptr) {
    auto argv = Base();
    argv.insert(argv.end(), args.begin(), args.end());
    return Exec(argv, input);
  }
  Result Ok(std::vector<std::string> args, const std::string* input = nullptr) {
    auto argv = Base();
    argv.insert(argv.end(), args.begin(), args.end());
    Result r = Exec(argv, input);
    EXPECT_EQ(r.code, 0) << Describe(argv, r);
    return r;
  }
  // Monitors serving a task of this test's root.
  int MonitorsOfThisRoot() const { return static_cast<int>(lcdtest::MonitorsUnder(root_).size()); }

  std::string root_ = lcdtest::DaemonRoot() + "/lcctl-direct-" + std::to_string(getpid());
  std::string ns_ = "ld" + std::to_string(getpid());
};

TEST_F(LcctlDirect, RunInTheForegroundGivesOutputAndTheExitCodeWithoutContainerd) {
  Result r = Ok({"run", "--rm", "--rootfs", lcdtest::Rootfs(), "d-fg", "echo", "hello"});
  EXPECT_EQ(r.out, "hello\n");
  r = Run({"run", "--rm", "--rootfs", lcdtest::Rootfs(), "d-fg", "sh", "-c", "exit 7"});
  EXPECT_EQ(r.code, 7) << r.err;
  std::string input = "through stdin\n";
  r = Ok({"run", "--rm", "-i", "--rootfs", lcdtest::Rootfs(), "d-in", "cat"}, &input);
  EXPECT_EQ(r.out, input);
  // A missing binary: docker's 127, and nothing left.
  r = Run({"run", "--rm", "--rootfs", lcdtest::Rootfs(), "d-fg", "/no/such/binary"});
  EXPECT_EQ(r.code, 127) << r.err;
  EXPECT_NE(r.err.find("/no/such/binary"), std::string::npos) << r.err;
  EXPECT_EQ(Ok({"container", "ls", "-q"}).out, "");
  EXPECT_TRUE(lcdtest::Eventually([&] { return MonitorsOfThisRoot() == 0; }))
      << "a monitor outlived its task (they exit just after their delete reply)";
}

TEST_F(LcctlDirect, DetachedContainerIsListedExecKilledAndRemoved) {
  Ok({"run", "-d", "--rootfs", lcdtest::Rootfs(), "d-bg", "sleep", "1000"});
  EXPECT_EQ(MonitorsOfThisRoot(), 1);
  Result r = Ok({"container", "ls"});
  EXPECT_NE(r.out.find("d-bg"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("running"), std::string::npos) << r.out;
  r = Ok({"--json", "container", "info", "d-bg"});
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["task"]["status"], "running") << r.out;
  EXPECT_EQ(j["spec"]["process"]["args"][0], "sleep") << r.out;
  EXPECT_EQ(j["runtime"]["name"], "io.containerd.runc.v2") << r.out;
  r = Ok({"task", "ls"});
  EXPECT_NE(r.out.find("d-bg"), std::string::npos) << r.out;
  // An exec's output and exit code; a second one by id, killed through --exec-id.
  r = Run({"task", "exec", "--exec-id", "e1", "d-bg", "sh", "-c", "echo from exec; exit 3"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.out, "from exec\n");
  Ok({"task", "kill", "-s", "KILL", "d-bg"});
  // The task stops (its exit is kept by the monitor), then goes with delete.
  bool stopped = lcdtest::Eventually(
      [&] {
        return Ok({"task", "ls"}).out.find("stopped") != std::string::npos;
      },
      lcdtest::Scaled(std::chrono::seconds(10)));
  EXPECT_TRUE(stopped);
  Ok({"task", "delete", "d-bg"});
  Ok({"container", "rm", "d-bg"});
  EXPECT_EQ(Ok({"container", "ls", "-q"}).out, "");
  EXPECT_TRUE(lcdtest::Eventually([&] { return MonitorsOfThisRoot() == 0; }))
      << "a monitor outlived its task (they exit just after their delete reply)";
}

TEST_F(LcctlDirect, VersionNamesTheRuntimeAndBadFlagsAreRefused) {
  Result r = Ok({"version"});
  EXPECT_NE(r.out.find("OCI runtime (direct backend)"), std::string::npos) << r.out;
  // The runtime's own version line: "OCI runtime ...:\n  Version:  <runc --version's>".
  const size_t runtime = r.out.find("OCI runtime (direct backend)");
  const size_t at = r.out.find("Version:  ", runtime == std::string::npos ? 0 : runtime);
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string version = r.out.substr(at + 10, r.out.find('\n', at) - at - 10);
  EXPECT_FALSE(version.empty()) << r.out;
  EXPECT_EQ(lcdtest::RunCommand("runc --version").rfind("runc version " + version, 0), 0u)
      << "lcctl says " << version;
  // An unknown backend, and an address (a containerd) with the direct backend: usage errors.
  r = Exec({LCCTL_PATH, "--backend", "bogus", "--root", root_, "container", "ls"});
  EXPECT_EQ(r.code, 125);
  EXPECT_NE(r.err.find("unknown backend \"bogus\""), std::string::npos) << r.err;
  r = Run({"-a", "/run/containerd/containerd.sock", "container", "ls"});
  EXPECT_EQ(r.code, 125);
  EXPECT_NE(r.err.find("the direct backend has none"), std::string::npos) << r.err;
  // No image store on this backend: a clear error, exit 125.
  r = Run({"image", "ls"});
  EXPECT_EQ(r.code, 125);
  EXPECT_NE(r.err.find("this backend has no image store"), std::string::npos) << r.err;
}

}  // namespace
