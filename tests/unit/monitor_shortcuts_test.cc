// lcd-monitor's parts of the runtime calls it makes without the runtime (docs/direct-backend.md,
// "Runtime calls the monitor makes without the runtime"): runc's state.json read for what
// decides between the shortcut and the runtime, and the removal of a cgroup tree and of a
// state directory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "../../tools/lcd-monitor/files.h"
#include "../../tools/lcd-monitor/runtime.h"

namespace {

// The shape of runc 1.1's state.json (fields the monitor reads; the rest trimmed).
std::string State(const std::string& hooks, const std::string& namespaces,
                  const std::string& cgroup_extra = "", const std::string& rdt = "") {
  return R"({"id":"c1","init_process_pid":4242,"init_process_start":1,"config":{"namespaces":)" +
         namespaces + R"(,"cgroups":{"path":"/lcd/ns/c1")" + cgroup_extra + R"(},"Hooks":)" +
         hooks +
         R"(},"rootless":false,"cgroup_paths":{"":"/sys/fs/cgroup/unified/lcd/ns/c1",)"
         R"("memory":"/sys/fs/cgroup/memory/lcd/ns/c1"},"intel_rdt_path":")" +
         rdt + R"("})";
}

const char* kOwnPidNs = R"([{"type":"NEWPID","path":""},{"type":"NEWNS","path":""}])";

TEST(MonitorShortcuts, ParsesRuncsStateJson) {
  lcdmon::RuncState st;
  ASSERT_TRUE(lcdmon::ParseRuncState(State("null", kOwnPidNs), &st));
  EXPECT_EQ(st.init_pid, 4242);
  EXPECT_TRUE(st.own_pid_ns);
  EXPECT_FALSE(st.poststart_hooks);
  EXPECT_FALSE(st.poststop_hooks);
  EXPECT_FALSE(st.systemd_cgroup);
  EXPECT_FALSE(st.rootless);
  EXPECT_FALSE(st.intel_rdt);
  std::sort(st.cgroup_paths.begin(), st.cgroup_paths.end());
  EXPECT_EQ(st.cgroup_paths, (std::vector<std::string>{"/sys/fs/cgroup/memory/lcd/ns/c1",
                                                       "/sys/fs/cgroup/unified/lcd/ns/c1"}));
}

TEST(MonitorShortcuts, SeesWhatOnlyTheRuntimeCanDo) {
  lcdmon::RuncState st;
  ASSERT_TRUE(lcdmon::ParseRuncState(
      State(R"({"poststop":[{"path":"/bin/true"}],"poststart":null})", kOwnPidNs), &st));
  EXPECT_TRUE(st.poststop_hooks);
  EXPECT_FALSE(st.poststart_hooks);
  ASSERT_TRUE(lcdmon::ParseRuncState(
      State(R"({"poststart":[{"path":"/bin/true"}],"poststop":[]})", kOwnPidNs), &st));
  EXPECT_TRUE(st.poststart_hooks);
  EXPECT_FALSE(st.poststop_hooks);
  // The host's PID namespace, or one joined by path: runc kills what is left in the cgroup.
  ASSERT_TRUE(lcdmon::ParseRuncState(State("null", R"([{"type":"NEWNS","path":""}])"), &st));
  EXPECT_FALSE(st.own_pid_ns);
  ASSERT_TRUE(
      lcdmon::ParseRuncState(State("null", R"([{"type":"NEWPID","path":"/proc/1/ns/pid"}])"), &st));
  EXPECT_FALSE(st.own_pid_ns);
  ASSERT_TRUE(lcdmon::ParseRuncState(State("null", kOwnPidNs, R"(,"Systemd":true)"), &st));
  EXPECT_TRUE(st.systemd_cgroup);
  ASSERT_TRUE(lcdmon::ParseRuncState(State("null", kOwnPidNs, R"(,"Rootless":true)"), &st));
  EXPECT_TRUE(st.rootless);
  ASSERT_TRUE(lcdmon::ParseRuncState(State("null", kOwnPidNs, "", "/sys/fs/resctrl/c1"), &st));
  EXPECT_TRUE(st.intel_rdt);
}

TEST(MonitorShortcuts, AnotherFormatIsNoRuncState) {
  lcdmon::RuncState st;
  EXPECT_FALSE(lcdmon::ParseRuncState("", &st));
  EXPECT_FALSE(lcdmon::ParseRuncState("[]", &st));
  // crun's status file, youki's state.json: no init_process_pid/config/cgroup_paths.
  EXPECT_FALSE(lcdmon::ParseRuncState(R"({"pid":1,"process-start-time":2,"bundle":"/b"})", &st));
  EXPECT_FALSE(lcdmon::ParseRuncState(
      R"({"ociVersion":"1.0.2","id":"c1","status":"created","pid":7,"bundle":"/b"})", &st));
  EXPECT_FALSE(lcdmon::ParseRuncState(
      R"({"init_process_pid":"7","config":{"namespaces":[],"cgroups":{}},"cgroup_paths":{}})",
      &st));
  EXPECT_FALSE(lcdmon::ParseRuncState(
      R"({"init_process_pid":7,"config":{"namespaces":[],"cgroups":{}},"cgroup_paths":{"a":1}})",
      &st));
}

class MonitorShortcutsFs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lcd-monitor-shortcuts-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(MonitorShortcutsFs, RemoveTreeRemovesFilesFifosAndSubdirectories) {
  const std::string d = dir_ + "/state";
  std::filesystem::create_directories(d + "/sub/deeper");
  std::ofstream(d + "/state.json") << "{}";
  std::ofstream(d + "/sub/deeper/f") << "x";
  ASSERT_EQ(mkfifo((d + "/exec.fifo").c_str(), 0600), 0);
  ASSERT_EQ(symlink(dir_.c_str(), (d + "/link").c_str()), 0);  // removed, not followed
  EXPECT_EQ(lcdmon::RemoveTree(d), "");
  EXPECT_FALSE(std::filesystem::exists(d));
  EXPECT_TRUE(std::filesystem::exists(dir_));
  EXPECT_EQ(lcdmon::RemoveTree(d), "") << "a directory that is not there is no error";
}

TEST_F(MonitorShortcutsFs, RemoveCgroupTreeRemovesOnlyDirectories) {
  // On cgroupfs the files go with their directory; elsewhere a file makes the rmdir fail, which
  // shows that the tree's files are never unlinked.
  const std::string cg = dir_ + "/cg";
  std::filesystem::create_directories(cg + "/child/grandchild");
  EXPECT_EQ(lcdmon::RemoveCgroupTree(cg), "");
  EXPECT_FALSE(std::filesystem::exists(cg));
  std::filesystem::create_directories(cg + "/child");
  std::ofstream(cg + "/child/cgroup.procs") << "1";
  EXPECT_NE(lcdmon::RemoveCgroupTree(cg), "");
  EXPECT_TRUE(std::filesystem::exists(cg + "/child/cgroup.procs"));
  EXPECT_EQ(lcdmon::RemoveCgroupTree(dir_ + "/missing"), "");
}

}  // namespace
