// Roll-back by RAII: ScopeGuard (src/common/scope_guard.h) and cio::FifoSet (src/cio/fifo.h),
// the owners NewTask, Exec and NewContainer undo their steps with on every failure path.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "cio/fifo.h"
#include "common/scope_guard.h"

using namespace libcontainerd;
namespace fs = std::filesystem;

namespace {

// A fresh parent directory for FIFO sets, removed at the end.
struct TempParent {
  std::string path = "/tmp/lcd-rollback-" + std::to_string(::getpid()) + "-" +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name();
  TempParent() { fs::remove_all(path); }
  ~TempParent() { fs::remove_all(path); }
};

bool IsFifo(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
}

int OpenFdCount() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

}  // namespace

TEST(ScopeGuard, RunsItsUndoWhenLeftWithoutDismiss) {
  int undone = 0;
  {
    ScopeGuard g([&] { ++undone; });
  }
  EXPECT_EQ(undone, 1);
}

TEST(ScopeGuard, DismissedItDoesNothing) {
  int undone = 0;
  {
    ScopeGuard g([&] { ++undone; });
    g.Dismiss();
  }
  EXPECT_EQ(undone, 0);
}

TEST(ScopeGuard, AnExceptionUndoesTheStepsTakenInReverseOrderOnce) {
  std::string order;
  try {
    ScopeGuard first([&] { order += "1"; });
    ScopeGuard second([&] { order += "2"; });
    throw std::runtime_error("step 3 failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(order, "21");
}

TEST(FifoSet, CreateFifoSetMakesAPrivateDirectoryOfFifosWithOurEndsOpen) {
  TempParent parent;
  auto set = cio::CreateFifoSet(parent.path, "init", /*with_stdin=*/true, /*terminal=*/false);
  ASSERT_FALSE(set.dir().empty());
  ASSERT_TRUE(set.io());
  struct stat st {};
  ASSERT_EQ(::stat(set.dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(IsFifo(set.dir() + "/stdin"));
  EXPECT_TRUE(IsFifo(set.dir() + "/stdout"));
  EXPECT_TRUE(IsFifo(set.dir() + "/stderr"));
  EXPECT_EQ(set.io()->Config().stdout_path, set.dir() + "/stdout");
  EXPECT_TRUE(set.io()->has_stdin());
}

TEST(FifoSet, LeftUnreleasedItClosesOurEndsAndRemovesItsDirectory) {
  TempParent parent;
  const int fds_before = OpenFdCount();
  std::string dir;
  std::shared_ptr<DirectIO> io;
  {
    auto set = cio::CreateFifoSet(parent.path, "init", true, false);
    dir = set.dir();
    io = set.io();  // kept alive here: the set must still close its fds
    ASSERT_TRUE(fs::exists(dir));
    EXPECT_EQ(OpenFdCount(), fds_before + 3);  // stdin, stdout, stderr
  }
  EXPECT_FALSE(fs::exists(dir)) << "the FIFO directory outlived its owner";
  EXPECT_EQ(OpenFdCount(), fds_before) << "our ends stayed open";
  EXPECT_LT(io->stdout_fd(), 0);
}

TEST(FifoSet, AnExceptionAfterItsCreationLeavesNothingBehind) {
  TempParent parent;
  std::string dir;
  try {
    auto set = cio::CreateFifoSet(parent.path, "exec-x", false, true);
    dir = set.dir();
    throw std::runtime_error("the StdioCallback failed");
  } catch (const std::runtime_error&) {
  }
  ASSERT_FALSE(dir.empty());
  EXPECT_FALSE(fs::exists(dir));
}

TEST(FifoSet, ReleasedItLeavesTheDirectoryAndTheEndsToTheNewOwner) {
  TempParent parent;
  std::string dir;
  std::shared_ptr<DirectIO> io;
  {
    auto set = cio::CreateFifoSet(parent.path, "init", false, false);
    io = set.io();
    dir = set.Release();
    EXPECT_TRUE(set.dir().empty());
    EXPECT_FALSE(set.io());
  }
  EXPECT_TRUE(fs::exists(dir + "/stdout")) << "a released set was removed";
  EXPECT_GE(io->stdout_fd(), 0) << "a released set closed the new owner's ends";
  io->Close();
  cio::RemoveFifoDir(dir);
  EXPECT_FALSE(fs::exists(dir));
}

TEST(FifoSet, MovingHandsOverOwnershipOnce) {
  TempParent parent;
  std::string dir;
  {
    cio::FifoSet outer;
    {
      auto inner = cio::CreateFifoSet(parent.path, "init", false, false);
      dir = inner.dir();
      outer = std::move(inner);
    }  // the moved-from set owns nothing: the directory stays
    EXPECT_TRUE(fs::exists(dir));
    EXPECT_EQ(outer.dir(), dir);
  }
  EXPECT_FALSE(fs::exists(dir));
}

TEST(FifoSet, AnOwnerWithoutDirectoryOnlyClosesTheEnds) {
  TempParent parent;
  auto made = cio::CreateFifoSet(parent.path, "init", false, false);
  const std::string dir = made.Release();
  auto io = cio::OpenFifos(FifoConfig{"", dir + "/stdout", dir + "/stderr"});
  ASSERT_GE(io->stdout_fd(), 0);
  {
    // As AttachTask holds the re-opened ends of FIFOs that may not be ours.
    cio::FifoSet opened("", io);
  }
  EXPECT_LT(io->stdout_fd(), 0) << "the ends were not closed";
  EXPECT_TRUE(fs::exists(dir + "/stdout")) << "an owner without a directory removed files";
  cio::RemoveFifoDir(dir);
}
