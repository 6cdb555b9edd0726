// common/task_checks.h: the NewTask and Exec argument checks both backends make, and the
// ForceDelete they make of their process core (here a fake core: the unit's seam).
#include "common/task_checks.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "libcontainerd/types.h"

using namespace libcontainerd;

namespace {

ErrorKind KindOf(const std::function<void()>& f, std::string* message = nullptr,
                 std::string* path = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    if (path) *path = e.context().path;
    return e.kind();
  }
  return ErrorKind::kUnknown;  // no error: callers expect one
}

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/lcd-task-checks-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST(CheckNewTask, TheRootfsMustBeADirectoryRelativeToTheBundleWhenOneIsGiven) {
  TempDir bundle;
  std::filesystem::create_directory(bundle.path + "/rootfs");
  EXPECT_NO_THROW(CheckNewTask("rootfs", bundle.path, false, false, "", {}));
  EXPECT_NO_THROW(CheckNewTask(bundle.path + "/rootfs", "", false, false, "", {}));
  EXPECT_NO_THROW(CheckNewTask("", bundle.path, false, false, "", {}));
  // Relative without a bundle (containerd's): not checked.
  EXPECT_NO_THROW(CheckNewTask("no-such-dir", "", false, false, "", {}));
  std::string msg, path;
  EXPECT_EQ(
      KindOf([&] { CheckNewTask("missing", bundle.path, false, false, "", {}); }, &msg, &path),
      ErrorKind::kNotFound);
  EXPECT_EQ(path, bundle.path + "/missing");
  EXPECT_NE(msg.find("prepare it"), std::string::npos) << msg;
  ::close(::creat((bundle.path + "/file").c_str(), 0600));
  EXPECT_EQ(KindOf([&] { CheckNewTask(bundle.path + "/file", "", false, false, "", {}); }),
            ErrorKind::kNotFound)
      << "a file is no rootfs";
}

TEST(CheckNewTask, ATerminalNeedsStdioAndACheckpointDirectoryMustBeAbsolute) {
  std::string msg, path;
  EXPECT_EQ(KindOf([&] { CheckNewTask("", "", true, false, "", {}); }, &msg),
            ErrorKind::kInvalidArgument);
  EXPECT_NE(msg.find("StdioCallback"), std::string::npos) << msg;
  EXPECT_NO_THROW(CheckNewTask("", "", true, true, "", {}));
  EXPECT_EQ(KindOf([&] { CheckNewTask("", "", false, false, "ckpt", {}); }, &msg, &path),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(path, "ckpt");
  EXPECT_NO_THROW(CheckNewTask("", "", false, false, "/abs/ckpt", {}));
}

TEST(CheckExec, TheIdTheProcessAndATerminalWithoutStdioAreRefused) {
  oci::Process p;
  p.args = {"/bin/true"};
  p.cwd = "/";
  EXPECT_NO_THROW(CheckExec("e1", p, false, {}));
  EXPECT_EQ(KindOf([&] { CheckExec("bad id/", p, false, {}); }), ErrorKind::kInvalidArgument);
  oci::Process none = p;
  none.args.clear();
  EXPECT_EQ(KindOf([&] { CheckExec("e1", none, false, {}); }), ErrorKind::kInvalidArgument);
  oci::Process tty = p;
  tty.terminal = true;
  std::string msg;
  EXPECT_EQ(KindOf([&] { CheckExec("e1", tty, false, {.op = "Exec"}); }, &msg),
            ErrorKind::kInvalidArgument);
  EXPECT_NE(msg.find("terminal"), std::string::npos) << msg;
  EXPECT_NO_THROW(CheckExec("e1", tty, true, {}));
}

namespace {
// A process core that fails each step as told and records the steps.
struct FakeCore {
  std::vector<std::string> steps;
  std::optional<ErrorKind> kill_fails, wait_fails, delete_fails;
  void Kill(const Context&, int signal, bool all) {
    steps.push_back("kill " + std::to_string(signal) + (all ? " all" : ""));
    if (kill_fails) throw Error(*kill_fails, "kill");
  }
  ExitStatus Wait(const Context&) {
    steps.push_back("wait");
    if (wait_fails) throw Error(*wait_fails, "wait");
    return {};
  }
  ExitStatus Delete(const Context&) {
    steps.push_back("delete");
    if (delete_fails) throw Error(*delete_fails, "delete");
    return {};
  }
  void ReleaseIO(bool remove_fifos) { steps.push_back(remove_fifos ? "release+rm" : "release"); }
};
}  // namespace

TEST(ForceDeleteTask, KillsWaitsDeletesAndToleratesAProcessAlreadyGone) {
  Context ctx;
  FakeCore ok;
  ForceDeleteTask(ok, ctx);
  EXPECT_EQ(ok.steps, (std::vector<std::string>{"kill 9 all", "wait", "delete"}));
  // Stopped already (containerd: not found; the monitor: failed precondition), then deleted
  // by another Client: our stdio is released all the same.
  for (ErrorKind k : {ErrorKind::kNotFound, ErrorKind::kFailedPrecondition}) {
    FakeCore gone;
    gone.kill_fails = k;
    gone.wait_fails = ErrorKind::kNotFound;
    gone.delete_fails = ErrorKind::kNotFound;
    ForceDeleteTask(gone, ctx);
    EXPECT_EQ(gone.steps, (std::vector<std::string>{"kill 9 all", "wait", "delete", "release+rm"}));
  }
}

TEST(ForceDeleteTask, OtherErrorsStopItAndReachTheCaller) {
  Context ctx;
  FakeCore k;
  k.kill_fails = ErrorKind::kUnavailable;
  EXPECT_EQ(KindOf([&] { ForceDeleteTask(k, ctx); }), ErrorKind::kUnavailable);
  EXPECT_EQ(k.steps, (std::vector<std::string>{"kill 9 all"}));
  FakeCore w;
  w.wait_fails = ErrorKind::kDeadlineExceeded;
  EXPECT_EQ(KindOf([&] { ForceDeleteTask(w, ctx); }), ErrorKind::kDeadlineExceeded);
  FakeCore d;
  d.delete_fails = ErrorKind::kFailedPrecondition;
  EXPECT_EQ(KindOf([&] { ForceDeleteTask(d, ctx); }), ErrorKind::kFailedPrecondition);
  EXPECT_EQ(d.steps, (std::vector<std::string>{"kill 9 all", "wait", "delete"}))
      << "no release when the delete failed for another reason";
}
