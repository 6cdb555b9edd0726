#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "cio/direct_io_control.h"
#include "libcontainerd/cio.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"

namespace libcontainerd {

DirectIO::DirectIO(FifoConfig config, UniqueFd stdin_w, UniqueFd stdout_r, UniqueFd stderr_r)
    : config_(std::move(config)),
      stdin_(std::move(stdin_w)),
      stdout_(std::move(stdout_r)),
      stderr_(std::move(stderr_r)) {}

DirectIO::~DirectIO() = default;

bool DirectIO::has_stdin() const {
  std::lock_guard l(mu_);
  return stdin_.valid();
}

void DirectIO::WriteStdin(std::string_view data) {
  std::unique_lock l(mu_);
  if (!stdin_.valid() || stdin_closed_)
    throw Error(ErrorKind::kFailedPrecondition,
                stdin_closed_ ? "stdin is closed" : "the process was created without stdin");
  int fd = stdin_.get();
  // Writes without the lock would race with CloseStdin closing the fd; FIFO writes of a
  // full pipe block, so keep the lock: CloseStdin waits for a write in progress.
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno(ErrorKind::kUnknown, errno, "write stdin", {.path = config_.stdin_path});
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void DirectIO::CloseStdin() {
  std::function<void()> hook;
  {
    std::lock_guard l(mu_);
    if (stdin_closed_) return;
    stdin_closed_ = true;
    hook = std::move(hook_);
    hook_ = nullptr;
    // Without a library hook (now or to come) nobody will release the fd later: close it now.
    if (!hook && !hook_expected_) stdin_.reset();
  }
  if (hook) hook();
}

namespace {

// Waits until the FIFO `path` has a reader: one that has it open, or one blocked in its open
// (which counts as a reader, and which our test open, a new writer, wakes). Polls, as Linux
// tells of a FIFO's readers only through ENXIO from a non-blocking open for writing.
bool WaitForFifoReader(const std::string& path,
                       const cio::DirectIOControl::ReaderMayCome& reader_may_come) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + cio::DirectIOControl::kLateReaderWait;
  auto pause = 1ms;
  for (;;) {
    int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) {
      ::close(fd);
      return true;
    }
    if (errno == EINTR) continue;
    if (errno != ENXIO || !reader_may_come() || std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

}  // namespace

void cio::DirectIOControl::ReleaseStdinFd(DirectIO& io, const ReaderMayCome& reader_may_come) {
  UniqueFd writer;
  std::string path;
  {
    std::lock_guard l(io.mu_);
    if (!io.stdin_.valid()) return;
    path = io.config_.stdin_path;
    // Our end is O_RDWR, a reader itself: this open cannot fail with ENXIO.
    if (reader_may_come && !path.empty())
      writer.reset(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    io.stdin_.reset();
  }
  if (writer.valid() && !WaitForFifoReader(path, reader_may_come))
    Log(LogLevel::kDebug, "stdin " + path + ": no reader came; closing it anyway");
}

void cio::DirectIOControl::SetStdinCloseHook(DirectIO& io, StdinCloseHook hook) {
  bool call_now = false;
  {
    std::lock_guard l(io.mu_);
    if (io.stdin_closed_)
      call_now = true;
    else
      io.hook_ = std::move(hook);
  }
  if (call_now && hook) hook();
}

void cio::DirectIOControl::ExpectStdinCloseHook(DirectIO& io) {
  std::lock_guard l(io.mu_);
  io.hook_expected_ = true;
}

void DirectIO::Close() {
  std::lock_guard l(mu_);
  stdin_.reset();
  stdin_closed_ = true;
  hook_ = nullptr;
  stdout_.reset();
  stderr_.reset();
}

}  // namespace libcontainerd
