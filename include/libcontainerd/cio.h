// libcontainerd: process stdio over FIFOs (containerd's cio).
//
// For every process with stdio the library makes a FIFO set in a private 0700 directory and
// opens its own ends BEFORE the daemon opens the others. It hands them to the caller's
// StdioCallback as a DirectIO; the callback returns the IO the library keeps until the process
// is deleted (then it calls Close()). DirectIO is itself an IO, so a callback may return it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "libcontainerd/export.h"
#include "libcontainerd/fd.h"

namespace libcontainerd {

namespace cio {
class DirectIOControl;  // the library's own operations (src/cio/direct_io_control.h)
}

// Paths of a process's stdio as the daemon sees them; an empty path means /dev/null.
// In terminal mode stdout carries the terminal's output and stderr is empty.
struct FifoConfig {
  std::string stdin_path;
  std::string stdout_path;
  std::string stderr_path;
  bool terminal = false;
};

// What the library keeps for a process's stdio. Implementations must be thread-safe:
// Cancel/Close may be called from any thread while Wait blocks in another.
class LCD_EXPORT IO {
 public:
  virtual ~IO() = default;
  virtual const FifoConfig& Config() const = 0;
  // Stops copying promptly; does not wait.
  virtual void Cancel() = 0;
  // Blocks until all output was copied (stdout and stderr reached EOF) or Cancel was called.
  virtual void Wait() = 0;
  // Releases the IO's fds and threads. Idempotent. (The FIFO files themselves belong to the
  // process and are removed by the library when the process is deleted.)
  virtual void Close() = 0;
};

// The FIFO set with the library's ends open. Owns the fds (closed by Close or destruction).
// Thread-safe: WriteStdin/CloseStdin may run in another thread than the readers of
// stdout/stderr.
class LCD_EXPORT DirectIO : public IO {
 public:
  DirectIO(FifoConfig config, UniqueFd stdin_w, UniqueFd stdout_r, UniqueFd stderr_r);
  ~DirectIO() override;
  DirectIO(const DirectIO&) = delete;
  DirectIO& operator=(const DirectIO&) = delete;

  const FifoConfig& Config() const override { return config_; }
  void Cancel() override {}
  void Wait() override {}
  void Close() override;

  // Read ends (O_RDONLY|O_NONBLOCK); -1 when not used. Owned by this object.
  int stdout_fd() const noexcept { return stdout_.get(); }
  int stderr_fd() const noexcept { return stderr_.get(); }
  bool has_stdin() const;

  // Writes all of data to the process's stdin (blocks while the FIFO is full).
  // Throws Error{kFailedPrecondition} when stdin is closed or was not requested.
  void WriteStdin(std::string_view data);
  // Closes stdin so the process reads EOF. Idempotent; safe from any thread. Data written
  // before is not lost: when the library manages the process, our end stays open until the
  // process has started (the shim has opened its end), then it is closed and the shim told.
  void CloseStdin();

 private:
  friend class cio::DirectIOControl;

  FifoConfig config_;
  mutable std::mutex mu_;
  UniqueFd stdin_;
  UniqueFd stdout_;
  UniqueFd stderr_;
  bool stdin_closed_ = false;
  bool hook_expected_ = false;
  std::function<void()> hook_;  // set by the library (cio::DirectIOControl)
};

// The caller's stdio hook: receives the FIFO set, returns the IO the library keeps.
// It runs on the calling thread of NewTask/Exec/AttachTask, before the process starts.
// A throwing callback fails the call, and the library cleans up.
using StdioCallback = std::function<std::shared_ptr<IO>(std::shared_ptr<DirectIO>)>;

namespace cio {

// Where StreamIO sends output and takes input.
struct LCD_EXPORT StreamOptions {
  // Called from the IO's copy thread with each chunk read (never with an empty chunk).
  std::function<void(std::string_view)> on_stdout;
  std::function<void(std::string_view)> on_stderr;
  // When >= 0, copied to the process's stdin until EOF; then stdin is closed. Not owned.
  int stdin_source_fd = -1;
};

// An IO that copies the DirectIO's output to callbacks on one thread of its own and, if asked,
// copies stdin_source_fd to stdin on another. Wait() returns once stdout and stderr reached EOF.
LCD_EXPORT std::shared_ptr<IO> Stream(std::shared_ptr<DirectIO> fifos, StreamOptions options);

// A StdioCallback for Stream(fifos, options).
LCD_EXPORT StdioCallback StreamCallback(StreamOptions options);

// A StdioCallback collecting output into strings, for tests and small programs.
// The strings are written by the copy thread: read them after Process::Delete (which waits).
struct LCD_EXPORT Captured {
  std::mutex mu;
  std::string out;
  std::string err;
  std::shared_ptr<DirectIO> fifos;  // kept so the caller can WriteStdin/CloseStdin
  std::string Out() {
    std::lock_guard l(mu);
    return out;
  }
  std::string Err() {
    std::lock_guard l(mu);
    return err;
  }
};
LCD_EXPORT StdioCallback Capture(std::shared_ptr<Captured> into);

}  // namespace cio
}  // namespace libcontainerd
