// Roll-back on failure by RAII: a ScopeGuard runs its function when it goes out of scope, unless
// it was dismissed. Arm one as soon as a step has taken effect (a FIFO set made, a snapshot
// prepared, a process record created) with the undo of that step, and Dismiss() it once the
// whole operation has succeeded: every failure path after it, an exception from anywhere
// included, undoes the step once, without the undo being written on each path.
//
//   ScopeGuard undo([&] { RemoveSnapshot(); });
//   ...               // any throw from here removes the snapshot
//   undo.Dismiss();   // success: keep it
//
// The function runs in the destructor, also during stack unwinding: it must not throw (catch
// and log inside it). Not copyable, not movable; not thread-safe (one scope's object).
#pragma once

#include <utility>

namespace libcontainerd {

template <typename F>
class ScopeGuard {
 public:
  explicit ScopeGuard(F undo) : undo_(std::move(undo)) {}
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;
  ~ScopeGuard() {
    if (armed_) undo_();
  }

  // The operation succeeded: the function will not run.
  void Dismiss() noexcept { armed_ = false; }

 private:
  F undo_;
  bool armed_ = true;
};

}  // namespace libcontainerd
