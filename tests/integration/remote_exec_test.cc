// Exec processes and Pids.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <mutex>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/errors.h"
#include "test_util.h"

using namespace libcontainerd;
using lcdtest::ClientTest;
using lcdtest::ExecSpec;
using namespace std::chrono_literals;

class ExecTest : public ClientTest {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    container_ = Create(lcdtest::UniqueId("exec"), {"sleep", "1000"});
    task_ = container_->NewTask(ctx_, "", false, nullptr);
    task_->Start(ctx_);
  }
  std::shared_ptr<Container> container_;
  std::shared_ptr<Task> task_;
};

TEST_F(ExecTest, ExitCodeOfExecIsReturned) {
  auto p = task_->Exec(ctx_, "e6", ExecSpec({"sh", "-c", "exit 6"}), false, nullptr);
  EXPECT_GT(p->Pid(), 0u);
  p->Wait(ctx_);
  EXPECT_EQ(p->Delete(ctx_).exit_code, 6u);
}

TEST_F(ExecTest, ExecWithA20000CharacterArgumentSucceeds) {
  std::string big(20000, 'x');
  auto cap = std::make_shared<cio::Captured>();
  auto p = task_->Exec(ctx_, "big", ExecSpec({"sh", "-c", "echo ${#1}", "sh", big}), false,
                       cio::Capture(cap));
  p->Wait(ctx_);
  EXPECT_EQ(p->Delete(ctx_).exit_code, 0u);
  EXPECT_EQ(cap->Out(), "20000\n");
}

TEST_F(ExecTest, PidsListsInitAndTheRunningExecWithItsId) {
  auto p = task_->Exec(ctx_, "sleeper", ExecSpec({"sleep", "1000"}), false, nullptr);
  auto pids = task_->Pids(ctx_);
  bool init = false, exec = false;
  for (const auto& i : pids) {
    if (i.pid == task_->Pid()) init = i.exec_id.empty();
    if (i.pid == p->Pid()) exec = i.exec_id == "sleeper";
  }
  EXPECT_TRUE(init) << pids.size();
  EXPECT_TRUE(exec);
  // moby's Summary: one entry per process Pids reports, with its pid.
  auto summary = task_->GetSummary(ctx_);
  ASSERT_EQ(summary.size(), pids.size());
  for (size_t i = 0; i < pids.size(); ++i) EXPECT_EQ(summary[i].process_id, pids[i].pid);
  // The runc shim's raw process details: an exec's carry containerd.runc.v1.ProcessDetails.
  // The direct backend has no shim: no raw details (docs/direct-backend.md).
  for (const auto& i : pids)
    if (i.pid == p->Pid() && lcdtest::IsDirectBackend()) {
      EXPECT_FALSE(i.info);
    } else if (i.pid == p->Pid()) {
      ASSERT_TRUE(i.info);
      EXPECT_TRUE(i.info->type_url.ends_with("containerd.runc.v1.ProcessDetails"))
          << i.info->type_url;
      EXPECT_FALSE(i.info->value.empty());
    }
  p->Kill(ctx_, SIGKILL);
  EXPECT_EQ(p->Wait(ctx_).exit_code, 137u);
  p->Delete(ctx_);
}

TEST_F(ExecTest, ExecStdinEofIsForwardedAfterStart) {
  auto cap = std::make_shared<cio::Captured>();
  auto p = task_->Exec(ctx_, "cat", ExecSpec({"cat"}), true, cio::Capture(cap));
  cap->fifos->WriteStdin("data");
  cap->fifos->CloseStdin();
  EXPECT_EQ(p->Wait(Context::WithTimeout(lcdtest::Scaled(10s))).exit_code, 0u);
  p->Delete(ctx_);
  EXPECT_EQ(cap->Out(), "data");
}

TEST_F(ExecTest, ExecOfAMissingBinaryFailsAtStartAndLeavesNothing) {
  int fds = lcdtest::OpenFdCount();
  try {
    task_->Exec(ctx_, "missing", ExecSpec({"/no/such/bin"}), true,
                cio::Capture(std::make_shared<cio::Captured>()));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  }
  EXPECT_EQ(lcdtest::OpenFdCount(), fds);
  for (const auto& i : task_->Pids(ctx_)) EXPECT_NE(i.exec_id, "missing");
  std::string dir = lcdtest::BackendStateDir() + "/" + ns_ + "/" + container_->ID();
  for (const auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find("exec-missing"), std::string::npos) << e.path();
  // The id is free again.
  auto p = task_->Exec(ctx_, "missing", ExecSpec({"true"}), false, nullptr);
  p->Wait(ctx_);
  p->Delete(ctx_);
}

TEST_F(ExecTest, ExecIdReuseWhileRunningIsAlreadyExists) {
  auto p = task_->Exec(ctx_, "dup", ExecSpec({"sleep", "1000"}), false, nullptr);
  try {
    task_->Exec(ctx_, "dup", ExecSpec({"true"}), false, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kAlreadyExists) << e.what();
  }
  p->Kill(ctx_, SIGKILL);
  p->Wait(ctx_);
  p->Delete(ctx_);
}

TEST_F(ExecTest, InvalidExecInputIsRefused) {
  EXPECT_ERROR_KIND(task_->Exec(ctx_, "../x", ExecSpec({"true"}), false, nullptr),
                    ErrorKind::kInvalidArgument);
  oci::Process empty = ExecSpec({"true"});
  empty.args.clear();
  try {
    task_->Exec(ctx_, "noargs", empty, false, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
  }
}

TEST_F(ExecTest, StdinCopiedAndClosedBeforeTheExecStartsIsNotLost) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(write(p[1], "early bytes", 11), 11);
  close(p[1]);  // EOF is already there when the exec's IO starts copying
  auto out = std::make_shared<std::string>();
  auto mu = std::make_shared<std::mutex>();
  cio::StreamOptions o;
  o.stdin_source_fd = p[0];
  o.on_stdout = [out, mu](std::string_view s) {
    std::lock_guard l(*mu);
    out->append(s);
  };
  auto proc = task_->Exec(ctx_, "early", ExecSpec({"cat"}), true, cio::StreamCallback(o));
  EXPECT_EQ(proc->Wait(Context::WithTimeout(lcdtest::Scaled(10s))).exit_code, 0u);
  proc->Delete(ctx_);
  close(p[0]);
  std::lock_guard l(*mu);
  EXPECT_EQ(*out, "early bytes");
}

// Deterministic form of the race above: the callback writes and closes stdin before it even
// returns, so before the library has attached its close hook to the FIFO set.
TEST_F(ExecTest, StdinWrittenAndClosedInsideTheStdioCallbackReachesTheExec) {
  auto cap = std::make_shared<cio::Captured>();
  StdioCallback capture = cio::Capture(cap);
  StdioCallback cb = [capture](std::shared_ptr<DirectIO> fifos) {
    auto io = capture(fifos);
    fifos->WriteStdin("written early");
    fifos->CloseStdin();
    return io;
  };
  auto proc = task_->Exec(ctx_, "inside", ExecSpec({"cat"}), true, cb);
  EXPECT_EQ(proc->Wait(Context::WithTimeout(lcdtest::Scaled(10s))).exit_code, 0u)
      << "cat never saw EOF";
  proc->Delete(ctx_);
  EXPECT_EQ(cap->Out(), "written early");
}

TEST_F(ExecTest, TerminalWithoutStdioIsRefusedUpFront) {
  oci::Process spec = ExecSpec({"true"});
  spec.terminal = true;
  try {
    task_->Exec(ctx_, "tty", spec, false, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
  }
}
