// Runtime options of any shim (issue 14 item 5): runc's options reach the shim (binary_name
// pointing at another OCI runtime binary is used), another shim's options are stored and read
// back unchanged by a Client that did not create the container, and a shim that is not
// installed is a clear error at NewTask that leaves the container as it was and nothing else.
// Also Task::GetStatus's exit code and time once stopped (item 7).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/containerd.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/defaults.h"
#include "run_program.h"
#include "test_util.h"

namespace lcdtest {
namespace {
using namespace libcontainerd;
using namespace std::chrono_literals;

// The runc binary of this machine (installed by scripts/setup: required, never skipped).
std::string RuncPath() {
  std::istringstream path(std::getenv("PATH") ? std::getenv("PATH") : "/usr/sbin:/usr/bin");
  std::string dir;
  while (std::getline(path, dir, ':')) {
    const std::string p = dir + "/runc";
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

class RuntimeOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_ = UniqueId("rtopt");
    client_ = NewContainerdClient(TestClientOptions(ns_));
  }
  void TearDown() override {
    for (const auto& id : client_->ListContainers(ctx_)) {
      auto c = client_->LoadContainer(ctx_, id);
      try {
        c->GetTask(ctx_)->ForceDelete(ctx_);
      } catch (const Error& e) {
        if (!IsNotFound(e)) ADD_FAILURE() << e.what();
      }
      c->Delete(ctx_);
    }
    // Nothing of this test's namespace left: containerd's namespace, runc's and our state
    // directories of it (empty by now).
    const Result r = Exec({"ctr", "-a", DaemonAddress(), "namespaces", "rm", ns_});
    EXPECT_EQ(r.code, 0) << Describe({"ctr", "namespaces", "rm", ns_}, r);
    std::error_code ec;
    std::filesystem::remove(RuncRoot() + "/" + ns_, ec);
    EXPECT_FALSE(ec) << ec.message();
    std::filesystem::remove(ClientStateDir() + "/" + ns_, ec);
  }
  oci::Spec Spec(const std::string& id, std::vector<std::string> args) {
    oci::SpecOptions o;
    o.id = id;
    o.ns = ns_;
    o.args = std::move(args);
    o.rootfs = Rootfs();
    return oci::DefaultSpec(o);
  }

  std::string ns_;
  std::shared_ptr<Client> client_;
  Context ctx_ = Context::WithTimeout(Scaled(60s));
};

TEST_F(RuntimeOptionsTest, RuncShimRunsTheOciRuntimeNamedByBinaryName) {
  const std::string runc = RuncPath();
  ASSERT_FALSE(runc.empty()) << "runc not found in PATH (scripts/setup installs it)";
  ScratchDir dir("lcd-rtopt");
  // A copy of runc under another name, behind a wrapper that records each invocation.
  const std::string copy = dir.path() + "/other-runc";
  std::filesystem::copy_file(runc, copy);
  const std::string log = dir.path() + "/invocations";
  const std::string wrapper = dir.path() + "/oci-runtime";
  {
    std::ofstream w(wrapper);
    w << "#!/bin/sh\necho \"$*\" >> " << log << "\nexec " << copy << " \"$@\"\n";
  }
  ASSERT_EQ(::chmod(wrapper.c_str(), 0755), 0);

  const std::string id = UniqueId("rt");
  auto c = client_->NewContainer(ctx_, id, Spec(id, {"sh", "-c", "exit 3"}), "",
                                 RuncOptions{.binary_name = wrapper});
  // Stored as given, with the Client's runc root filled in.
  RuntimeInfo info = c->Runtime(ctx_);
  EXPECT_EQ(info.name, "io.containerd.runc.v2");
  ASSERT_NE(info.options.runc(), nullptr);
  EXPECT_EQ(info.options.runc()->binary_name, wrapper);
  EXPECT_EQ(info.options.runc()->root, RuncRoot());

  auto task = c->NewTask(ctx_, "", false, nullptr);
  task->Start(ctx_);
  const ExitStatus exit = task->Wait(ctx_);
  EXPECT_EQ(exit.exit_code, 3u);

  // GetStatus carries the exit once stopped (moby's Task.Status).
  const TaskStatus st = task->GetStatus(ctx_);
  EXPECT_EQ(st.status, Status::kStopped);
  EXPECT_EQ(st, Status::kStopped);  // compares with a Status, as code written before does
  EXPECT_EQ(st.exit_code, 3u);
  EXPECT_EQ(st.exited_at, exit.exited_at);
  EXPECT_LT(std::chrono::system_clock::now() - st.exited_at, Scaled(60s));
  EXPECT_EQ(task->Delete(ctx_).exit_code, 3u);

  // The shim ran our binary for this container: create, start and delete went through it.
  const std::string calls = Slurp(log);
  EXPECT_NE(calls.find("create"), std::string::npos) << calls;
  EXPECT_NE(calls.find("start " + id), std::string::npos) << calls;
  EXPECT_NE(calls.find("--root " + RuncRoot()), std::string::npos) << calls;
}

TEST_F(RuntimeOptionsTest, RunningTaskStatusHasNoExit) {
  const std::string id = UniqueId("rt");
  auto c = client_->NewContainer(ctx_, id, Spec(id, {"sleep", "1000"}), "", {});
  auto task = c->NewTask(ctx_, "", false, nullptr);
  EXPECT_EQ(task->GetStatus(ctx_), (TaskStatus{.status = Status::kCreated}));
  task->Start(ctx_);
  EXPECT_EQ(task->GetStatus(ctx_), (TaskStatus{.status = Status::kRunning}));
  // Empty options for the runc shim: the Client's runc root, as before.
  ASSERT_NE(c->Runtime(ctx_).options.runc(), nullptr);
  EXPECT_EQ(c->Runtime(ctx_).options.runc()->root, RuncRoot());
  task->Kill(ctx_, SIGKILL);
  EXPECT_EQ(task->Wait(ctx_).exit_code, 137u);
  EXPECT_EQ(task->GetStatus(ctx_).exit_code, 137u);
}

TEST_F(RuntimeOptionsTest, ForeignOptionsSurviveLoadContainerByAnotherClient) {
  const std::string id = UniqueId("rt");
  const std::string shim = "io.containerd.lcdexample.v1";
  // Bytes that are no runc Options (and not valid UTF-8), under another type URL.
  const TypedMessage foreign{"example.com/lcd.test.v1.ShimOptions",
                             std::string("\x0a\x03"
                                         "abc\x10\x2a\xff\x00\x01",
                                         9)};
  client_->NewContainer(ctx_, id, Spec(id, {"true"}), shim, foreign);

  auto other = NewContainerdClient(TestClientOptions(ns_));
  auto c = other->LoadContainer(ctx_, id);
  RuntimeInfo info = c->Runtime(ctx_);
  EXPECT_EQ(info.name, shim);
  ASSERT_NE(info.options.message(), nullptr);
  EXPECT_EQ(*info.options.message(), foreign);

  // The shim is not installed: NewTask says so, naming it and its binary; the container is as
  // it was (same runtime and options), with no task.
  Error err(ErrorKind::kUnknown, "");
  try {
    c->NewTask(ctx_, "", true, cio::Capture(std::make_shared<cio::Captured>()));  // with FIFOs
    FAIL() << "NewTask with a shim that is not installed succeeded";
  } catch (const Error& e) {
    err = e;
  }
  EXPECT_EQ(err.kind(), ErrorKind::kNotFound) << err.what();
  EXPECT_NE(err.message().find(shim), std::string::npos) << err.what();
  EXPECT_NE(err.message().find("containerd-shim-lcdexample-v1"), std::string::npos) << err.what();
  EXPECT_NE(err.message().find("install"), std::string::npos) << err.what();
  EXPECT_EQ(KindOf([&] { c->GetTask(ctx_); }), ErrorKind::kNotFound);
  // No bundle left in containerd's state, no FIFO directory in ours.
  EXPECT_FALSE(std::filesystem::exists(DaemonRoot() + "/state/io.containerd.runtime.v2.task/" +
                                       ns_ + "/" + id));
  const std::string fifo_parent = ClientStateDir() + "/" + ns_ + "/" + id;
  EXPECT_TRUE(!std::filesystem::exists(fifo_parent) || std::filesystem::is_empty(fifo_parent))
      << fifo_parent;
  auto again = client_->LoadContainer(ctx_, id);
  EXPECT_EQ(again->Runtime(ctx_).name, shim);
  ASSERT_NE(again->Runtime(ctx_).options.message(), nullptr);
  EXPECT_EQ(*again->Runtime(ctx_).options.message(), foreign);

  // A restore needs runc's options: refused before anything is sent.
  EXPECT_EQ(KindOf([&] { c->NewTask(ctx_, "/tmp/no-such-checkpoint", false, nullptr); }),
            ErrorKind::kInvalidArgument);
}

TEST_F(RuntimeOptionsTest, ShimNameContainerdCannotResolveIsRefusedAtNewContainer) {
  const std::string id = UniqueId("rt");
  for (const std::string shim : {"runc", ".runc.v2"}) {
    SCOPED_TRACE(shim);
    EXPECT_EQ(KindOf([&] { client_->NewContainer(ctx_, id, Spec(id, {"true"}), shim, {}); }),
              ErrorKind::kInvalidArgument);
    EXPECT_EQ(KindOf([&] { client_->LoadContainer(ctx_, id); }), ErrorKind::kNotFound);
  }
}

}  // namespace
}  // namespace lcdtest
