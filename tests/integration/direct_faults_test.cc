// The direct backend's faults and bad input: exits that happen while no Client runs, a
// SIGKILLed monitor, the calling program killed between create and start, a missing runtime,
// a bad bundle, a missing monitor, and many lifecycles leaving nothing behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "client_fixture.h"
#include "direct_test_fixture.h"
#include "libcontainerd/cio.h"

namespace lcdtest {
namespace {
using namespace libcontainerd;
using namespace std::chrono_literals;

int Exits(RecordingBackend& b, const std::string& id) {
  int n = 0;
  for (const auto& e : b.For(id)) n += e.type == EventType::kExit;
  return n;
}

TEST_F(DirectTest, AnExitWhileNoClientRanIsDeliveredOnceByTheNextClient) {
  ASSERT_FALSE(monitor_.empty());
  {
    auto first = NewDirectClient(ClientOptions());  // no Backend: no marker is written
    auto c = first->NewContainer(ctx_, "gone1", SpecOf("gone1", {"sh", "-c", "sleep 0.3; exit 7"}),
                                 "", RuncOptions{});
    c->NewTask(ctx_, "", false, nullptr)->Start(ctx_);
  }  // the calling program's Client is gone; the monitor keeps the container
  const std::string td = TaskDir("gone1");
  ASSERT_TRUE(Eventually([&] { return PathExists(td + "/exit/init"); }))
      << "the monitor records the exit with no Client connected";
  EXPECT_FALSE(PathExists(td + "/exit/init.delivered"));

  auto second_backend = std::make_shared<RecordingBackend>();
  auto second = NewDirectClient(ClientOptions(second_backend));
  ASSERT_TRUE(second_backend->WaitForEvent("gone1", EventType::kExit));
  auto ev = second_backend->For("gone1").front();
  EXPECT_EQ(ev.info.exit_code, 7u);
  EXPECT_EQ(ev.info.process_id, "gone1");
  EXPECT_TRUE(Eventually([&] { return PathExists(td + "/exit/init.delivered"); }));
  // Loading the task subscribes to its monitor, which replays undelivered records: no second
  // copy reaches the Backend.
  auto t2 = second->LoadContainer(ctx_, "gone1")->GetTask(ctx_);
  EXPECT_EQ(t2->GetStatus(ctx_).exit_code, 7u);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Exits(*second_backend, "gone1"), 1);
  second.reset();

  auto third_backend = std::make_shared<RecordingBackend>();
  client_ = NewDirectClient(ClientOptions(third_backend));
  auto c = client_->LoadContainer(ctx_, "gone1");
  auto task = c->GetTask(ctx_);
  EXPECT_EQ(task->Delete(ctx_).exit_code, 7u);
  c->Delete(ctx_);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Exits(*third_backend, "gone1"), 0) << "delivered once, to the second Client";
  EXPECT_TRUE(
      Eventually([&] { return MonitorsUnder(root_).empty(); }));  // it exits after its reply
  EXPECT_TRUE(Leftovers().empty()) << testing::PrintToString(Leftovers());
}

TEST_F(DirectTest, ASigkilledMonitorGivesExit255WithAnErrorAndTheContainerIsDeletable) {
  Connect();
  auto c = Create("mkill1", {"sleep", "60"});
  auto task = c->NewTask(ctx_, "", false, cio::Capture(std::make_shared<cio::Captured>()));
  task->Start(ctx_);
  const uint32_t init = task->Pid();
  const auto monitors = MonitorsUnder(root_);
  ASSERT_EQ(monitors.size(), 1u);
  const pid_t monitor = std::stoi(Slurp(TaskDir("mkill1") + "/monitor.pid"));
  EXPECT_EQ(monitors[0], monitor);
  ASSERT_EQ(::kill(monitor, SIGKILL), 0);

  ASSERT_TRUE(backend_->WaitForEvent("mkill1", EventType::kExit));
  Recorded exit;
  for (const auto& e : backend_->For("mkill1"))
    if (e.type == EventType::kExit) exit = e;
  EXPECT_EQ(exit.info.exit_code, 255u);
  EXPECT_FALSE(exit.info.error.empty()) << "the exit says its status is unknown";
  EXPECT_TRUE(Eventually([&] { return !PidAlive(init); })) << "the container is killed";
  EXPECT_FALSE(RuntimeKnows("mkill1")) << "the runtime's state is cleaned up";
  auto st = task->GetStatus(ctx_);
  EXPECT_EQ(st.status, Status::kStopped);
  EXPECT_EQ(st.exit_code, 255u);
  EXPECT_EQ(task->Wait(ctx_).exit_code, 255u);
  EXPECT_EQ(task->Delete(ctx_).exit_code, 255u);
  c->Delete(ctx_);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(Exits(*backend_, "mkill1"), 1) << "reported once";
  EXPECT_TRUE(Leftovers().empty()) << testing::PrintToString(Leftovers());
}

TEST_F(DirectTest, AMonitorKilledWhileNoClientRanIsFinishedByTheNextClient) {
  ASSERT_FALSE(monitor_.empty());
  {
    auto first = NewDirectClient(ClientOptions());
    auto c =
        first->NewContainer(ctx_, "mkill2", SpecOf("mkill2", {"sleep", "60"}), "", RuncOptions{});
    c->NewTask(ctx_, "", false, nullptr)->Start(ctx_);
  }
  const pid_t monitor = std::stoi(Slurp(TaskDir("mkill2") + "/monitor.pid"));
  ASSERT_EQ(::kill(monitor, SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] { return MonitorsUnder(root_).empty(); }));
  Connect();
  ASSERT_TRUE(backend_->WaitForEvent("mkill2", EventType::kExit));
  EXPECT_EQ(backend_->For("mkill2").front().info.exit_code, 255u);
  EXPECT_FALSE(RuntimeKnows("mkill2"));
  auto c = client_->LoadContainer(ctx_, "mkill2");
  EXPECT_EQ(c->GetTask(ctx_)->Delete(ctx_).exit_code, 255u);
  c->Delete(ctx_);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(Exits(*backend_, "mkill2"), 1);
  EXPECT_TRUE(Leftovers().empty()) << testing::PrintToString(Leftovers());
}

// A child process creates the container and its task, then dies before Start.
void CreateInAChildThatDies(DirectTest* t, const DirectClientOptions& o, const std::string& id,
                            const oci::Spec& spec) {
  (void)t;
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      auto client = NewDirectClient(o);
      auto c = client->NewContainer(Context(), id, spec, "", RuncOptions{});
      c->NewTask(Context(), "", false, nullptr);
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);  // no destructor runs: as if SIGKILLed between create and start
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child's create failed";
}

TEST_F(DirectTest, AProgramKilledBetweenCreateAndStartLeavesATaskTheNextCanStartOrDelete) {
  Connect();
  CreateInAChildThatDies(this, ClientOptions(), "orphan1",
                         SpecOf("orphan1", {"sh", "-c", "exit 5"}));
  CreateInAChildThatDies(this, ClientOptions(), "orphan2", SpecOf("orphan2", {"sleep", "60"}));
  auto ids = client_->ListContainers(ctx_);
  EXPECT_EQ(ids, (std::vector<std::string>{"orphan1", "orphan2"}));

  auto c1 = client_->LoadContainer(ctx_, "orphan1");
  auto t1 = c1->GetTask(ctx_);
  EXPECT_EQ(t1->GetStatus(ctx_).status, Status::kCreated);
  t1->Start(ctx_);
  EXPECT_EQ(t1->Wait(ctx_).exit_code, 5u);
  EXPECT_EQ(t1->Delete(ctx_).exit_code, 5u);
  c1->Delete(ctx_);
  ASSERT_TRUE(backend_->WaitForEvent("orphan1", EventType::kExit));
  EXPECT_EQ(backend_->For("orphan1").back().info.exit_code, 5u);

  auto c2 = client_->LoadContainer(ctx_, "orphan2");
  auto t2 = c2->GetTask(ctx_);
  EXPECT_EQ(t2->GetStatus(ctx_).status, Status::kCreated);
  t2->Delete(ctx_);  // a created task: killed and deleted
  c2->Delete(ctx_);
  EXPECT_FALSE(RuntimeKnows("orphan2"));
  EXPECT_TRUE(Eventually([&] { return MonitorsUnder(root_).empty(); }));
  EXPECT_TRUE(Leftovers().empty()) << testing::PrintToString(Leftovers());
}

// After a failed NewTask: no task directory, no FIFOs, no runtime state, no monitor; the
// container can be deleted.
void ExpectNothingLeftOfTheTask(DirectTest& t, Client& client, const std::string& id,
                                const std::string& root) {
  const std::string dir = root + "/" + client.Namespace() + "/" + id;
  EXPECT_FALSE(PathExists(dir + "/task"));
  auto entries = DirEntries(dir);
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{"bundle", "container.json"}))
      << "no FIFO directory is left";
  // A monitor that reported a failure exits right after its ready line.
  auto end = std::chrono::steady_clock::now() + 2s;
  while (!MonitorsUnder(root).empty() && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(MonitorsUnder(root).empty());
  (void)t;
  client.LoadContainer(Context(), id)->Delete(Context());
}

TEST_F(DirectTest, AMissingBinaryInTheContainerIsNotFoundAndLeavesNothing) {
  Connect();
  auto c = Create("nobin1", {"/no/such/binary"});
  try {
    auto t = c->NewTask(ctx_, "", false, cio::Capture(std::make_shared<cio::Captured>()));
    t->Start(ctx_);
    FAIL() << "a missing binary";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
    std::printf("missing binary: %s\n", e.what());
    EXPECT_NE(std::string(e.what()).find("/no/such/binary"), std::string::npos) << e.what();
  }
  try {
    c->GetTask(ctx_)->ForceDelete(ctx_);  // when the failure came at Start
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
  EXPECT_FALSE(RuntimeKnows("nobin1"));
  ExpectNothingLeftOfTheTask(*this, *client_, "nobin1", root_);
}

TEST_F(DirectTest, AMissingRuntimeBinaryIsAClearErrorAndLeavesNothing) {
  Connect();
  const std::string bin_dir = root_ + "-bin";
  std::filesystem::create_directories(bin_dir);
  std::filesystem::copy_file("/usr/sbin/runc", bin_dir + "/myruntime");
  auto c = client_->NewContainer(ctx_, "nort1", SpecOf("nort1", {"true"}), "",
                                 RuncOptions{.binary_name = bin_dir + "/myruntime"});
  std::filesystem::remove_all(bin_dir);
  try {
    c->NewTask(ctx_, "", false, cio::Capture(std::make_shared<cio::Captured>()));
    FAIL() << "the runtime is gone";
  } catch (const Error& e) {
    std::printf("missing runtime: %s\n", e.what());
    EXPECT_NE(std::string(e.what()).find("myruntime"), std::string::npos)
        << "the error names the runtime: " << e.what();
  }
  ExpectNothingLeftOfTheTask(*this, *client_, "nort1", root_);
}

TEST_F(DirectTest, ABundleTheRuntimeRefusesIsAClearErrorAndLeavesNothing) {
  Connect();
  auto spec = SpecOf("badb1", {"true"});
  oci::Mount m;
  m.destination = "/mnt/x";
  m.type = "bind";
  m.source = "/no/such/source/dir";
  m.options = {"rbind", "ro"};
  spec.mounts.push_back(m);
  auto c = client_->NewContainer(ctx_, "badb1", spec, "", RuncOptions{});
  try {
    c->NewTask(ctx_, "", false, cio::Capture(std::make_shared<cio::Captured>()));
    FAIL() << "runc cannot mount a missing source";
  } catch (const Error& e) {
    std::printf("bad bundle: %s\n", e.what());
    EXPECT_NE(std::string(e.what()).find("/no/such/source/dir"), std::string::npos)
        << "the runtime's message is in the error: " << e.what();
  }
  EXPECT_FALSE(RuntimeKnows("badb1"));
  ExpectNothingLeftOfTheTask(*this, *client_, "badb1", root_);

  auto missing_root = SpecOf("badb2", {"true"});
  missing_root.root->path = "/no/such/rootfs";
  auto c2 = client_->NewContainer(ctx_, "badb2", missing_root, "", RuncOptions{});
  try {
    c2->NewTask(ctx_, "", false, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
  ExpectNothingLeftOfTheTask(*this, *client_, "badb2", root_);
}

TEST_F(DirectTest, AMonitorBinaryGoneAfterTheClientStartedIsNotFoundAndLeavesNothing) {
  ASSERT_FALSE(monitor_.empty());
  const std::string bin_dir = root_ + "-mon";
  std::filesystem::create_directories(bin_dir);
  std::filesystem::copy_file(monitor_, bin_dir + "/lcd-monitor");
  monitor_ = bin_dir + "/lcd-monitor";
  Connect();
  auto c = Create("nomon1", {"true"});
  std::filesystem::remove_all(bin_dir);
  try {
    c->NewTask(ctx_, "", false, cio::Capture(std::make_shared<cio::Captured>()));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
    std::printf("missing monitor: %s\n", e.what());
    EXPECT_NE(std::string(e.what()).find(bin_dir), std::string::npos) << e.what();
  }
  ExpectNothingLeftOfTheTask(*this, *client_, "nomon1", root_);
}

// Two namespaces told to use one runtime root, with the same container id: the second task
// is refused before the runtime runs (a failed create's clean-up, `delete --force ID`, would
// kill the first namespace's container), naming the runtime root; the first runs on.
TEST_F(DirectTest, AnIdTheSharedRuntimeRootHoldsAlreadyIsRefusedAndThatContainerRunsOn) {
  Connect();
  const std::string shared = root_ + "-sharedrt";
  auto other_options = ClientOptions();
  other_options.ns = ns_ + "b";
  auto other = NewDirectClient(other_options);
  auto a = client_->NewContainer(ctx_, "same1", SpecOf("same1", {"sleep", "60"}), "",
                                 RuncOptions{.root = shared});
  auto ta = a->NewTask(ctx_, "", false, nullptr);
  ta->Start(ctx_);
  auto b = other->NewContainer(ctx_, "same1", SpecOf("same1", {"true"}), "",
                               RuncOptions{.root = shared});
  try {
    b->NewTask(ctx_, "", false, nullptr);
    ADD_FAILURE() << "a second container same1 under one runtime root";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kAlreadyExists) << e.what();
    EXPECT_NE(std::string(e.what()).find(shared), std::string::npos) << e.what();
  }
  EXPECT_EQ(ta->GetStatus(ctx_).status, Status::kRunning)
      << "the first namespace's container was killed";
  EXPECT_FALSE(std::filesystem::exists(root_ + "/" + other_options.ns + "/same1/task"));
  b->Delete(ctx_);
  ta->ForceDelete(ctx_);
  a->Delete(ctx_);
  std::filesystem::remove_all(shared);
}

TEST_F(DirectTest, ManyLifecyclesKeepFdsAndThreadsFlatAndLeaveNoMonitor) {
  Connect();
  const char* env = std::getenv("LCD_DIRECT_LIFECYCLES");
  const int n = env ? std::atoi(env) : 100;
  auto one = [&](int i) { TrueLifecycle("many" + std::to_string(i)); };
  for (int i = 0; i < 5; ++i) one(i);  // warm-up: the dispatcher's workers, caches
  ASSERT_TRUE(backend_->WaitForEvent("many4", EventType::kExit));
  const int fds = OpenFdCount();
  const int threads = ThreadCount();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 5; i < n; ++i) one(i);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  std::printf("%d lifecycles in %lld ms (%.1f ms each)\n", n - 5,
              static_cast<long long>(ms.count()), double(ms.count()) / std::max(1, n - 5));
  ASSERT_TRUE(ExitsReach(n));
  EXPECT_LE(OpenFdCount(), fds + 2);
  EXPECT_LE(ThreadCount(), threads + 2);
  EXPECT_TRUE(Eventually([&] { return MonitorsUnder(root_).empty(); }));
  EXPECT_TRUE(Leftovers().empty()) << testing::PrintToString(Leftovers());
}

}  // namespace
}  // namespace lcdtest
