// StatsMany reads the cgroups of the tasks whose cgroup the Client knows directly (issue 20) and
// asks containerd for the rest: the same Stats either way.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/stats.h"
#include "test_util.h"

using namespace libcontainerd;
using lcdtest::ClientTest;
using lcdtest::ContainerdClientTest;

namespace {

// The JSON form of the Stats with every number zeroed: the fields present, list lengths
// included, without their values.
std::string Shape(const Stats& s) {
  static const std::regex number("-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?");
  std::string j = StatsToJsonString(s);
  // The read time is a string in RFC 3339 form: numbers in it zero out the same way.
  return std::regex_replace(j, number, "0");
}

void ExpectSameValues(const Stats& theirs, const Stats& ours, const std::string& id) {
  SCOPED_TRACE(id);
  ASSERT_EQ(ours.metrics.index(), theirs.metrics.index()) << "same cgroup version";
  EXPECT_EQ(Shape(ours), Shape(theirs));
  const StatsSummary t = Summarize(theirs), o = Summarize(ours);
  EXPECT_EQ(o.memory_limit, t.memory_limit);
  EXPECT_EQ(o.memory_limit, 64u << 20) << "the spec's limit";
  EXPECT_EQ(o.pids_current, t.pids_current);
  const uint64_t mem_diff = o.memory_usage > t.memory_usage ? o.memory_usage - t.memory_usage
                                                            : t.memory_usage - o.memory_usage;
  EXPECT_LE(mem_diff, 2u << 20) << o.memory_usage << " vs containerd's " << t.memory_usage;
  // Read after containerd's: CPU time not smaller, and the idle container hardly moved.
  EXPECT_GE(o.cpu_total_ns, t.cpu_total_ns);
  EXPECT_LE(o.cpu_total_ns - t.cpu_total_ns, 50'000'000u);
  if (theirs.v1() && ours.v1()) {
    ASSERT_TRUE(theirs.v1()->pids && ours.v1()->pids);
    EXPECT_EQ(ours.v1()->pids->limit, 40u);
    EXPECT_EQ(ours.v1()->pids->limit, theirs.v1()->pids->limit);
  }
}

}  // namespace

// Three running containers made by this Client (their cgroup is known: read directly), one
// loaded by another Client object (unknown cgroup: containerd's Tasks.Metrics) and one without
// a task (absent), in one StatsMany: each running one has the fields and values containerd's
// Task::GetStats gives for it.
TEST_F(ContainerdClientTest, StatsManyGivesTheFieldsAndValuesOfContainerdsGetStats) {
  std::vector<std::string> ids;
  std::vector<std::shared_ptr<Task>> tasks;
  for (int i = 0; i < 3; ++i) {
    auto opts = Options(lcdtest::UniqueId("statsmany"), {"sleep", "1000"});
    opts.memory_limit = 64 << 20;
    opts.pids_limit = 40;
    auto c = Create(opts);
    auto t = c->NewTask(ctx_, "", false, nullptr);
    t->Start(ctx_);
    ids.push_back(c->ID());
    tasks.push_back(t);
  }
  // A container whose spec this Client never decoded: another Client made it.
  const std::string foreign = lcdtest::UniqueId("statsforeign");
  {
    auto other = NewContainerdClient(lcdtest::TestClientOptions(ns_));
    auto opts = Options(foreign, {"sleep", "1000"});
    opts.memory_limit = 64 << 20;
    opts.pids_limit = 40;
    auto c = other->NewContainer(ctx_, foreign, oci::DefaultSpec(opts), "", RuncOptions{});
    c->NewTask(ctx_, "", false, nullptr)->Start(ctx_);
  }
  auto foreign_task = client_->LoadContainer(ctx_, foreign)->GetTask(ctx_);
  const std::string no_task = Create(lcdtest::UniqueId("statsnotask"), {"true"})->ID();

  // Each container settled: its runc init has exec'd sleep (until then the init's Go threads
  // count in pids.current, and the two reads compared below could straddle the exec).
  std::vector<std::shared_ptr<Task>> every = tasks;
  every.push_back(foreign_task);
  for (auto& t : every)
    ASSERT_TRUE(lcdtest::Eventually([&] { return Summarize(t->GetStats(ctx_)).pids_current == 1; }))
        << "pids.current of " << t->ID() << " never came to 1 (sleep)";

  std::vector<Stats> theirs;
  for (auto& t : tasks) theirs.push_back(t->GetStats(ctx_));
  const Stats foreign_theirs = foreign_task->GetStats(ctx_);
  std::vector<std::string> all = ids;
  all.push_back(foreign);
  all.push_back(no_task);
  auto many = client_->StatsMany(ctx_, all);

  EXPECT_EQ(many.size(), 4u);
  EXPECT_EQ(many.count(no_task), 0u) << "a container without a task is absent";
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ(many.count(ids[i]), 1u) << ids[i];
    ExpectSameValues(theirs[i], many.at(ids[i]), ids[i]);
  }
  ASSERT_EQ(many.count(foreign), 1u);
  ExpectSameValues(foreign_theirs, many.at(foreign), foreign);

  // Once a task is deleted, it is absent (its cgroup is gone; containerd has no task either).
  tasks[0]->ForceDelete(ctx_);
  auto after = client_->StatsMany(ctx_, {ids[0], ids[1]});
  EXPECT_EQ(after.count(ids[0]), 0u);
  EXPECT_EQ(after.count(ids[1]), 1u);
}
