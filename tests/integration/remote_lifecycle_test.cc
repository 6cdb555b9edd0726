// The containerd backend against the real daemon: containers, task lifecycle, errors.
#include <sys/stat.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"
#include "test_util.h"

using namespace libcontainerd;
using lcdtest::ClientTest;
using lcdtest::ContainerdClientTest;
using lcdtest::KindOf;

using lcdtest::RunCommand;

// containerd's version, or with the direct backend the OCI runtime's (docs/direct-backend.md).
TEST_F(ClientTest, VersionMatchesTheBackendsBinary) {
  Version v = client_->GetVersion(ctx_);
  ASSERT_FALSE(v.version.empty());
  const char* binary = lcdtest::IsDirectBackend() ? "runc --version" : "containerd --version";
  EXPECT_NE(RunCommand(binary).find(v.version), std::string::npos) << v.version;
}

TEST_F(ClientTest, NewContainerThenLoadContainerGivesTheSameSpec) {
  std::string id = lcdtest::UniqueId("load");
  auto opts = Options(id, {"true"});
  opts.hostname = "h1";
  opts.env = {"A=1"};
  auto spec = oci::DefaultSpec(opts);
  client_->NewContainer(ctx_, id, spec, "", RuncOptions{}, {.labels = {{"k", "v"}}});
  auto loaded = client_->LoadContainer(ctx_, id);
  EXPECT_EQ(loaded->ID(), id);
  EXPECT_EQ(loaded->Spec(ctx_), spec);
  EXPECT_EQ(loaded->Labels(ctx_).at("k"), "v");
}

TEST_F(ClientTest, DuplicateIdIsAlreadyExistsAndUnknownIdIsNotFound) {
  std::string id = lcdtest::UniqueId("dup");
  Create(id, {"true"});
  EXPECT_EQ(KindOf([&] { Create(id, {"true"}); }), ErrorKind::kAlreadyExists);
  EXPECT_EQ(KindOf([&] { client_->LoadContainer(ctx_, "no-such-container"); }),
            ErrorKind::kNotFound);
}

// Refused with kInvalidArgument, and nothing is made: no container in containerd, no directory
// where the id would put one (inside or outside the namespace's state directory).
TEST_F(ClientTest, InvalidIdsAreInvalidArgumentAndCreateNothing) {
  const std::string ns_dir = lcdtest::BackendStateDir() + "/" + ns_;
  auto opts = Options("x", {"true"});
  for (std::string id :
       {std::string("../x"), std::string(77, 'a'), std::string("a/b"), std::string()}) {
    EXPECT_EQ(KindOf([&] { client_->NewContainer(ctx_, id, oci::DefaultSpec(opts), "", {}); }),
              ErrorKind::kInvalidArgument)
        << id;
    EXPECT_EQ(KindOf([&] { client_->LoadContainer(ctx_, id); }), ErrorKind::kInvalidArgument) << id;
  }
  EXPECT_FALSE(std::filesystem::exists(ns_dir + "/../x"));
  EXPECT_FALSE(std::filesystem::exists(ns_dir + "/a"));
  EXPECT_FALSE(std::filesystem::exists(ns_dir + "/" + std::string(77, 'a')));
  EXPECT_TRUE(client_->ListContainers(ctx_).empty());
  // Control: the same call with a valid id makes the container the checks above look for.
  std::string id = lcdtest::UniqueId("validid");
  auto c = client_->NewContainer(ctx_, id, oci::DefaultSpec(opts), "", {});
  EXPECT_EQ(client_->ListContainers(ctx_), std::vector<std::string>{id});
  c->Delete(ctx_);
}

// containerd answers both with code Unknown; the library asks the task's state.
TEST_F(ClientTest, StartingARunningOrAStoppedTaskIsFailedPreconditionNamingTheState) {
  auto c = Create(lcdtest::UniqueId("restart"), {"sleep", "100"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  // Start fails kFailedPrecondition with a message naming `state`.
  auto start_refused = [&](const std::string& state) {
    try {
      task->Start(ctx_);
      ADD_FAILURE() << "Start succeeded on a task that is " << state;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
      EXPECT_NE(e.message().find(state), std::string::npos) << e.what();
    }
  };
  task->Start(ctx_);
  start_refused("already started");
  task->Kill(ctx_, SIGKILL);
  task->Wait(ctx_);
  start_refused("stopped");
  EXPECT_EQ(task->Delete(ctx_).exit_code, 137u);
  c->Delete(ctx_);
}

TEST_F(ClientTest, ExitCodeSevenWithPidBeforeStartAndExitTimeAfterStart) {
  auto c = Create(lcdtest::UniqueId("exit7"), {"sh", "-c", "exit 7"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  EXPECT_GT(task->Pid(), 0u);
  EXPECT_EQ(task->GetStatus(ctx_), Status::kCreated);
  auto started = std::chrono::system_clock::now();
  task->Start(ctx_);
  ExitStatus waited = task->Wait(ctx_);
  ExitStatus st = task->Delete(ctx_);
  EXPECT_EQ(st.exit_code, 7u);
  EXPECT_EQ(waited.exit_code, 7u);
  EXPECT_GE(st.exited_at + std::chrono::milliseconds(5), started);
  c->Delete(ctx_);
}

TEST_F(ClientTest, DeletesAreRefusedWhileRunningAndForceDeleteLeavesNoProcess) {
  auto c = Create(lcdtest::UniqueId("busy"), {"sleep", "100"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  uint32_t pid = task->Pid();
  EXPECT_TRUE(lcdtest::PidAlive(pid));
  EXPECT_EQ(KindOf([&] { c->Delete(ctx_); }), ErrorKind::kFailedPrecondition);
  EXPECT_EQ(KindOf([&] { task->Delete(ctx_); }), ErrorKind::kFailedPrecondition);
  EXPECT_EQ(task->GetStatus(ctx_), Status::kRunning);
  task->ForceDelete(ctx_);
  EXPECT_FALSE(lcdtest::PidAlive(pid));
  EXPECT_EQ(KindOf([&] { c->GetTask(ctx_); }), ErrorKind::kNotFound);
  task->ForceDelete(ctx_);  // a task that is already gone is fine
  c->Delete(ctx_);
  EXPECT_EQ(KindOf([&] { client_->LoadContainer(ctx_, c->ID()); }), ErrorKind::kNotFound);
}

// docs/security.md "two daemons sharing runc state": every shim the library starts gets the
// Client's runc root (the daemon's ROOT/runc), never runc's default /run/containerd/runc.
TEST_F(ContainerdClientTest, TheShimUsesTheClientsRuncRootNotTheDefault) {
  std::string id = lcdtest::UniqueId("runcroot");
  auto c = Create(id, {"sleep", "100"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  EXPECT_EQ(lcdtest::RuncRoot(), lcdtest::DaemonRoot() + "/runc");
  EXPECT_TRUE(std::filesystem::exists(lcdtest::RuncRoot() + "/" + ns_ + "/" + id + "/state.json"));
  EXPECT_FALSE(std::filesystem::exists("/run/containerd/runc/" + ns_ + "/" + id));
  task->ForceDelete(ctx_);
  EXPECT_FALSE(std::filesystem::exists(lcdtest::RuncRoot() + "/" + ns_ + "/" + id));
  c->Delete(ctx_);
}

TEST_F(ClientTest, SigkillGives137AndASecondKillIsNotFound) {
  auto c = Create(lcdtest::UniqueId("kill"), {"sleep", "100"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  task->Kill(ctx_, SIGKILL);
  EXPECT_EQ(task->Wait(ctx_).exit_code, 137u);
  EXPECT_EQ(KindOf([&] { task->Kill(ctx_, SIGKILL); }), ErrorKind::kNotFound);
  EXPECT_EQ(task->Delete(ctx_).exit_code, 137u);
}

TEST_F(ClientTest, MissingBinaryFailsNewTaskAndLeavesNothing) {
  auto c = Create(lcdtest::UniqueId("nobin"), {"/no/such/binary"});
  int fds = lcdtest::OpenFdCount();
  auto cap = std::make_shared<cio::Captured>();
  try {
    c->NewTask(ctx_, "", true, cio::Capture(cap));
    FAIL() << "NewTask succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
    EXPECT_NE(std::string(e.what()).find("/no/such/binary"), std::string::npos) << e.what();
  }
  cap->fifos.reset();
  EXPECT_EQ(KindOf([&] { c->GetTask(ctx_); }), ErrorKind::kNotFound);
  std::string dir = lcdtest::BackendStateDir() + "/" + ns_ + "/" + c->ID(), extra;
  EXPECT_TRUE(lcdtest::NoProcessStateIn(dir, &extra)) << dir << ": " << extra;
  EXPECT_EQ(lcdtest::OpenFdCount(), fds);
  c->Delete(ctx_);
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST_F(ClientTest, NonExecutableBinaryIsAFailedPrecondition) {
  auto c = Create(lcdtest::UniqueId("noexec"), {"/etc/passwd"});
  try {
    auto t = c->NewTask(ctx_, "", false, nullptr);
    t->Start(ctx_);
    FAIL() << "started a non-executable file";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
    EXPECT_NE(std::string(e.what()).find("permission denied"), std::string::npos) << e.what();
  }
}

TEST_F(ClientTest, MissingRootfsIsNotFoundBeforeAnyFifo) {
  std::string id = lcdtest::UniqueId("noroot");
  auto opts = Options(id, {"true"});
  opts.rootfs = "/nonexistent/rootfs";
  auto c = Create(opts);
  EXPECT_EQ(
      KindOf([&] { c->NewTask(ctx_, "", false, cio::Capture(std::make_shared<cio::Captured>())); }),
      ErrorKind::kNotFound);
  std::string extra;
  EXPECT_TRUE(lcdtest::NoProcessStateIn(lcdtest::BackendStateDir() + "/" + ns_ + "/" + id, &extra))
      << extra;
}

TEST_F(ClientTest, PauseAndResumeShowInStatusAndPausingAStoppedTaskIsRefused) {
  auto c = Create(lcdtest::UniqueId("pause"), {"sleep", "100"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  task->Pause(ctx_);
  EXPECT_EQ(task->GetStatus(ctx_), Status::kPaused);
  task->Resume(ctx_);
  EXPECT_EQ(task->GetStatus(ctx_), Status::kRunning);
  task->Kill(ctx_, SIGKILL);
  task->Wait(ctx_);
  EXPECT_EQ(task->GetStatus(ctx_), Status::kStopped);
  EXPECT_EQ(KindOf([&] { task->Pause(ctx_); }), ErrorKind::kFailedPrecondition);
  EXPECT_EQ(KindOf([&] { task->Resume(ctx_); }), ErrorKind::kFailedPrecondition);
  task->Delete(ctx_);
}

TEST_F(ClientTest, ResizeToZeroIsInvalid) {
  auto c = Create(lcdtest::UniqueId("rz"), {"sleep", "100"});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  EXPECT_EQ(KindOf([&] { task->Resize(ctx_, 0, 0); }), ErrorKind::kInvalidArgument);
  task->ForceDelete(ctx_);
}

TEST_F(ClientTest, ObjectsOfADestroyedClientFailUnavailable) {
  auto c = Create(lcdtest::UniqueId("closed"), {"true"});
  auto other = lcdtest::NewTestClient(ns_);
  auto mine = other->LoadContainer(ctx_, c->ID());
  other.reset();
  EXPECT_EQ(KindOf([&] { mine->GetTask(ctx_); }), ErrorKind::kUnavailable);
}

TEST(ClientConnect, SocketThatIsARegularFileIsUnavailable) {
  std::string f = "/tmp/lcd-not-a-socket-" + std::to_string(getpid());
  {
    std::FILE* fp = std::fopen(f.c_str(), "w");
    std::fclose(fp);
  }
  auto o = lcdtest::TestClientOptions("x");
  o.address = f;
  EXPECT_EQ(KindOf([&] { NewContainerdClient(o); }), ErrorKind::kUnavailable);
  o.address = "/tmp/no-such-socket-here";
  EXPECT_EQ(KindOf([&] { NewContainerdClient(o); }), ErrorKind::kUnavailable);
  o.address = lcdtest::DaemonAddress();
  o.ns = "bad/ns";
  EXPECT_EQ(KindOf([&] { NewContainerdClient(o); }), ErrorKind::kInvalidArgument);
  std::remove(f.c_str());
}
