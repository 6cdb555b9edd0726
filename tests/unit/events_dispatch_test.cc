// The event machinery without a daemon: exit de-duplication, stale exits, ordered dispatch.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "events/dispatcher.h"
#include "events/tracker.h"
#include "libcontainerd/log.h"
#include "remote/connection.h"
#include "remote/event_hub.h"
#include "test_util.h"

using namespace libcontainerd;
using namespace libcontainerd::events;
using namespace std::chrono_literals;

namespace {
EventInfo Exit(const std::string& c, const std::string& p, uint32_t pid, uint32_t code = 0) {
  EventInfo i;
  i.container_id = c;
  i.process_id = p;
  i.pid = pid;
  i.exit_code = code;
  return i;
}

struct Collect : Backend {
  std::mutex mu;
  std::vector<std::pair<std::string, EventType>> seen;
  std::function<void(const std::string&)> hook;
  void ProcessEvent(const std::string& id, EventType t, const EventInfo&) override {
    if (hook) hook(id);
    std::lock_guard l(mu);
    seen.emplace_back(id, t);
  }
};
}  // namespace

TEST(TaskTracker, SecondExitOfTheSameInstanceIsADuplicate) {
  TaskTracker t;
  t.TrackTask("c", 10);
  EXPECT_EQ(t.OnExit(Exit("c", "c", 10)), TaskTracker::Verdict::kDeliver);
  EXPECT_EQ(t.OnExit(Exit("c", "c", 10)), TaskTracker::Verdict::kDuplicate);
}

TEST(TaskTracker, ExitOfAReplacedTaskIsStale) {
  TaskTracker t;
  t.TrackTask("c", 10);
  t.UntrackProcess("c", "");
  t.TrackTask("c", 20);  // a new task instance of the same container
  EXPECT_EQ(t.OnExit(Exit("c", "c", 10)), TaskTracker::Verdict::kStale);
  EXPECT_EQ(t.OnExit(Exit("c", "c", 20)), TaskTracker::Verdict::kDeliver);
}

TEST(TaskTracker, ExecExitsAreKeyedByExecIdAndPid) {
  TaskTracker t;
  t.TrackTask("c", 10);
  t.TrackExec("c", "e1", 11);
  EXPECT_EQ(t.OnExit(Exit("c", "e1", 11)), TaskTracker::Verdict::kDeliver);
  EXPECT_EQ(t.OnExit(Exit("c", "e1", 11)), TaskTracker::Verdict::kDuplicate);
  // Reusing the exec id after delete is a new instance (new pid).
  EXPECT_EQ(t.OnExit(Exit("c", "e1", 12)), TaskTracker::Verdict::kDeliver);
}

TEST(TaskTracker, SnapshotListsProcessesWhoseExitWasNotDelivered) {
  TaskTracker t;
  t.TrackTask("a", 1);
  t.TrackTask("b", 2);
  t.TrackExec("b", "x", 3);
  EXPECT_EQ(t.Snapshot().size(), 3u);
  t.OnExit(Exit("a", "a", 1));
  t.OnExit(Exit("b", "x", 3));
  auto s = t.Snapshot();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].container_id, "b");
  EXPECT_EQ(s[0].pid, 2u);
  t.UntrackContainer("b");
  EXPECT_TRUE(t.Snapshot().empty());
}

TEST(TaskTracker, RemembersTheDeliveredExitOfEachInstanceForDelete) {
  TaskTracker t;
  t.TrackTask("c", 10);
  t.TrackExec("c", "e1", 11);
  EXPECT_FALSE(t.DeliveredExit("c", "", 10)) << "no exit delivered yet";
  auto init = Exit("c", "c", 10, 137);
  init.exited_at = SystemTime(std::chrono::seconds(1700000000));
  ASSERT_EQ(t.OnExit(init), TaskTracker::Verdict::kDeliver);
  ASSERT_EQ(t.OnExit(Exit("c", "e1", 11, 3)), TaskTracker::Verdict::kDeliver);
  auto got = t.DeliveredExit("c", "", 10);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->exit_code, 137u);
  EXPECT_EQ(got->exited_at, init.exited_at);
  ASSERT_TRUE(t.DeliveredExit("c", "e1", 11));
  EXPECT_EQ(t.DeliveredExit("c", "e1", 11)->exit_code, 3u);
  EXPECT_FALSE(t.DeliveredExit("c", "", 20)) << "another instance (pid) of the same container";
  EXPECT_FALSE(t.DeliveredExit("c", "e2", 11)) << "another exec id";
  // A duplicate does not overwrite what was delivered.
  EXPECT_EQ(t.OnExit(Exit("c", "c", 10, 0)), TaskTracker::Verdict::kDuplicate);
  EXPECT_EQ(t.DeliveredExit("c", "", 10)->exit_code, 137u);
}

TEST(TaskTracker, AnInitExitWithoutAPidIsStaleWhenNoTaskIsKnown) {
  TaskTracker t;
  t.TrackContainer("c");
  // containerd reports a shim whose create never finished with pid 0: no process of ours ran.
  EXPECT_EQ(t.OnExit(Exit("c", "c", 0, 137)), TaskTracker::Verdict::kStale);
  t.TrackTask("c", 10);
  EXPECT_EQ(t.Snapshot().size(), 1u) << "the running task must stay tracked";
  EXPECT_EQ(t.OnExit(Exit("c", "c", 10, 0)), TaskTracker::Verdict::kDeliver);
}

// containerd's clean-up after a dead shim reports the running task's exit with pid 0.
TEST(TaskTracker, AnInitExitWithoutAPidIsTheRunningTasksExitDeliveredOnce) {
  TaskTracker t;
  t.TrackTask("c", 10);
  EXPECT_EQ(t.OnExit(Exit("c", "c", 0, 137)), TaskTracker::Verdict::kDeliver);
  EXPECT_EQ(t.OnExit(Exit("c", "c", 0, 137)), TaskTracker::Verdict::kDuplicate);
  // The same exit learnt by a Delete (with the task's pid) or from the stream is a duplicate.
  EXPECT_EQ(t.OnExit(Exit("c", "c", 10, 137), true), TaskTracker::Verdict::kDuplicate);
  EXPECT_EQ(t.OnExit(Exit("c", "c", 10, 137)), TaskTracker::Verdict::kDuplicate);
  ASSERT_TRUE(t.DeliveredExit("c", "", 10));
  EXPECT_EQ(t.DeliveredExit("c", "", 10)->exit_code, 137u);
  EXPECT_TRUE(t.Snapshot().empty()) << "an exited task is not reconciled";
  // A task whose exit was delivered: a later pid-0 report is a duplicate, not a second exit.
  t.TrackTask("d", 20);
  EXPECT_EQ(t.OnExit(Exit("d", "d", 20, 0)), TaskTracker::Verdict::kDeliver);
  EXPECT_EQ(t.OnExit(Exit("d", "d", 0, 137)), TaskTracker::Verdict::kDuplicate);
  // The clean-up reports -1 when the bundle's pid file was gone: the same rule.
  t.TrackTask("e", 30);
  EXPECT_EQ(t.OnExit(Exit("e", "e", TaskTracker::kUnknownPid, 137)),
            TaskTracker::Verdict::kDeliver);
  EXPECT_EQ(t.OnExit(Exit("e", "e", 30, 137), true), TaskTracker::Verdict::kDuplicate);
  t.TrackContainer("f");
  EXPECT_EQ(t.OnExit(Exit("f", "f", TaskTracker::kUnknownPid, 137)), TaskTracker::Verdict::kStale);
}

TEST(TaskTracker, ExitsOfAReplacedHalfCreatedTaskAreStaleBeforeAndAfterTheNewTask) {
  TaskTracker t;
  t.TrackContainer("c");
  t.ReplacingTask("c");
  // containerd's exit of the cleared leftover (its runc init had pid 40) before the new task...
  EXPECT_EQ(t.OnExit(Exit("c", "c", 40, 137)), TaskTracker::Verdict::kStale);
  t.TrackTask("c", 50);
  // ...or after it: both stale; the new task's exit is delivered.
  EXPECT_EQ(t.OnExit(Exit("c", "c", 40, 137)), TaskTracker::Verdict::kStale);
  EXPECT_EQ(t.OnExit(Exit("c", "c", 50, 0)), TaskTracker::Verdict::kDeliver);
}

TEST(TaskTracker, AConfirmedExitOfAnOldInstanceIsDeliveredOnceNotStale) {
  TaskTracker t;
  t.TrackTask("c", 10);
  t.UntrackProcess("c", "");  // deleted; its exit (from the Delete) is still on its way
  t.TrackTask("c", 20);       // the next task of the container
  EXPECT_EQ(t.OnExit(Exit("c", "c", 10, 137), true), TaskTracker::Verdict::kDeliver);
  EXPECT_EQ(t.OnExit(Exit("c", "c", 10, 137)), TaskTracker::Verdict::kDuplicate);
  EXPECT_EQ(t.Snapshot().size(), 1u) << "the new task must stay tracked";
  EXPECT_EQ(t.OnExit(Exit("c", "c", 20, 0)), TaskTracker::Verdict::kDeliver);
}

TEST(TaskTracker, UntrackedContainersAreNotTrackedByEvents) {
  TaskTracker t;
  t.TrackTaskIfKnown("foreign", 5);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.OnExit(Exit("foreign", "foreign", 5)), TaskTracker::Verdict::kDeliver);
}

TEST(Dispatcher, KeepsPerContainerOrder) {
  auto b = std::make_shared<Collect>();
  {
    Dispatcher d(b);
    for (int i = 0; i < 200; ++i) {
      d.Post(EventType::kStart, Exit("a", "a", static_cast<uint32_t>(i)));
      d.Post(i % 2 ? EventType::kPaused : EventType::kResumed,
             Exit("b", "b", static_cast<uint32_t>(i)));
    }
    d.Drain();
  }
  std::vector<EventType> b_types;
  int a_count = 0;
  for (auto& [id, t] : b->seen) {
    if (id == "a")
      ++a_count;
    else
      b_types.push_back(t);
  }
  EXPECT_EQ(a_count, 200);
  ASSERT_EQ(b_types.size(), 200u);
  for (size_t i = 0; i < b_types.size(); ++i)
    EXPECT_EQ(b_types[i], i % 2 ? EventType::kPaused : EventType::kResumed) << i;
}

TEST(Dispatcher, ASlowContainerDoesNotBlockAnother) {
  auto b = std::make_shared<Collect>();
  std::atomic<bool> release{false};
  b->hook = [&](const std::string& id) {
    while (id == "slow" && !release) std::this_thread::sleep_for(1ms);
  };
  Dispatcher d(b);
  d.Post(EventType::kStart, Exit("slow", "slow", 1));
  auto t0 = std::chrono::steady_clock::now();
  d.Post(EventType::kExit, Exit("fast", "fast", 2));
  for (;;) {
    {
      std::lock_guard l(b->mu);
      if (!b->seen.empty()) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now() - t0, 1s) << "fast container's event was held up";
    std::this_thread::sleep_for(1ms);
  }
  {
    std::lock_guard l(b->mu);
    EXPECT_EQ(b->seen[0].first, "fast");
  }
  release = true;
  d.Drain();
}

// The destructor delivers every event queued before it began, not only the one in progress.
TEST(Dispatcher, DestructionDeliversEveryQueuedEvent) {
  auto b = std::make_shared<Collect>();
  std::atomic<bool> entered{false}, release{false};
  b->hook = [&](const std::string& id) {
    if (id != "c") return;
    entered = true;
    while (!release) std::this_thread::sleep_for(1ms);
  };
  auto d = std::make_unique<Dispatcher>(b);
  d->Post(EventType::kExecAdded, Exit("c", "e1", 0));
  d->Post(EventType::kExit, Exit("c", "e1", 7));
  d->Post(EventType::kExit, Exit("c", "c", 1));
  ASSERT_TRUE(lcdtest::Eventually([&] { return entered.load(); }, 5s));
  Dispatcher* raw = d.release();
  std::thread destroy([raw] { delete raw; });
  // Post fails once the destructor has begun (its members live until the workers are joined):
  // only then is the first event let go.
  ASSERT_TRUE(lcdtest::Eventually(
      [&] { return !raw->Post(EventType::kStart, Exit("probe", "probe", 2)); }, 5s));
  release = true;
  destroy.join();
  std::vector<EventType> of_c;
  for (const auto& [id, t] : b->seen)
    if (id == "c") of_c.push_back(t);
  EXPECT_EQ(of_c,
            (std::vector<EventType>{EventType::kExecAdded, EventType::kExit, EventType::kExit}));
}

TEST(Dispatcher, DropsNonExitEventsPastTheBoundCountedAndLoggedButNeverExits) {
  auto b = std::make_shared<Collect>();
  std::atomic<bool> release{false};
  b->hook = [&](const std::string&) {
    while (!release) std::this_thread::sleep_for(1ms);
  };
  std::mutex log_mu;
  std::vector<std::string> warnings;
  SetLogSink([&](LogLevel level, std::string_view m) {
    std::lock_guard l(log_mu);
    if (level >= LogLevel::kWarning) warnings.emplace_back(m);
  });
  struct ResetSink {
    ~ResetSink() { SetLogSink(nullptr); }
  } reset_sink;
  Dispatcher d(b);
  size_t accepted = 0;
  constexpr size_t kExtra = 50;
  for (size_t i = 0; i < Dispatcher::kMaxPending + kExtra; ++i)
    accepted += d.Post(EventType::kStart, Exit("c", "c", static_cast<uint32_t>(i)));
  EXPECT_EQ(accepted, Dispatcher::kMaxPending);
  EXPECT_EQ(d.dropped(), kExtra);
  for (uint32_t i = 0; i < 100; ++i) EXPECT_TRUE(d.Post(EventType::kExit, Exit("x", "x", i))) << i;
  EXPECT_EQ(d.dropped(), kExtra) << "an exit must never be dropped";
  {
    std::lock_guard l(log_mu);
    ASSERT_EQ(warnings.size(), 1u) << "one warning when dropping starts, not one per event";
    EXPECT_NE(warnings[0].find("dropping"), std::string::npos) << warnings[0];
  }
  release = true;
  d.Drain();
  {
    std::lock_guard l(b->mu);
    EXPECT_EQ(b->seen.size(), Dispatcher::kMaxPending + 100);
    size_t exits = 0;
    for (const auto& [id, t] : b->seen) exits += id == "x" && t == EventType::kExit;
    EXPECT_EQ(exits, 100u);
  }
  std::lock_guard l(log_mu);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[1].find(std::to_string(kExtra) + " events other than exits were dropped"),
            std::string::npos)
      << warnings[1];
}

// A Backend blocked on 8 containers (twice the minimum of workers) does not hold up a 9th:
// workers are added while every one is busy.
TEST(Dispatcher, ABackendBlockedOnEightContainersDoesNotDelayANinth) {
  auto b = std::make_shared<Collect>();
  std::atomic<bool> release{false};
  std::atomic<int> blocked{0};
  b->hook = [&](const std::string& id) {
    if (id.starts_with("blocked")) {
      ++blocked;
      while (!release) std::this_thread::sleep_for(1ms);
    }
  };
  Dispatcher d(b);
  for (int i = 0; i < 8; ++i) {
    d.Post(EventType::kStart, Exit("blocked" + std::to_string(i), "x", 1));
    d.Post(EventType::kExit, Exit("blocked" + std::to_string(i), "x", 1));
  }
  ASSERT_TRUE(lcdtest::Eventually([&] { return blocked.load() == 8; }, lcdtest::Scaled(5s)))
      << blocked.load() << " of 8 containers reached the Backend";
  d.Post(EventType::kExit, Exit("ninth", "ninth", 2));
  EXPECT_TRUE(lcdtest::Eventually(
      [&] {
        std::lock_guard l(b->mu);
        return !b->seen.empty();
      },
      lcdtest::Scaled(1s)))
      << "the 9th container's exit waited for a blocked one";
  release = true;
  d.Drain();
  std::lock_guard l(b->mu);
  EXPECT_EQ(b->seen.size(), 17u);
  EXPECT_EQ(b->seen[0].first, "ninth");
}

// Past kMaxWorkers blocked containers, the next waits for a free worker (spill-over), keeping
// its order; the extra workers end once idle.
TEST(Dispatcher, PastTheWorkerCapReadyContainersWaitForAFreeWorkerInOrder) {
  auto b = std::make_shared<Collect>();
  std::atomic<bool> release{false};
  std::atomic<int> blocked{0};
  b->hook = [&](const std::string& id) {
    if (id.starts_with("blocked")) {
      ++blocked;
      while (!release) std::this_thread::sleep_for(1ms);
    }
  };
  Dispatcher d(b);
  for (int i = 0; i < Dispatcher::kMaxWorkers; ++i)
    d.Post(EventType::kStart, Exit("blocked" + std::to_string(i), "x", 1));
  ASSERT_TRUE(lcdtest::Eventually([&] { return blocked.load() == Dispatcher::kMaxWorkers; },
                                  lcdtest::Scaled(10s)));
  EXPECT_EQ(d.workers(), Dispatcher::kMaxWorkers);
  d.Post(EventType::kStart, Exit("late", "late", 1));
  d.Post(EventType::kExit, Exit("late", "late", 1));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(d.workers(), Dispatcher::kMaxWorkers) << "no worker past the cap";
  {
    std::lock_guard l(b->mu);
    EXPECT_TRUE(b->seen.empty());
  }
  release = true;
  d.Drain();
  std::vector<EventType> late;
  {
    std::lock_guard l(b->mu);
    for (const auto& [id, t] : b->seen)
      if (id == "late") late.push_back(t);
  }
  EXPECT_EQ(late, (std::vector<EventType>{EventType::kStart, EventType::kExit}));
}

TEST(Dispatcher, AThrowingBackendDoesNotStopDelivery) {
  struct Thrower : Backend {
    std::atomic<int> n{0};
    void ProcessEvent(const std::string&, EventType, const EventInfo&) override {
      ++n;
      throw std::runtime_error("boom");
    }
  };
  auto b = std::make_shared<Thrower>();
  Dispatcher d(b);
  d.Post(EventType::kStart, Exit("c", "c", 1));
  d.Post(EventType::kExit, Exit("c", "c", 1));
  d.Drain();
  EXPECT_EQ(b->n.load(), 2);
}

namespace {
// A Hub that is never started: events are injected as the stream reader would hand them over.
struct HubRig {
  std::shared_ptr<Collect> backend = std::make_shared<Collect>();
  std::shared_ptr<TaskTracker> tracker = std::make_shared<TaskTracker>();
  std::unique_ptr<remote::EventHub> hub = std::make_unique<remote::EventHub>(
      std::make_shared<remote::Connection>(ClientOptions{}, nullptr, remote::Stubs{}), backend,
      tracker);
  std::vector<EventType> TypesOf(const std::string& id) {
    std::lock_guard l(backend->mu);
    std::vector<EventType> out;
    for (const auto& [c, t] : backend->seen)
      if (c == id) out.push_back(t);
    return out;
  }
  bool WaitFor(const std::string& id, size_t n, std::chrono::milliseconds timeout) {
    return lcdtest::Eventually([&] { return TypesOf(id).size() >= n; }, timeout);
  }
};
}  // namespace

// containerd 1.6's shim may publish an exec's exit before its exec-started.
TEST(HubOrder, AnExecExitBeforeItsExecStartedIsHeldUntilExecStarted) {
  HubRig r;
  r.hub->HandleStreamEvent(EventType::kExecAdded, Exit("c", "e1", 0));
  r.hub->HandleStreamEvent(EventType::kExit, Exit("c", "e1", 7, 0));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(r.TypesOf("c"), (std::vector<EventType>{EventType::kExecAdded}))
      << "the exit must wait";
  r.hub->HandleStreamEvent(EventType::kExecStarted, Exit("c", "e1", 7));
  ASSERT_TRUE(r.WaitFor("c", 3, 2s));
  EXPECT_EQ(r.TypesOf("c"), (std::vector<EventType>{EventType::kExecAdded, EventType::kExecStarted,
                                                    EventType::kExit}));
}

TEST(HubOrder, AHeldExecExitIsDeliveredWithoutExecStartedAfterTheGraceAndBeforeItsTasksExit) {
  HubRig r;
  r.hub->HandleStreamEvent(EventType::kExecAdded, Exit("c", "e1", 0));
  r.hub->HandleStreamEvent(EventType::kExit, Exit("c", "e1", 7, 1));
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(r.WaitFor("c", 2, 5s)) << "a held exit must not wait for ever";
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1500ms);
  // A task's exit releases its execs' held exits first.
  r.hub->HandleStreamEvent(EventType::kExecAdded, Exit("d", "e2", 0));
  r.hub->HandleStreamEvent(EventType::kExit, Exit("d", "e2", 8, 1));
  r.hub->HandleStreamEvent(EventType::kExit, Exit("d", "d", 9, 0));
  ASSERT_TRUE(r.WaitFor("d", 3, 1s));
  EXPECT_EQ(r.TypesOf("d"),
            (std::vector<EventType>{EventType::kExecAdded, EventType::kExit, EventType::kExit}));
}

TEST(HubOrder, DestroyingTheHubDeliversHeldExits) {
  HubRig r;
  r.hub->HandleStreamEvent(EventType::kExecAdded, Exit("c", "e1", 0));
  r.hub->HandleStreamEvent(EventType::kExit, Exit("c", "e1", 7, 1));
  r.hub.reset();
  EXPECT_EQ(r.TypesOf("c"), (std::vector<EventType>{EventType::kExecAdded, EventType::kExit}));
}

// With a live stream, an exit held past its grace also waits until a sync event published
// after the grace comes back on the stream: every event containerd had before it (here a
// start, standing for an exec-started the reader has not reached yet) is delivered first.
TEST(HubBarrier, ADeleteLearntExitWaitsForTheStreamBarrierAfterItsGrace) {
  HubRig r;
  std::mutex mu;
  std::vector<std::string> topics;
  r.hub->SetLiveForTest("tok", [&](const std::string& t) {
    std::lock_guard l(mu);
    topics.push_back(t);
    return true;
  });
  r.hub->OnDeletedExit(Exit("c", "c", 5, 3));
  std::this_thread::sleep_for(remote::EventHub::kDeletedExitGrace + 500ms);
  EXPECT_TRUE(r.TypesOf("c").empty()) << "the exit must wait for its barrier";
  {
    std::lock_guard l(mu);
    ASSERT_EQ(topics, std::vector<std::string>{"/libcontainerd-sync/tok/1"});
  }
  r.hub->HandleStreamEvent(EventType::kStart, Exit("c", "c", 5));
  r.hub->HandleSyncEcho("/libcontainerd-sync/tok/1");
  ASSERT_TRUE(r.WaitFor("c", 2, 2s));
  EXPECT_EQ(r.TypesOf("c"), (std::vector<EventType>{EventType::kStart, EventType::kExit}));
}

TEST(HubBarrier, AHeldExecExitWaitsForTheBarrierWhenExecStartedNeverComes) {
  HubRig r;
  std::atomic<int> published{0};
  r.hub->SetLiveForTest("tok", [&](const std::string&) { return ++published, true; });
  r.hub->HandleStreamEvent(EventType::kExecAdded, Exit("c", "e1", 0));
  r.hub->HandleStreamEvent(EventType::kExit, Exit("c", "e1", 7, 1));
  std::this_thread::sleep_for(2500ms);  // past kExecStartGrace
  EXPECT_EQ(r.TypesOf("c"), (std::vector<EventType>{EventType::kExecAdded}))
      << "the exit must wait";
  EXPECT_EQ(published.load(), 1);
  // An echo of an older barrier (here the subscription's confirmation) does not release it.
  r.hub->HandleSyncEcho("/libcontainerd-sync/tok/0");
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(r.TypesOf("c").size(), 1u);
  r.hub->HandleSyncEcho("/libcontainerd-sync/tok/1");
  ASSERT_TRUE(r.WaitFor("c", 2, 2s));
  EXPECT_EQ(r.TypesOf("c"), (std::vector<EventType>{EventType::kExecAdded, EventType::kExit}));
}

TEST(HubBarrier, ABarrierThatCannotBePublishedReleasesTheExitAfterItsGrace) {
  HubRig r;
  r.hub->SetLiveForTest("tok", [](const std::string&) { return false; });
  auto t0 = std::chrono::steady_clock::now();
  r.hub->OnDeletedExit(Exit("c", "c", 5, 3));
  ASSERT_TRUE(r.WaitFor("c", 1, 3s)) << "a failed publish must not hold the exit";
  EXPECT_GE(std::chrono::steady_clock::now() - t0, remote::EventHub::kDeletedExitGrace);
}

// The usual case: the stream delivered the exit before the Delete answered. The Delete's copy
// is dropped at once, with no barrier asked of the daemon.
TEST(HubBarrier, ADeleteLearntExitTheStreamAlreadyDeliveredAsksNoBarrier) {
  HubRig r;
  std::atomic<int> published{0};
  r.hub->SetLiveForTest("tok", [&](const std::string&) { return ++published, true; });
  r.hub->HandleStreamEvent(EventType::kExit, Exit("c", "c", 5, 3));
  ASSERT_TRUE(r.WaitFor("c", 1, 1s));
  r.hub->OnDeletedExit(Exit("c", "c", 5, 3));
  std::this_thread::sleep_for(remote::EventHub::kDeletedExitGrace + 300ms);
  EXPECT_EQ(published.load(), 0);
  EXPECT_EQ(r.TypesOf("c").size(), 1u);
  EXPECT_EQ(r.hub->counters().duplicates, 1u);
}

// An exit learnt from a Delete and still within its grace is delivered when the Hub goes.
TEST(HubOrder, DestroyingTheHubDeliversADeleteLearntExitStillInItsGrace) {
  HubRig r;
  r.hub->SetLiveForTest("tok", [](const std::string&) { return true; });
  r.hub->OnDeletedExit(Exit("c", "c", 5, 3));
  r.hub.reset();
  EXPECT_EQ(r.TypesOf("c"), (std::vector<EventType>{EventType::kExit}));
}

// Issue 20: the wait from the event's arrival to the start of ProcessEvent is counted in a
// log2-microsecond histogram, from the stamp given to Post (the stream read).
TEST(Dispatcher, WaitHistogramCountsFromTheArrivalStampInLog2Microseconds) {
  EXPECT_EQ(Dispatcher::WaitBucket(0us), 0u);
  EXPECT_EQ(Dispatcher::WaitBucket(1us), 1u);
  EXPECT_EQ(Dispatcher::WaitBucket(3us), 2u);
  EXPECT_EQ(Dispatcher::WaitBucket(1024us), 11u);
  EXPECT_EQ(Dispatcher::WaitBucket(std::chrono::hours(10)), Dispatcher::kWaitBuckets - 1);
  auto b = std::make_shared<Collect>();
  Dispatcher d(b);
  // 5 ms before now: bucket 13 ([4096, 8192) us) unless this thread waits seconds.
  d.Post(EventType::kStart, Exit("c", "c", 1), std::chrono::steady_clock::now() - 5ms);
  d.Drain();
  auto h = d.wait_histogram();
  uint64_t total = 0, slow = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    total += h[i];
    if (i >= 13) slow += h[i];
  }
  EXPECT_EQ(total, 1u);
  EXPECT_EQ(slow, 1u) << "the wait counts from the stamp, not from Post";
  EXPECT_GE(Dispatcher::WaitQuantile(h, 0.99), 8192us);
  // Without a stamp the wait counts from Post: far under a second on an idle dispatcher.
  d.Post(EventType::kExit, Exit("c", "c", 1));
  d.Drain();
  h = d.wait_histogram();
  total = 0;
  for (uint64_t n : h) total += n;
  EXPECT_EQ(total, 2u);
  EXPECT_EQ(Dispatcher::WaitQuantile(Dispatcher::WaitHistogram{}, 0.99), 0us);
}

// The Backend sees when the event reached the library: EventInfo::received is Post's stamp, or
// the time of Post without one.
TEST(Dispatcher, TheBackendGetsTheArrivalStampAsReceived) {
  struct Stamps : Backend {
    std::mutex mu;
    std::vector<std::chrono::steady_clock::time_point> got;
    void ProcessEvent(const std::string&, EventType, const EventInfo& info) override {
      std::lock_guard l(mu);
      got.push_back(info.received);
    }
  };
  auto b = std::make_shared<Stamps>();
  Dispatcher d(b);
  const auto stamp = std::chrono::steady_clock::now() - 5ms;
  d.Post(EventType::kStart, Exit("c", "c", 1), stamp);
  const auto before = std::chrono::steady_clock::now();
  d.Post(EventType::kExit, Exit("c", "c", 1));
  d.Drain();
  std::lock_guard l(b->mu);
  ASSERT_EQ(b->got.size(), 2u);
  EXPECT_EQ(b->got[0], stamp);
  EXPECT_GE(b->got[1], before);
  EXPECT_LE(b->got[1], std::chrono::steady_clock::now());
}

// A worker woken for one container no longer counts as free: with one free worker, two
// containers posted back to back get a worker each (a second one is started), so a Backend
// blocked on the first does not delay the second.
TEST(Dispatcher, AWokenWorkerIsNotCountedFreeForTheNextContainer) {
  auto b = std::make_shared<Collect>();
  std::atomic<bool> release{false};
  std::atomic<int> blocked{0};
  b->hook = [&](const std::string& id) {
    if (id.starts_with("blocked") || id == "first") {
      ++blocked;
      while (!release) std::this_thread::sleep_for(1ms);
    }
  };
  Dispatcher d(b);
  for (int i = 0; i < Dispatcher::kMinWorkers - 1; ++i)
    d.Post(EventType::kStart, Exit("blocked" + std::to_string(i), "x", 1));
  ASSERT_TRUE(lcdtest::Eventually([&] { return blocked.load() == Dispatcher::kMinWorkers - 1; },
                                  lcdtest::Scaled(5s)));
  d.Post(EventType::kStart, Exit("first", "x", 1));  // takes the last free worker, and blocks
  d.Post(EventType::kStart, Exit("second", "x", 1));
  EXPECT_TRUE(lcdtest::Eventually(
      [&] {
        std::lock_guard l(b->mu);
        for (const auto& [id, t] : b->seen)
          if (id == "second") return true;
        return false;
      },
      lcdtest::Scaled(1s)))
      << "the second container waited for the first's worker";
  release = true;
  d.Drain();
}
