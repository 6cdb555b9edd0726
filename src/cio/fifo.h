// FIFO sets for process stdio: creation in a private directory, opening our ends in the order
// the shim needs, re-opening for attach, removal.
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cio/direct_io_control.h"
#include "libcontainerd/cio.h"

namespace libcontainerd::cio {

// Creates `dir` and every missing parent with mode 0700; refuses a symlink anywhere it creates.
void MakePrivateDirs(const std::string& dir);

// The owner of a FIFO set while it is being handed over: our open ends (a DirectIO) and the
// directory holding the FIFOs. Unless released, destruction closes our ends and removes the
// directory (roll-back on failure: a FifoSet in scope undoes itself on every failure path).
// Release() once something else owns them (the process handle that removes the directory when
// the process goes). Either part may be empty: a set of FIFOs that are not ours (OpenFifos:
// no directory) is only closed. Movable, not copyable; not thread-safe (one owner at a time).
// Used by the containerd backend's PrepareIO (the direct backend's still rolls back by hand).
class FifoSet {
 public:
  FifoSet() = default;  // owns nothing
  FifoSet(std::string dir, std::shared_ptr<DirectIO> io) noexcept
      : dir_(std::move(dir)), io_(std::move(io)) {}
  FifoSet(FifoSet&& o) noexcept : dir_(std::move(o.dir_)), io_(std::move(o.io_)) { o.dir_.clear(); }
  FifoSet& operator=(FifoSet&& o) noexcept;
  FifoSet(const FifoSet&) = delete;
  FifoSet& operator=(const FifoSet&) = delete;
  ~FifoSet() { Reset(); }

  // The FIFO directory ("" when not ours) and our ends (null when none).
  const std::string& dir() const { return dir_; }
  const std::shared_ptr<DirectIO>& io() const { return io_; }

  // Gives up ownership: nothing is closed or removed by this object any more. Returns the
  // directory, which the caller now removes (RemoveFifoDir) when the process goes. Take io()
  // first: this object's reference to the ends is dropped (a DirectIO closes its fds when its
  // last holder goes).
  std::string Release() noexcept;
  // Closes our ends and removes the directory now (errors are logged, never thrown).
  void Reset() noexcept;

 private:
  std::string dir_;
  std::shared_ptr<DirectIO> io_;
};

// Makes a new directory <parent>/<name>-<random> (0700) holding FIFOs stdin (if with_stdin),
// stdout and stderr (not in terminal mode), opens our ends (stdout/stderr O_RDONLY|O_NONBLOCK,
// stdin O_RDWR) and returns them, owned by the FifoSet (closed and removed unless released).
// On failure nothing is left behind.
FifoSet CreateFifoSet(const std::string& parent, const std::string& name, bool with_stdin,
                      bool terminal);

// The same, unowned: the caller removes `dir` (RemoveFifoDir) and closes `io` on failure.
// Prefer CreateFifoSet.
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

// Releases what a process's stdio held, for both backends' Delete and handles going away:
// cancels and closes the caller's IO, closes our FIFO ends, removes `dir` (empty: kept, for
// AttachTask). Failures are logged.
void CloseProcessIO(std::shared_ptr<IO> io, std::shared_ptr<DirectIO> fifos,
                    const std::string& dir) noexcept;

// The state directory's lifetime (docs/architecture.md): <state_dir>/<ns>/<container id>/ holds
// the FIFO directories of a container's processes.
//
// Removes a container's directory <ns_dir>/<id> with what is in it, then <ns_dir> when that
// left it empty (another container's directory keeps it). No error when either is gone.
void RemoveContainerStateDir(const std::string& ns_dir, const std::string& id) noexcept;

// Removes from <ns_dir> the directories of containers that are not in `existing` (the ids
// containerd lists in that namespace), then <ns_dir> itself when it is left empty. Only a
// directory the library made goes: owned by this user, not a symlink, holding nothing but FIFO
// directories (<name>-<10 hex>) of FIFOs stdin/stdout/stderr; and only when neither it nor its
// FIFO directories changed for `grace` (another Client may be making that container right
// now). Returns the ids whose directories it removed; errors are logged, never thrown.
std::vector<std::string> ReconcileStateDir(const std::string& ns_dir,
                                           const std::set<std::string>& existing,
                                           std::chrono::seconds grace) noexcept;

}  // namespace libcontainerd::cio
