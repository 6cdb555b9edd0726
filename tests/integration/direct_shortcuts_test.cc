// The runtime calls lcd-monitor makes without the runtime (docs/direct-backend.md, "Runtime calls
// the monitor makes without the runtime"): `start` through runc's exec.fifo and `delete` of a
// stopped container (its cgroups and runc's state directory), each leaving runc's own view
// right; and the fall-back to the runtime when the spec has what only the runtime does (a
// poststop hook). A wrapper runtime logs each command it is given.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "direct_test_fixture.h"

namespace lcdtest {
namespace {
using namespace libcontainerd;

class DirectShortcutsTest : public DirectTest {
 protected:
  void SetUp() override {
    DirectTest::SetUp();
    ASSERT_FALSE(monitor_.empty()) << "no lcd-monitor: build it or set LCD_MONITOR";
    char tmpl[] = "/tmp/lcd-shortcuts-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    wrapper_ = tmp_ + "/runc-logged";
    calls_ = tmp_ + "/calls";
    std::ofstream(wrapper_) << "#!/bin/sh\necho \"$*\" >> " << calls_ << "\nexec runc \"$@\"\n";
    ASSERT_EQ(::chmod(wrapper_.c_str(), 0755), 0);
    auto o = ClientOptions(backend_ = std::make_shared<RecordingBackend>());
    o.runtime = wrapper_;
    client_ = NewDirectClient(o);
  }
  void TearDown() override {
    DirectTest::TearDown();
    std::error_code ec;
    std::filesystem::remove_all(tmp_, ec);
  }
  // The runtime commands run so far (the word after the global options).
  std::vector<std::string> Commands() const {
    std::vector<std::string> out;
    std::ifstream in(calls_);
    static const std::regex cmd(R"(--log-format json (\S+))");
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (std::regex_search(line, m, cmd)) out.push_back(m[1]);
    }
    return out;
  }
  std::string RuncStatus(const std::string& id) const {
    std::string out = RunCommand("runc --root " + RuntimeRoot() + " state " + id + " 2>/dev/null");
    std::smatch m;
    static const std::regex status(R"re("status":\s*"(\w+)")re");
    return std::regex_search(out, m, status) ? std::string(m[1]) : "";
  }
  static std::string RunCommand(const std::string& cmd) {
    std::string out;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
      ::pclose(f);
    }
    return out;
  }
  std::string MemoryCgroup(const std::string& id) const {
    return "/sys/fs/cgroup/memory/lcd/" + ns_ + "/" + id;
  }
  std::string tmp_, wrapper_, calls_;
};

TEST_F(DirectShortcutsTest, StartAndDeleteNeedNoRuntimeProcessAndRuncSeesTheSameStates) {
  auto c = Create("sc1", {"sleep", "30"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  EXPECT_EQ(RuncStatus("sc1"), "created");
  EXPECT_TRUE(PathExists(RuntimeRoot() + "/sc1/exec.fifo"));
  task->Start(ctx_);
  EXPECT_EQ(RuncStatus("sc1"), "running") << "exec.fifo is removed, as runc start does";
  EXPECT_FALSE(PathExists(RuntimeRoot() + "/sc1/exec.fifo"));
  EXPECT_EQ(task->GetStatus(ctx_).status, Status::kRunning);
  ASSERT_TRUE(backend_->WaitForEvent("sc1", EventType::kStart));
  const bool v1_memory = PathExists("/sys/fs/cgroup/memory/lcd");
  if (v1_memory) {
    EXPECT_TRUE(PathExists(MemoryCgroup("sc1")));
  }
  task->Kill(ctx_, SIGKILL);
  EXPECT_EQ(task->Wait(ctx_).exit_code, 128u + SIGKILL);
  task->Delete(ctx_);
  EXPECT_FALSE(RuntimeKnows("sc1"));
  EXPECT_FALSE(PathExists(RuntimeRoot() + "/sc1"));
  if (v1_memory) {
    EXPECT_FALSE(PathExists(MemoryCgroup("sc1"))) << "the cgroups are removed";
  }
  c->Delete(ctx_);
  EXPECT_EQ(Commands(), (std::vector<std::string>{"create"}))
      << "start and delete ran no runtime process";
  EXPECT_TRUE(Leftovers().empty()) << testing::PrintToString(Leftovers());
}

TEST_F(DirectShortcutsTest, ACreatedTaskIsDeletedWithoutTheRuntime) {
  auto c = Create("sc2", {"true"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  EXPECT_EQ(RuncStatus("sc2"), "created");
  task->Delete(ctx_);
  EXPECT_FALSE(RuntimeKnows("sc2"));
  EXPECT_FALSE(PathExists(RuntimeRoot() + "/sc2"));
  if (PathExists("/sys/fs/cgroup/memory/lcd")) {
    EXPECT_FALSE(PathExists(MemoryCgroup("sc2")));
  }
  c->Delete(ctx_);
  EXPECT_EQ(Commands(), (std::vector<std::string>{"create"}));
}

TEST_F(DirectShortcutsTest, APoststopHookIsLeftToTheRuntime) {
  const std::string mark = tmp_ + "/poststop-ran";
  auto spec = SpecOf("sc3", {"true"});
  spec.hooks.emplace();
  spec.hooks->poststop.push_back({.path = "/bin/sh", .args = {"sh", "-c", "touch " + mark}});
  auto c = client_->NewContainer(ctx_, "sc3", spec, "", RuncOptions{});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  EXPECT_EQ(task->Wait(ctx_).exit_code, 0u);
  task->Delete(ctx_);
  EXPECT_TRUE(PathExists(mark)) << "runc delete ran the poststop hook";
  EXPECT_FALSE(RuntimeKnows("sc3"));
  c->Delete(ctx_);
  EXPECT_EQ(Commands(), (std::vector<std::string>{"create", "delete"}));
}

TEST_F(DirectShortcutsTest, WithShortcutsOffEveryStepIsARuntimeCall) {
  ::setenv("LCD_MONITOR_NO_SHORTCUTS", "1", 1);  // the monitor inherits it at NewTask
  auto c = Create("sc4", {"true"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  ::unsetenv("LCD_MONITOR_NO_SHORTCUTS");
  task->Start(ctx_);
  EXPECT_EQ(task->Wait(ctx_).exit_code, 0u);
  task->Delete(ctx_);
  EXPECT_FALSE(RuntimeKnows("sc4"));
  c->Delete(ctx_);
  EXPECT_EQ(Commands(), (std::vector<std::string>{"create", "start", "delete"}));
}

}  // namespace
}  // namespace lcdtest
