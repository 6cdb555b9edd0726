// The library's own operations on a DirectIO, kept out of the public header (cio.h): the
// hand-over of stdin between the caller's CloseStdin and the shim (Tasks.CloseIO once the
// process runs). Only the backends use them.
#pragma once

#include <chrono>
#include <functional>

#include "libcontainerd/cio.h"

namespace libcontainerd::cio {

class DirectIOControl {
 public:
  // Called once by CloseStdin after the caller closed stdin: the backend sends CloseIO to the
  // shim so the process sees EOF.
  using StdinCloseHook = std::function<void()>;

  // Says whether the runtime may still open its read end of the stdin FIFO (its process runs).
  using ReaderMayCome = std::function<bool()>;
  // How long ReleaseStdinFd keeps a writer for a reader that is late.
  static constexpr std::chrono::milliseconds kLateReaderWait{5000};

  // Closes our stdin fd now (after CloseStdin, once the process runs).
  // With `reader_may_come`, a writer stays on the FIFO until a reader has it open or is blocked
  // opening it, while `reader_may_come` says yes, at most kLateReaderWait. The containerd shim
  // opens its read end on a goroutine of its own after its start returns. If that open came
  // after every writer had gone, it would wait forever: what was written is lost, and the
  // process never reads EOF.
  static void ReleaseStdinFd(DirectIO& io, const ReaderMayCome& reader_may_come = nullptr);
  // Installs the hook CloseStdin calls (or calls it now if stdin is already closed).
  static void SetStdinCloseHook(DirectIO& io, StdinCloseHook hook);
  // A hook will be installed; until then a CloseStdin keeps the fd open (the hook releases it
  // once the process runs), so stdin that ends before that is not lost.
  static void ExpectStdinCloseHook(DirectIO& io);
};

}  // namespace libcontainerd::cio
