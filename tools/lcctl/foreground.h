// lcctl: running a process in the foreground (run, task start, task attach, task exec):
// stdio streamed to fds 0/1/2, signals forwarded, terminal size followed, exit code returned;
// and the detached start of run -d and task start -d.
#pragma once

#include <memory>
#include <string>

#include "common.h"
#include "libcontainerd/client.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/spec.h"

namespace lcctl {

// Creates the container's task with stdio streamed (restoring from checkpoint_dir when
// non-empty), starts it, waits, deletes the task and returns its exit code. A missing
// executable is ExitError 127, a non-executable one 126.
int RunInitForeground(Session& s, libcontainerd::Container& c, bool tty, bool interactive,
                      const std::string& checkpoint_dir);

// Attaches to the running task's stdio and returns its exit code once it exits (deleting it).
int AttachForeground(Session& s, libcontainerd::Container& c, bool tty, bool interactive);

// Execs `spec` as exec_id in the task, streams it, waits, deletes it and returns its exit code
// (127 / 126 as above).
int ExecForeground(Session& s, libcontainerd::Task& t, const std::string& exec_id,
                   const libcontainerd::oci::Process& spec, bool interactive);

// The StreamOptions writing to fds 1 and 2 (and reading fd 0 when interactive).
libcontainerd::cio::StreamOptions StdStreams(bool interactive);

// Creates and starts the container's task without waiting for it (run -d, task start -d):
// stdio as `io` gives it. A failed Start force-deletes the task; failures are rethrown as
// RethrowStartError does.
std::shared_ptr<libcontainerd::Task> StartDetached(Session& s, libcontainerd::Container& c,
                                                   const std::string& checkpoint_dir,
                                                   bool interactive,
                                                   libcontainerd::StdioCallback io);

// Rethrows a failure of NewTask / Exec / Start as ExitError 127 (not found) or 126 (cannot
// run) when it is one; otherwise rethrows it unchanged.
[[noreturn]] void RethrowStartError(const libcontainerd::Error& e);

}  // namespace lcctl
