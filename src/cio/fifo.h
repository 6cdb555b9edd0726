// FIFO sets for process stdio: creation in a private directory, opening our ends in the order
// the shim needs, re-opening for attach, removal.
#pragma once

#include <memory>
#include <string>

#include "cio/direct_io_control.h"
#include "libcontainerd/cio.h"

namespace libcontainerd::cio {

// Creates `dir` and every missing parent with mode 0700; refuses a symlink anywhere it creates.
void MakePrivateDirs(const std::string& dir);

// Makes a new directory <parent>/<name>-<random> (0700) holding FIFOs stdin (if with_stdin),
// stdout and stderr (not in terminal mode), opens our ends (stdout/stderr O_RDONLY|O_NONBLOCK,
// stdin O_RDWR) and returns them. On failure nothing is left behind.
struct NewFifos {
  std::string dir;
  std::shared_ptr<DirectIO> io;
};
NewFifos CreateFifos(const std::string& parent, const std::string& name, bool with_stdin,
                     bool terminal);

// Re-opens the FIFOs of a running process (AttachTask). Paths that are empty stay unused.
std::shared_ptr<DirectIO> OpenFifos(const FifoConfig& config);

// Removes a FIFO directory made by CreateFifos (no error if it is gone).
void RemoveFifoDir(const std::string& dir) noexcept;

}  // namespace libcontainerd::cio
