// lcd-monitor's process table (tools/lcd-monitor/table.cc): reaped pids become exits of the right
// process, and an exec reaped before its pid file was read is matched when it is.
#include <gtest/gtest.h>

#include "../../tools/lcd-monitor/table.h"

namespace {

using lcdmon::Proc;
using lcdmon::ProcessTable;
using lcdmon::ProcState;

TEST(MonitorTable, AReapedPidStopsItsProcessWithStatusAndTime) {
  ProcessTable t;
  Proc& init = t.Add("");
  EXPECT_FALSE(t.SetPid(init, 100));
  init.state = ProcState::kRunning;
  Proc* p = t.Reaped(100, 137, 555);
  ASSERT_EQ(p, &init);
  EXPECT_EQ(init.state, ProcState::kStopped);
  EXPECT_EQ(init.exit_status, 137);
  EXPECT_EQ(init.exited_at, 555);
  EXPECT_EQ(t.FindLive(100), nullptr);        // reaped: no longer a target for kill(2)
  EXPECT_EQ(t.Reaped(100, 0, 556), nullptr);  // a second reaping of that pid is someone else
}

TEST(MonitorTable, AnExecReapedBeforeItsPidFileIsMatchedLater) {
  ProcessTable t;
  t.Add("").pid = 1;
  EXPECT_EQ(t.Reaped(200, 0, 10), nullptr);  // unknown yet
  EXPECT_EQ(t.orphans(), 1u);
  Proc& e = t.Add("e1");
  e.state = ProcState::kRunning;
  EXPECT_TRUE(t.SetPid(e, 200));
  EXPECT_EQ(e.state, ProcState::kStopped);
  EXPECT_EQ(e.exit_status, 0);
  EXPECT_EQ(e.exited_at, 10);
  EXPECT_EQ(t.orphans(), 0u);
}

TEST(MonitorTable, ForgottenOrphansDoNotMatchANewProcess) {
  ProcessTable t;
  t.Reaped(300, 1, 1);  // a runtime helper reaped before the exec call
  t.ForgetOrphans();
  Proc& e = t.Add("e2");
  e.state = ProcState::kRunning;
  EXPECT_FALSE(t.SetPid(e, 300));
  EXPECT_EQ(e.state, ProcState::kRunning);
}

TEST(MonitorTable, OrphansAreBounded) {
  ProcessTable t;
  for (int pid = 1000; pid < 1000 + 3 * static_cast<int>(ProcessTable::kMaxOrphans); ++pid)
    t.Reaped(pid, 0, 0);
  EXPECT_EQ(t.orphans(), ProcessTable::kMaxOrphans);
  Proc& e = t.Add("late");
  EXPECT_TRUE(t.SetPid(
      e, 1000 + 3 * static_cast<int>(ProcessTable::kMaxOrphans) - 1));  // the newest are kept
}

TEST(MonitorTable, FindRemoveAndPointersStayValid) {
  ProcessTable t;
  Proc& a = t.Add("a");
  for (int i = 0; i < 50; ++i) t.Add("x" + std::to_string(i));
  EXPECT_EQ(t.Find("a"), &a);
  t.Remove("a");
  EXPECT_EQ(t.Find("a"), nullptr);
  EXPECT_EQ(t.all().size(), 50u);
}

}  // namespace
