// The direct backend's tasks through lcd-monitor: the state layout of a task, exit records and
// their .delivered markers, stdio through the FIFOs, exec, wait with deadlines, errors that
// leave nothing behind.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "direct_test_fixture.h"
#include "libcontainerd/cio.h"

namespace lcdtest {
namespace {
using namespace libcontainerd;
using namespace std::chrono_literals;

int ExitEvents(RecordingBackend& b, const std::string& id, const std::string& process_id) {
  int n = 0;
  for (const auto& e : b.For(id))
    n += e.type == EventType::kExit && e.info.process_id == process_id;
  return n;
}

TEST_F(DirectTest, LifecycleWritesTheTaskLayoutAnExitRecordAndItsMarker) {
  Connect();
  auto c = Create("life1", {"sh", "-c", "echo out; echo err >&2; exit 3"});
  auto cap = std::make_shared<cio::Captured>();
  auto task = c->NewTask(ctx_, "", false, cio::Capture(cap));
  ASSERT_GT(task->Pid(), 0u);
  const std::string td = TaskDir("life1");
  EXPECT_TRUE(PathExists(td + "/monitor.sock"));
  EXPECT_TRUE(PathExists(td + "/monitor.pid"));
  EXPECT_TRUE(PathExists(td + "/init.pid"));
  EXPECT_EQ(std::stoul(Slurp(td + "/init.pid")), task->Pid());
  EXPECT_EQ(task->GetStatus(ctx_).status, Status::kCreated);
  EXPECT_TRUE(RuntimeKnows("life1"));
  task->Start(ctx_);
  ExitStatus st = task->Wait(ctx_);
  EXPECT_EQ(st.exit_code, 3u);
  auto status = task->GetStatus(ctx_);
  EXPECT_EQ(status.status, Status::kStopped);
  EXPECT_EQ(status.exit_code, 3u);
  // The monitor's exit record, then our marker once the Backend had the exit.
  ASSERT_TRUE(PathExists(td + "/exit/init"));
  auto rec = nlohmann::json::parse(Slurp(td + "/exit/init"));
  EXPECT_EQ(rec["status"], 3);
  EXPECT_EQ(rec["pid"], task->Pid());
  ASSERT_TRUE(backend_->WaitForEvent("life1", EventType::kExit));
  EXPECT_TRUE(Eventually([&] { return PathExists(td + "/exit/init.delivered"); }))
      << "the marker is written after ProcessEvent returned";
  ExitStatus deleted = task->Delete(ctx_);
  EXPECT_EQ(deleted.exit_code, 3u);
  EXPECT_EQ(cap->Out(), "out\n");
  EXPECT_EQ(cap->Err(), "err\n");
  EXPECT_FALSE(PathExists(td)) << "Delete removes the task directory";
  EXPECT_FALSE(RuntimeKnows("life1"));
  c->Delete(ctx_);
  std::this_thread::sleep_for(200ms);  // a second copy of the exit would have come by now
  EXPECT_EQ(ExitEvents(*backend_, "life1", "life1"), 1) << "the exit is delivered exactly once";
  EXPECT_EQ(backend_->Count("life1", EventType::kCreate), 1);
  EXPECT_EQ(backend_->Count("life1", EventType::kStart), 1);
  EXPECT_TRUE(
      Eventually([&] { return MonitorsUnder(root_).empty(); }));  // it exits after its reply
  EXPECT_TRUE(Leftovers().empty()) << testing::PrintToString(Leftovers());
}

TEST_F(DirectTest, StdinReachesTheProcessAndItsCloseIsEOF) {
  Connect();
  auto c = Create("stdin1", {"cat"});
  auto cap = std::make_shared<cio::Captured>();
  auto task = c->NewTask(ctx_, "", true, cio::Capture(cap));
  task->Start(ctx_);
  ASSERT_NE(cap->fifos, nullptr);
  cap->fifos->WriteStdin("hello\n");
  cap->fifos->CloseStdin();
  EXPECT_EQ(task->Wait(Context::WithTimeout(10s)).exit_code, 0u);
  task->Delete(ctx_);
  EXPECT_EQ(cap->Out(), "hello\n");
  c->Delete(ctx_);
}

TEST_F(DirectTest, ExecRunsWithItsIdInPidsAndItsExitIsDeliveredOnce) {
  Connect();
  auto c = Create("exec1", {"sleep", "30"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  auto cap = std::make_shared<cio::Captured>();
  auto p = task->Exec(
      ctx_, "e1",
      [] {
        oci::ProcessOptions o;
        o.args = {"sh", "-c", "echo exec-out; sleep 1; exit 4"};
        return oci::DefaultProcess(o);
      }(),
      false, cio::Capture(cap));
  ASSERT_GT(p->Pid(), 0u);
  bool found = false;
  for (const auto& info : task->Pids(ctx_)) found |= info.exec_id == "e1" && info.pid == p->Pid();
  EXPECT_TRUE(found) << "Pids names the exec's pid with its exec id";
  EXPECT_EQ(task->GetSummary(ctx_).size(), task->Pids(ctx_).size());
  try {
    task->Exec(
        ctx_, "e1",
        [] {
          oci::ProcessOptions o;
          o.args = {"true"};
          return oci::DefaultProcess(o);
        }(),
        false, nullptr);
    FAIL() << "a taken exec id";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kAlreadyExists) << e.what();
  }
  EXPECT_EQ(p->Wait(ctx_).exit_code, 4u);
  EXPECT_EQ(p->Delete(ctx_).exit_code, 4u);
  EXPECT_EQ(cap->Out(), "exec-out\n");
  try {
    task->Exec(
        ctx_, "e2",
        [] {
          oci::ProcessOptions o;
          o.args = {"/no/such/binary"};
          return oci::DefaultProcess(o);
        }(),
        false, cio::Capture(std::make_shared<cio::Captured>()));
    FAIL() << "a missing binary";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
  EXPECT_FALSE(PathExists(TaskDir("exec1") + "/exec/e2.json")) << "a failed exec leaves nothing";
  for (const auto& name : DirEntries(ContainerDir("exec1")))
    EXPECT_EQ(name.find("exec-e2"), std::string::npos) << "no FIFOs of the failed exec: " << name;
  task->ForceDelete(ctx_);
  c->Delete(ctx_);
  ASSERT_TRUE(backend_->WaitForEvent("exec1", EventType::kExit, 2));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(ExitEvents(*backend_, "exec1", "e1"), 1);
  EXPECT_EQ(ExitEvents(*backend_, "exec1", "exec1"), 1);
  // The exec's events in moby's order: exec-added, exec-started, exit; the task's exit last.
  std::vector<std::string> order;
  for (const auto& e : backend_->For("exec1"))
    if (e.info.process_id == "e1" || e.type == EventType::kExit)
      order.push_back(std::string(ToString(e.type)) + ":" + e.info.process_id);
  EXPECT_EQ(order, (std::vector<std::string>{"exec-added:e1", "exec-started:e1", "exit:e1",
                                             "exit:exec1"}));
  EXPECT_TRUE(Leftovers().empty()) << testing::PrintToString(Leftovers());
}

// An exec deleted through the inspector (lcctl task delete --exec-id) is gone with its spec:
// its id can be used again, as after a Delete through the exec's own handle.
TEST_F(DirectTest, AnExecIdDeletedThroughTheInspectorCanBeUsedAgain) {
  Connect();
  auto c = Create("reuse1", {"sleep", "30"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  const oci::Process proc = oci::DefaultProcess({.args = {"true"}});
  auto p = task->Exec(ctx_, "e1", proc, false, nullptr);
  EXPECT_EQ(p->Wait(ctx_).exit_code, 0u);
  auto inspector = NewDirectInspector(ClientOptions());
  inspector->LoadExec(ctx_, "reuse1", "e1")->Delete(ctx_);
  EXPECT_FALSE(PathExists(TaskDir("reuse1") + "/exec/e1.json"));
  auto again = task->Exec(ctx_, "e1", proc, false, nullptr);
  EXPECT_EQ(again->Wait(ctx_).exit_code, 0u);
  again->Delete(ctx_);
  task->ForceDelete(ctx_);
  c->Delete(ctx_);
}

TEST_F(DirectTest, WaitHonoursTheDeadlineAndCancellation) {
  Connect();
  auto c = Create("wait1", {"sleep", "30"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  auto t0 = std::chrono::steady_clock::now();
  try {
    task->Wait(Context::WithTimeout(200ms));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDeadlineExceeded) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  Context cancel = Context::Background();
  std::thread canceller([&] {
    std::this_thread::sleep_for(100ms);
    cancel.Cancel();
  });
  try {
    task->Wait(cancel);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled) << e.what();
  }
  canceller.join();
  EXPECT_EQ(task->GetStatus(ctx_).status, Status::kRunning) << "an abandoned Wait changes nothing";
  task->Kill(ctx_, SIGKILL);  // init ignores SIGTERM without a handler
  EXPECT_EQ(task->Wait(ctx_).exit_code, 128u + SIGKILL);
  try {
    task->Kill(ctx_, SIGKILL);
    FAIL() << "a finished process";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
  task->Delete(ctx_);
  c->Delete(ctx_);
}

TEST_F(DirectTest, PauseResumeAndStateErrors) {
  Connect();
  auto c = Create("pause1", {"sleep", "30"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  try {
    task->Delete(ctx_);  // a created task may be deleted (killed first), as with containerd
  } catch (const Error& e) {
    ADD_FAILURE() << e.what();
  }
  task = c->NewTask(ctx_, "", false, nullptr);
  try {
    c->Delete(ctx_);
    FAIL() << "a container with a task";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
  }
  try {
    c->NewTask(ctx_, "", false, nullptr);
    FAIL() << "a second task";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kAlreadyExists) << e.what();
  }
  task->Start(ctx_);
  try {
    task->Start(ctx_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
  }
  try {
    task->Resume(ctx_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
  }
  task->Pause(ctx_);
  EXPECT_EQ(task->GetStatus(ctx_).status, Status::kPaused);
  task->Resume(ctx_);
  EXPECT_EQ(task->GetStatus(ctx_).status, Status::kRunning);
  try {
    task->Delete(ctx_);
    FAIL() << "a running task";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
  }
  EXPECT_TRUE(backend_->WaitForEvent("pause1", EventType::kPaused));
  EXPECT_TRUE(backend_->WaitForEvent("pause1", EventType::kResumed));
  task->ForceDelete(ctx_);
  c->Delete(ctx_);
  EXPECT_TRUE(
      Eventually([&] { return MonitorsUnder(root_).empty(); }));  // it exits after its reply
}

TEST_F(DirectTest, StatsOfARunningTaskFromCgroupfs) {
  Connect();
  auto c = Create("stats1", {"sleep", "30"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  try {
    task->GetStats(ctx_);
    FAIL() << "a task not started has no metrics";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
  task->Start(ctx_);
  Stats s = task->GetStats(ctx_);
  ASSERT_TRUE(s.v1() || s.v2());
  EXPECT_GT(Summarize(s).memory_usage, 0u);
  // One task, sleep, once runc's init has exec'd it (until then its Go threads count too: pids
  // counts threads, and start returns before the exec).
  uint64_t pids = 0;
  EXPECT_TRUE(Eventually([&] {
    return (pids = Summarize(task->GetStats(ctx_)).pids_current) == 1;
  })) << "one process, sleep; pids.current is "
      << pids;
  auto many = client_->StatsMany(ctx_, {"stats1", "nosuch"});
  EXPECT_EQ(many.size(), 1u);
  EXPECT_TRUE(many.count("stats1"));
  task->ForceDelete(ctx_);
  EXPECT_TRUE(client_->StatsMany(ctx_, {"stats1"}).empty());
  c->Delete(ctx_);
}

TEST_F(DirectTest, UpdateResourcesAndCheckpointErrors) {
  Connect();
  auto c = Create("upd1", {"sleep", "30"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  Resources r;
  r.pids.emplace();
  r.pids->limit = 100;
  task->UpdateResources(ctx_, r);
  {  // the runtime applied it: the cgroup's pids limit
    Stats st = task->GetStats(ctx_);
    std::optional<uint64_t> limit;
    if (st.v1() && st.v1()->pids) limit = st.v1()->pids->limit;
    if (st.v2() && st.v2()->pids) limit = st.v2()->pids->limit;
    EXPECT_EQ(limit, std::optional<uint64_t>(100));
  }
  try {
    task->CreateCheckpoint(ctx_, "relative", false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
  }
  const std::string dir = root_ + "-checkpoint";
  try {
    task->CreateCheckpoint(ctx_, dir, false);
    std::printf("CRIU checkpointed the task on this machine\n");
  } catch (const Error& e) {
    // This kernel has no CRIU support: the runtime's message says why.
    std::printf("checkpoint: %s\n", e.what());
    EXPECT_EQ(e.kind(), ErrorKind::kUnknown) << e.what();
    EXPECT_FALSE(e.message().empty());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  EXPECT_EQ(task->GetStatus(ctx_).status, Status::kRunning);
  task->ForceDelete(ctx_);
  // Restoring: a relative directory is refused; a restore CRIU cannot do fails cleanly.
  try {
    c->NewTask(ctx_, "relative", false, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
  }
  try {
    c->NewTask(ctx_, root_ + "-no-such-checkpoint", false,
               cio::Capture(std::make_shared<cio::Captured>()));
    FAIL() << "a restore from nothing";
  } catch (const Error& e) {
    std::printf("restore: %s\n", e.what());
    EXPECT_FALSE(e.message().empty());
  }
  std::filesystem::remove_all(root_ + "-no-such-checkpoint", ec);  // the runtime makes it
  EXPECT_FALSE(PathExists(TaskDir("upd1")));
  EXPECT_FALSE(RuntimeKnows("upd1"));
  auto entries = DirEntries(ContainerDir("upd1"));
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{"bundle", "container.json"}));
  c->Delete(ctx_);
}

TEST_F(DirectTest, ATerminalTaskGetsItsSizeFromResize) {
  Connect();
  auto spec = SpecOf("tty1", {"sh", "-c", "sleep 0.5; stty size"});
  spec.process->terminal = true;
  auto c = client_->NewContainer(ctx_, "tty1", spec, "", RuncOptions{});
  try {
    c->NewTask(ctx_, "", false, nullptr);
    FAIL() << "a terminal needs stdio";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
  }
  auto cap = std::make_shared<cio::Captured>();
  auto task = c->NewTask(ctx_, "", false, cio::Capture(cap));
  task->Start(ctx_);
  task->Resize(ctx_, 100, 40);
  try {
    task->Resize(ctx_, 0, 40);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
  }
  EXPECT_EQ(task->Wait(ctx_).exit_code, 0u);
  task->Delete(ctx_);
  EXPECT_NE(cap->Out().find("40 100"), std::string::npos) << cap->Out();
  c->Delete(ctx_);
}

TEST_F(DirectTest, AttachTaskInANewClientReopensTheFifos) {
  Connect();
  auto c = Create("attach1", {"sh", "-c", "echo early; sleep 1; echo late"});
  auto first = std::make_shared<cio::Captured>();
  auto task = c->NewTask(ctx_, "", false, cio::Capture(first));
  task->Start(ctx_);
  ASSERT_TRUE(Eventually([&] { return first->Out() == "early\n"; })) << first->Out();
  task.reset();
  c.reset();
  client_.reset();  // the calling program goes away; the container keeps running

  Connect();
  auto again = std::make_shared<cio::Captured>();
  auto attached = client_->LoadContainer(ctx_, "attach1")->AttachTask(ctx_, cio::Capture(again));
  EXPECT_EQ(attached->GetStatus(ctx_).status, Status::kRunning);
  EXPECT_EQ(attached->Wait(ctx_).exit_code, 0u);
  EXPECT_EQ(attached->Delete(ctx_).exit_code, 0u);
  EXPECT_EQ(again->Out(), "late\n");
  client_->LoadContainer(ctx_, "attach1")->Delete(ctx_);
  EXPECT_TRUE(Leftovers().empty()) << testing::PrintToString(Leftovers());
}

TEST_F(DirectTest, ConcurrentLifecyclesFromManyThreads) {
  Connect();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        const std::string id = "conc" + std::to_string(t) + "-" + std::to_string(i);
        try {
          auto c = Create(id, {"sh", "-c", "exit " + std::to_string(t)});
          auto task = c->NewTask(ctx_, "", false, cio::Capture(std::make_shared<cio::Captured>()));
          task->Start(ctx_);
          if (task->Wait(ctx_).exit_code != static_cast<uint32_t>(t)) ++failures;
          task->Delete(ctx_);
          c->Delete(ctx_);
        } catch (const std::exception& e) {
          ADD_FAILURE() << id << ": " << e.what();
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(backend_->WaitFor([](const std::vector<Recorded>& evs) {
    int n = 0;
    for (const auto& e : evs) n += e.type == EventType::kExit;
    return n >= 30;
  }));
  std::this_thread::sleep_for(200ms);
  for (int t = 0; t < 6; ++t)
    for (int i = 0; i < 5; ++i) {
      const std::string id = "conc" + std::to_string(t) + "-" + std::to_string(i);
      EXPECT_EQ(ExitEvents(*backend_, id, id), 1) << id;
    }
  EXPECT_TRUE(
      Eventually([&] { return MonitorsUnder(root_).empty(); }));  // it exits after its reply
  EXPECT_TRUE(Leftovers().empty()) << testing::PrintToString(Leftovers());
}

}  // namespace
}  // namespace lcdtest
