// Internal: a process's stdio as both backends' process cores hold it, from NewTask or Exec to
// Delete: our FIFO ends, the caller's IO, the FIFO directory that goes with the process, and
// the stdin EOF, which waits until the process runs (before its start the runtime may not have
// opened its end of the FIFO yet: closing ours then would throw away what was written, and a
// close sent to the runtime before an exec starts is lost).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "cio/direct_io_control.h"
#include "libcontainerd/cio.h"

namespace libcontainerd::cio {

class ProcessStdio : public std::enable_shared_from_this<ProcessStdio> {
 public:
  // Made with std::make_shared (the stdin hook holds a weak reference). Releases what it holds
  // when it goes, keeping the FIFOs (AttachTask reopens them).
  ~ProcessStdio();

  // Takes the stdio: `fifos` our ends (null without stdio), `io` what the caller's callback
  // returned, `dir` the directory Release(true) removes ("" when it is not ours).
  // `forward_close` is run once the caller has closed stdin and the process runs (at once, or
  // from MarkStarted): after our stdin fd is closed, it makes the process read EOF (the
  // runtime's CloseIO). It runs on the thread that closed stdin or that marked the start.
  // `reader_may_come`: for a runtime that may open its end of the stdin FIFO late, whether it
  // still may (DirectIOControl::ReleaseStdinFd keeps a writer for it).
  void Set(std::shared_ptr<DirectIO> fifos, std::shared_ptr<IO> io, std::string dir,
           std::function<void()> forward_close,
           DirectIOControl::ReaderMayCome reader_may_come = nullptr);
  // The process runs: a stdin close asked for before is forwarded now.
  void MarkStarted();
  // Stops the copying, closes our fds, and removes the FIFO directory when `remove_fifos`.
  void Release(bool remove_fifos) noexcept;
  // The process is gone: waits for the copy to read its outputs to their end (only when it
  // started: a process that never ran may never have had its FIFOs opened), then Release(true).
  // Each output FIFO is first opened and closed for writing, so that a reader that opened it
  // after every writer had left (AttachTask after the exit) sees its EOF.
  void DrainAndRelease() noexcept;

 private:
  void OnStdinClosed();

  std::mutex mu_;
  std::shared_ptr<DirectIO> fifos_;
  std::shared_ptr<IO> io_;
  std::string dir_;
  std::function<void()> forward_close_;
  DirectIOControl::ReaderMayCome reader_may_come_;
  bool started_ = false;
  bool close_pending_ = false;
};

}  // namespace libcontainerd::cio
