// Internal: the public Process and Task over a backend's process core. Both backends keep what
// an init task and an exec share (ids, pid, stdio, kill, wait, delete) in a `ProcessCore`; an
// exec is nothing but calls to its core, and a task adds what its backend does differently.
// `Core` has exec_id(), container_id(), pid(), Kill(ctx, signal, all), Resize(ctx, w, h),
// Wait(ctx), Delete(ctx) and ReleaseIO(remove_fifos).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/task_checks.h"
#include "libcontainerd/client.h"

namespace libcontainerd {

// The calls a process handle makes to its core, over `Base` (Process or Task).
template <typename Base, typename Core>
class CoreCalls : public Base {
 public:
  uint32_t Pid() const override { return core_->pid(); }
  void Kill(const Context& ctx, int signal) override { core_->Kill(ctx, signal, false); }
  void Resize(const Context& ctx, uint32_t w, uint32_t h) override { core_->Resize(ctx, w, h); }
  ExitStatus Wait(const Context& ctx) override { return core_->Wait(ctx); }
  ExitStatus Delete(const Context& ctx) override { return core_->Delete(ctx); }

 protected:
  explicit CoreCalls(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  std::shared_ptr<Core> core_;
};

template <typename Core>
class CoreProcess final : public CoreCalls<Process, Core> {
 public:
  explicit CoreProcess(std::shared_ptr<Core> core) : CoreCalls<Process, Core>(std::move(core)) {}
  const std::string& ID() const override { return this->core_->exec_id(); }
};

// A task's init-process calls, ForceDelete and GetSummary; the backend's Task class adds the
// rest.
template <typename Core>
class CoreTask : public CoreCalls<Task, Core> {
 public:
  const std::string& ID() const override { return this->core_->container_id(); }
  void ForceDelete(const Context& ctx) override { ForceDeleteTask(*this->core_, ctx); }
  // moby: one entry per process that Pids reports (its error when Pids fails). moby's Linux
  // Summary carries nothing; ours carries the pid.
  std::vector<Summary> GetSummary(const Context& ctx) override {
    std::vector<Summary> out;
    for (const auto& p : this->Pids(ctx))
      out.push_back(Summary{.image_name = {}, .process_id = p.pid});
    return out;
  }

 protected:
  explicit CoreTask(std::shared_ptr<Core> core) : CoreCalls<Task, Core>(std::move(core)) {}
};

}  // namespace libcontainerd
