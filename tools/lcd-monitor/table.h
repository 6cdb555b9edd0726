// lcd-monitor: the processes of one container (init and execs) and the matching of reaped pids
// to them. Pure bookkeeping: no I/O, so it is unit-tested.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lcdmon {

class ProcessIo;  // process_io.h

enum class ProcState { kCreated, kRunning, kStopped };

struct Proc {
  Proc();
  ~Proc();
  Proc(Proc&&) noexcept;
  Proc& operator=(Proc&&) noexcept;

  std::string id;  // "" for init, else the exec id
  int pid = 0;     // 0 until the runtime's pid file was read
  ProcState state = ProcState::kCreated;
  int exit_status = 0;
  int64_t exited_at = 0;          // unix ns
  std::string exit_error;         // set only when the status is unknown
  std::unique_ptr<ProcessIo> io;  // the monitor's stdio of this process (terminal copy, held ends)
};

// Owns the processes. Proc pointers stay valid until Remove of that id.
// Not thread-safe (the monitor is one thread).
class ProcessTable {
 public:
  // How many reaped pids no process claims are kept for a pid file read later.
  static constexpr size_t kMaxOrphans = 64;

  Proc* Find(std::string_view id);
  // The process with this pid that has not been reaped yet, or null.
  Proc* FindLive(int pid);
  // Adds a process (created, no pid). The id must be new.
  Proc& Add(const std::string& id);
  void Remove(std::string_view id);

  // A child was reaped: the live process with that pid becomes stopped with `status` and `at`
  // and is returned; if none has that pid (an exec whose pid file is not read yet, or a helper
  // of the runtime) the exit is kept (bounded) for SetPid and null is returned.
  Proc* Reaped(int pid, int status, int64_t at);
  // Sets the pid read from p's pid file. True if that pid had already been reaped: p is then
  // stopped with the kept status (the caller reports the exit).
  bool SetPid(Proc& p, int pid);
  // Forgets the kept exits (before a runtime call whose pid file will be read: a pid reaped
  // earlier cannot be the new process).
  void ForgetOrphans() { orphans_.clear(); }
  size_t orphans() const { return orphans_.size(); }

  const std::map<std::string, Proc, std::less<>>& all() const { return procs_; }
  std::map<std::string, Proc, std::less<>>& all() { return procs_; }

 private:
  struct Orphan {
    int pid;
    int status;
    int64_t at;
  };
  std::map<std::string, Proc, std::less<>> procs_;
  std::vector<Orphan> orphans_;
};

}  // namespace lcdmon
