// Events reach the Backend: fields, order, parallel dispatch, OOM.
#include <csignal>
#include <thread>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"
#include "recording_backend.h"
#include "test_util.h"

using namespace libcontainerd;
using lcdtest::ExecSpec;
using lcdtest::RecordingBackend;
using namespace std::chrono_literals;

class EventsTest : public lcdtest::ClientTest {
 protected:
  void SetUp() override {
    ns_ = "ev" + std::to_string(getpid());
    backend_ = std::make_shared<RecordingBackend>();
    auto o = lcdtest::TestClientOptions(ns_);
    o.backend = backend_;
    client_ = NewContainerdClient(o);
    CleanNamespace();
  }
  std::shared_ptr<RecordingBackend> backend_;
};

namespace {
std::vector<EventType> Types(const std::vector<lcdtest::Recorded>& evs) {
  std::vector<EventType> t;
  for (const auto& e : evs) t.push_back(e.type);
  return t;
}
std::string Names(const std::vector<lcdtest::Recorded>& evs) {
  std::string s;
  for (const auto& e : evs) s += std::string(ToString(e.type)) + " ";
  return s;
}
}  // namespace

TEST_F(EventsTest, LifecycleWithExecPauseResumeDeliversEveryTypeWithFieldsInOrder) {
  std::string id = lcdtest::UniqueId("life");
  auto c = Create(id, {"sh", "-c", "read x; exit 3"});
  auto cap = std::make_shared<cio::Captured>();
  auto task = c->NewTask(ctx_, "", true, cio::Capture(cap));
  task->Start(ctx_);
  auto p = task->Exec(ctx_, "ex1", ExecSpec({"sh", "-c", "exit 4"}), false, nullptr);
  ASSERT_TRUE(backend_->WaitForEvent(id, EventType::kExit, 1));  // the exec's exit
  p->Delete(ctx_);
  task->Pause(ctx_);
  task->Resume(ctx_);
  cap->fifos->WriteStdin("go\n");
  ASSERT_TRUE(backend_->WaitForEvent(id, EventType::kExit, 2)) << Names(backend_->For(id));
  task->Delete(ctx_);

  auto evs = backend_->For(id);
  std::vector<EventType> want = {EventType::kCreate,      EventType::kStart, EventType::kExecAdded,
                                 EventType::kExecStarted, EventType::kExit,  EventType::kPaused,
                                 EventType::kResumed,     EventType::kExit};
  ASSERT_EQ(Types(evs), want) << Names(evs);
  EXPECT_EQ(evs[0].info.process_id, id);
  EXPECT_EQ(evs[0].info.pid, task->Pid());
  EXPECT_EQ(evs[1].info.pid, task->Pid());
  EXPECT_EQ(evs[2].info.process_id, "ex1");
  EXPECT_EQ(evs[3].info.process_id, "ex1");
  EXPECT_EQ(evs[3].info.pid, p->Pid());
  EXPECT_EQ(evs[4].info.process_id, "ex1");
  EXPECT_EQ(evs[4].info.exit_code, 4u);
  EXPECT_EQ(evs[4].info.pid, p->Pid());
  EXPECT_EQ(evs[7].info.process_id, id);
  EXPECT_EQ(evs[7].info.exit_code, 3u);
  EXPECT_EQ(evs[7].info.pid, task->Pid());
  EXPECT_GT(evs[7].info.exited_at.time_since_epoch().count(), 0);
}

TEST_F(EventsTest, PerContainerOrderHoldsForTwentyConcurrentContainers) {
  std::vector<std::thread> threads;
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(lcdtest::UniqueId("ord"));
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      try {
        auto c = Create(ids[i], {"sleep", "100"});
        auto t = c->NewTask(ctx_, "", false, nullptr);
        t->Start(ctx_);
        auto p = t->Exec(ctx_, "x", ExecSpec({"true"}), false, nullptr);
        p->Wait(ctx_);
        p->Delete(ctx_);
        t->Kill(ctx_, SIGKILL);
        t->Wait(ctx_);
        t->Delete(ctx_);
      } catch (const std::exception& e) {
        ADD_FAILURE() << ids[i] << ": " << e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : ids) {
    ASSERT_TRUE(backend_->WaitForEvent(id, EventType::kExit, 2)) << id;
    std::vector<EventType> want = {EventType::kCreate,    EventType::kStart,
                                   EventType::kExecAdded, EventType::kExecStarted,
                                   EventType::kExit,      EventType::kExit};
    EXPECT_EQ(Types(backend_->For(id)), want) << id << ": " << Names(backend_->For(id));
  }
}

TEST_F(EventsTest, ABackendBlockedOnOneContainerDoesNotDelayAnother) {
  std::string slow = lcdtest::UniqueId("slow"), fast = lcdtest::UniqueId("fast");
  backend_->before = [slow](const std::string& id, EventType) {
    if (id == slow) std::this_thread::sleep_for(2s);
  };
  auto cs = Create(slow, {"true"});
  auto cf = Create(fast, {"sleep", "100"});
  auto ts = cs->NewTask(ctx_, "", false, nullptr);  // its create event blocks a worker for 2 s
  auto tf = cf->NewTask(ctx_, "", false, nullptr);
  tf->Start(ctx_);
  // The daemon's own kill-to-event time varies with load; measure our delay against the moment
  // a Wait blocked before the kill returns (the daemon knows of the exit then).
  std::chrono::steady_clock::time_point wait_returned;
  std::thread waiter([&] {
    tf->Wait(Context::Background());
    wait_returned = std::chrono::steady_clock::now();
  });
  std::this_thread::sleep_for(100ms);
  tf->Kill(ctx_, SIGKILL);
  waiter.join();
  ASSERT_TRUE(backend_->WaitForEvent(fast, EventType::kExit, 1, 5s));
  auto exit_at = backend_->For(fast).back().at;
  auto delay =
      exit_at > wait_returned ? exit_at - wait_returned : std::chrono::steady_clock::duration{};
  EXPECT_LT(delay, lcdtest::Scaled(100ms))
      << "exit event came " << std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()
      << " ms after Wait returned, while another container's Backend call blocks";
  tf->Delete(ctx_);
  ts->Delete(ctx_);
}

TEST_F(EventsTest, MemoryHogGetsAnOomEventBeforeItsExit) {
  std::string id = lcdtest::UniqueId("oom");
  auto opts = Options(id, {"sh", "-c", "x=a; while true; do x=$x$x; done"});
  opts.memory_limit = 16 << 20;
  auto c = Create(opts);
  auto t = c->NewTask(ctx_, "", false, nullptr);
  t->Start(ctx_);
  ASSERT_TRUE(backend_->WaitForEvent(id, EventType::kExit, 1, 30s)) << Names(backend_->For(id));
  auto evs = backend_->For(id);
  int oom = -1, exit = -1;
  for (int i = 0; i < static_cast<int>(evs.size()); ++i) {
    if (evs[i].type == EventType::kOOM && oom < 0) oom = i;
    if (evs[i].type == EventType::kExit) exit = i;
  }
  EXPECT_GE(oom, 0) << Names(evs);
  EXPECT_LT(oom, exit) << Names(evs);
  EXPECT_EQ(evs[exit].info.exit_code, 137u);
  t->Delete(ctx_);
}

TEST_F(EventsTest, EventsOfOtherNamespacesAreNotDelivered) {
  auto other = NewContainerdClient(lcdtest::TestClientOptions("other" + std::to_string(getpid())));
  std::string id = lcdtest::UniqueId("otherns");
  auto c = other->NewContainer(ctx_, id, oci::DefaultSpec(Options(id, {"true"})), "", {});
  auto t = c->NewTask(ctx_, "", false, nullptr);
  t->Start(ctx_);
  t->Wait(ctx_);
  t->Delete(ctx_);
  c->Delete(ctx_);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(backend_->For(id).empty());
}
