// cio::ProcessStdio: a process's stdio as both backends' process cores hold it (real FIFOs in
// a private directory; the backend's CloseIO is a counter, the unit's seam).
#include "cio/process_stdio.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "cio/fifo.h"

using namespace libcontainerd;
namespace fs = std::filesystem;

namespace {

// Whether this process has the FIFO `path` open (our stdin end).
bool HoldsOpen(const std::string& path) {
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (fs::read_symlink(e.path(), ec) == path) return true;
  }
  return false;
}

struct Rig {
  std::string parent = "/tmp/lcd-process-stdio-" + std::to_string(::getpid()) + "-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::shared_ptr<DirectIO> fifos;
  std::string dir;
  std::shared_ptr<cio::ProcessStdio> stdio = std::make_shared<cio::ProcessStdio>();
  std::shared_ptr<std::atomic<int>> forwarded = std::make_shared<std::atomic<int>>(0);
  Rig() {
    fs::remove_all(parent);
    auto set = cio::CreateFifoSet(parent, "init", /*with_stdin=*/true, /*terminal=*/false);
    fifos = set.io();
    dir = set.Release();
    stdio->Set(fifos, nullptr, dir, [n = forwarded] { ++*n; });
  }
  ~Rig() { fs::remove_all(parent); }
};

}  // namespace

TEST(ProcessStdio, AStdinCloseBeforeTheStartIsForwardedOnceTheProcessRuns) {
  Rig r;
  r.fifos->CloseStdin();
  EXPECT_EQ(r.forwarded->load(), 0) << "forwarded before the runtime opened its end";
  EXPECT_TRUE(HoldsOpen(r.dir + "/stdin"))
      << "our end closed before the start: written data is lost";
  r.stdio->MarkStarted();
  EXPECT_EQ(r.forwarded->load(), 1);
  EXPECT_FALSE(HoldsOpen(r.dir + "/stdin")) << "our stdin end stays open after the EOF";
  r.stdio->MarkStarted();
  EXPECT_EQ(r.forwarded->load(), 1) << "forwarded twice";
}

TEST(ProcessStdio, AStdinCloseAfterTheStartIsForwardedAtOnce) {
  Rig r;
  r.stdio->MarkStarted();
  EXPECT_EQ(r.forwarded->load(), 0);
  r.fifos->CloseStdin();
  EXPECT_EQ(r.forwarded->load(), 1);
  EXPECT_FALSE(HoldsOpen(r.dir + "/stdin"));
}

TEST(ProcessStdio, ReleaseKeepsTheFifosForAttachUnlessTheProcessGoes) {
  Rig r;
  r.stdio->Release(false);
  EXPECT_TRUE(fs::exists(r.dir)) << "a handle going away must keep the FIFOs (AttachTask)";
  EXPECT_LT(r.fifos->stdout_fd(), 0) << "our ends stay open after the release";
  r.stdio->Release(true);  // the process went after all: its FIFOs go with it
  EXPECT_FALSE(fs::exists(r.dir));

  Rig gone;
  gone.stdio->DrainAndRelease(/*poke_outputs=*/true);  // never started: no EOF to wait for
  EXPECT_FALSE(fs::exists(gone.dir)) << "the FIFO directory outlived its process";
}

TEST(ProcessStdio, AStdinCloseAfterTheHolderWentDoesNothing) {
  Rig r;
  r.stdio->MarkStarted();
  r.stdio.reset();
  r.fifos->CloseStdin();  // the hook holds a weak reference only
  EXPECT_EQ(r.forwarded->load(), 0);
}
