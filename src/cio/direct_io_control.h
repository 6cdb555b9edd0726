// The library's own operations on a DirectIO, kept out of the public header (cio.h): the
// hand-over of stdin between the caller's CloseStdin and the shim (Tasks.CloseIO once the
// process runs). Only the backends use them.
#pragma once

#include <functional>

#include "libcontainerd/cio.h"

namespace libcontainerd::cio {

class DirectIOControl {
 public:
  // Called once by CloseStdin after the caller closed stdin: the backend sends CloseIO to the
  // shim so the process sees EOF.
  using StdinCloseHook = std::function<void()>;

  // Closes our stdin fd now (after CloseStdin, once the process runs).
  static void ReleaseStdinFd(DirectIO& io);
  // Installs the hook CloseStdin calls (or calls it now if stdin is already closed).
  static void SetStdinCloseHook(DirectIO& io, StdinCloseHook hook);
  // A hook will be installed; until then a CloseStdin keeps the fd open (the hook releases it
  // once the process runs), so stdin that ends before that is not lost.
  static void ExpectStdinCloseHook(DirectIO& io);
};

}  // namespace libcontainerd::cio
