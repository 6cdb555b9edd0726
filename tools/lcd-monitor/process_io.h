// lcd-monitor: the stdio of one process (docs/direct-backend.md, "Stdio"). Without a terminal the
// runtime gets the FIFOs as fds 0/1/2 and the container writes into them directly; the monitor
// only keeps a never-read read end of each output FIFO, so the container never gets EPIPE while
// no client reads. With a terminal the monitor holds the pty master (from the runtime's
// --console-socket) and copies master -> stdout FIFO and stdin FIFO -> master, non-blocking,
// with back-pressure (a full FIFO stops the reading of the master).
#pragma once

#include <poll.h>

#include <string>

#include "fd.h"

namespace lcdmon {

struct StdioPaths {
  std::string in, out, err;  // empty: /dev/null (with a terminal, err is unused)
};

// Not thread-safe (the monitor is one thread).
class ProcessIo {
 public:
  // Opens this process's ends of the FIFOs. Returns "" or what failed (path and errno text).
  std::string Open(const StdioPaths& paths, bool terminal);

  bool terminal() const { return terminal_; }
  // The runtime's fds 0, 1, 2 (for a terminal process: /dev/null; the runtime ignores them).
  int child_fd(int n) const { return child_[n].get(); }
  // Closes the runtime's fds: called once the runtime returned (the container holds its own).
  void CloseChildFds();
  // Closes the monitor's own writer of the stdin FIFO (`close_stdin`): the process reads EOF once
  // the library's end is closed too. Until then stdin stays open while no client holds it (the
  // calling program gone), as containerd's shim keeps it until CloseIO. Idempotent.
  void CloseStdin() { keep_in_.reset(); }

  // Takes the pty master received from the runtime (made non-blocking).
  void SetMaster(Fd master);
  bool has_master() const { return static_cast<bool>(master_); }
  // TIOCSWINSZ on the master. Returns "" or what failed.
  std::string Resize(unsigned width, unsigned height);

  // The fds to poll and their events (terminal copy only; none without a terminal or once the
  // copy ended). Writes at most 3 entries and returns how many.
  int PollFds(pollfd* out) const;
  // Moves what can move without blocking; called after poll reported any of PollFds.
  void Pump();

 private:
  void PumpOutput();
  void PumpInput();
  void StdinEof();

  bool terminal_ = false;
  Fd child_[3];
  Fd keep_out_, keep_err_;  // never-read read ends of the output FIFOs
  Fd keep_in_;              // a never-written writer of the stdin FIFO (until close_stdin)
  // terminal copy
  Fd master_, in_, out_;
  bool master_done_ = false;  // the slave side closed (EIO/EOF): no more output
  char obuf_[4096];
  size_t olen_ = 0, ooff_ = 0;
  char ibuf_[1024];
  size_t ilen_ = 0, ioff_ = 0;
  char last_in_ = '\n';  // the last byte copied to the master (for the EOF character)
};

// Listens on `path` (a unix stream socket, the runtime's --console-socket); a stale file is
// replaced. Returns "" or what failed.
std::string ListenConsole(const std::string& path, Fd* listener);
// Accepts the runtime's connection and receives the pty master (SCM_RIGHTS). The runtime has
// returned by then, so nothing blocks: no pending connection is an error.
std::string ReceiveMaster(int listener, Fd* master);

}  // namespace lcdmon
