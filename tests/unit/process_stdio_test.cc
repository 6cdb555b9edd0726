// cio::ProcessStdio: a process's stdio as both backends' process cores hold it (real FIFOs in
// a private directory; the backend's CloseIO is a counter, the unit's seam).
#include "cio/process_stdio.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

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
  // `forward`: the runtime's CloseIO (by default counted in `forwarded`); `reader_may_come`
  // as ProcessStdio::Set takes it.
  explicit Rig(std::function<void()> forward = nullptr,
               cio::DirectIOControl::ReaderMayCome reader_may_come = nullptr) {
    fs::remove_all(parent);
    auto set = cio::CreateFifoSet(parent, "init", /*with_stdin=*/true, /*terminal=*/false);
    fifos = set.io();
    dir = set.Release();
    if (!forward) forward = [n = forwarded] { ++*n; };
    stdio->Set(fifos, nullptr, dir, std::move(forward), std::move(reader_may_come));
  }
  ~Rig() { fs::remove_all(parent); }
  std::string StdinPath() const { return fifos->Config().stdin_path; }
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
  gone.stdio->DrainAndRelease();  // never started: no EOF to wait for
  EXPECT_FALSE(fs::exists(gone.dir)) << "the FIFO directory outlived its process";
}

TEST(ProcessStdio, AStdinCloseAfterTheHolderWentDoesNothing) {
  Rig r;
  r.stdio->MarkStarted();
  r.stdio.reset();
  r.fifos->CloseStdin();  // the hook holds a weak reference only
  EXPECT_EQ(r.forwarded->load(), 0);
}

// The containerd shim opens its read end of an exec's stdin FIFO on a goroutine after its start
// returned, and a caller may close stdin before that. Here the "shim" keeps a writer, which its
// CloseIO (the forward) closes, and its reader opens only once the library waits for it (or,
// had the library not waited, after the forward): it must still read what was written, then EOF.
TEST(ProcessStdio, AReaderThatOpensAfterStdinWasClosedGetsTheDataAndEof) {
  std::string path;  // the stdin FIFO, once the rig made it
  std::promise<std::string> got;
  std::future<std::string> result = got.get_future();
  std::thread reader;
  auto start_reader = [&] {
    if (reader.joinable()) return;
    reader = std::thread([&got, path] {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // blocks until a writer exists
      std::string data;
      char buf[64];
      ssize_t n;
      while (fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0) data.append(buf, n);
      if (fd >= 0) ::close(fd);
      got.set_value(data);
    });
  };
  int shim_writer = -1, asked = 0;
  Rig r(
      [&] {  // the shim's CloseIO
        ::close(std::exchange(shim_writer, -1));
        start_reader();
      },
      [&] {
        ++asked;
        start_reader();
        return true;
      });
  path = r.StdinPath();
  shim_writer = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(shim_writer, 0);
  r.stdio->MarkStarted();
  r.fifos->WriteStdin("data");
  r.fifos->CloseStdin();
  EXPECT_GT(asked, 0) << "the library did not wait for the late reader";
  bool ended = result.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  if (!ended) {  // free the reader blocked in open() (it counts as a reader: this cannot fail)
    int w = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (w >= 0) ::close(w);
  }
  reader.join();
  EXPECT_TRUE(ended) << "the late reader waited in open() for a writer that never came";
  EXPECT_EQ(result.get(), "data");
  EXPECT_FALSE(HoldsOpen(path)) << "a writer kept for the reader outlived it";
}

// A process that is gone never opens its end: the close does not wait for it.
TEST(ProcessStdio, NoReaderIsAwaitedForAProcessThatIsGone) {
  int asked = 0;
  Rig r(nullptr, [&] {
    ++asked;
    return false;
  });
  r.stdio->MarkStarted();
  auto t0 = std::chrono::steady_clock::now();
  r.fifos->CloseStdin();
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(r.forwarded->load(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, cio::DirectIOControl::kLateReaderWait / 2)
      << "waited for a reader of a process that is gone";
  EXPECT_FALSE(HoldsOpen(r.StdinPath()));
}
