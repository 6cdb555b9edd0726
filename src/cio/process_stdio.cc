#include "cio/process_stdio.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "cio/direct_io_control.h"
#include "cio/fifo.h"
#include "libcontainerd/log.h"

namespace libcontainerd::cio {
namespace {

void PokeOutputFifos(const FifoConfig& c) noexcept {
  // Opening never blocks: O_NONBLOCK, and our read end exists.
  for (const std::string* p : {&c.stdout_path, &c.stderr_path}) {
    if (p->empty()) continue;
    int fd = ::open(p->c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) ::close(fd);
  }
}

}  // namespace

ProcessStdio::~ProcessStdio() { Release(false); }

void ProcessStdio::Set(std::shared_ptr<DirectIO> fifos, std::shared_ptr<IO> io, std::string dir,
                       std::function<void()> forward_close,
                       DirectIOControl::ReaderMayCome reader_may_come) {
  {
    std::lock_guard l(mu_);
    fifos_ = fifos;
    io_ = std::move(io);
    dir_ = std::move(dir);
    forward_close_ = std::move(forward_close);
    reader_may_come_ = std::move(reader_may_come);
  }
  if (fifos && fifos->has_stdin()) {
    std::weak_ptr<ProcessStdio> weak = weak_from_this();
    DirectIOControl::SetStdinCloseHook(*fifos, [weak] {
      if (auto self = weak.lock()) self->OnStdinClosed();
    });
  }
}

void ProcessStdio::OnStdinClosed() {
  std::shared_ptr<DirectIO> fifos;
  std::function<void()> forward;
  DirectIOControl::ReaderMayCome reader_may_come;
  {
    std::lock_guard l(mu_);
    if (!started_) {
      close_pending_ = true;
      return;
    }
    fifos = fifos_;
    forward = forward_close_;
    reader_may_come = reader_may_come_;
  }
  if (fifos) DirectIOControl::ReleaseStdinFd(*fifos, reader_may_come);
  if (forward) forward();
}

void ProcessStdio::MarkStarted() {
  bool send = false;
  {
    std::lock_guard l(mu_);
    started_ = true;
    send = std::exchange(close_pending_, false);
  }
  if (send) OnStdinClosed();
}

void ProcessStdio::Release(bool remove_fifos) noexcept {
  std::shared_ptr<IO> io;
  std::shared_ptr<DirectIO> fifos;
  std::string dir;
  {
    std::lock_guard l(mu_);
    io = std::move(io_);
    fifos = std::move(fifos_);
    if (remove_fifos) dir = std::move(dir_);
  }
  CloseProcessIO(std::move(io), std::move(fifos), dir);
}

void ProcessStdio::DrainAndRelease() noexcept {
  std::shared_ptr<IO> io;
  std::shared_ptr<DirectIO> fifos;
  {
    std::lock_guard l(mu_);
    if (started_) io = io_;
    fifos = fifos_;
  }
  if (fifos) PokeOutputFifos(fifos->Config());
  if (io) {
    try {
      io->Wait();
    } catch (const std::exception& e) {
      Log(LogLevel::kWarning, std::string("waiting for process output failed: ") + e.what());
    }
  }
  Release(true);
}

}  // namespace libcontainerd::cio
