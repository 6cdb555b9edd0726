#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "libcontainerd/client.h"
#include "libcontainerd/oci/spec.h"
#include "remote/connection.h"
#include "remote/convert.h"
#include "remote/process.h"

namespace libcontainerd::remote {

// What NewTask needs of the spec (decoding the whole spec per task was a third of the
// client's CPU per lifecycle).
struct SpecFacts {
  bool terminal = false;
  std::string arg0;           // the process's binary ("" without args)
  std::string root_path;      // "" without root
  RootIDs root_ids;           // container root's host ids under linux.uid/gidMappings
  std::string mapping_error;  // why the mappings are invalid ("" when they are not)
  std::string cgroups_path;   // linux.cgroupsPath ("" without)
  static SpecFacts Of(const oci::Spec& spec);
};

// A container record of the daemon as seen by this client.
class RemoteContainer final : public Container {
 public:
  // `facts`: from the spec in hand (NewContainer); otherwise decoded from the record once, at
  // the first NewTask.
  RemoteContainer(std::shared_ptr<Connection> conn, const containers_v1::Container& record,
                  std::optional<SpecFacts> facts = std::nullopt);

  const std::string& ID() const override { return id_; }
  oci::Spec Spec(const Context& ctx) override;
  std::map<std::string, std::string> Labels(const Context& ctx) override;
  std::string Image(const Context& ctx) override;
  RuntimeInfo Runtime(const Context& ctx) override;
  std::shared_ptr<Task> NewTask(const Context& ctx, const std::string& checkpoint_dir,
                                bool with_stdin, StdioCallback attach_stdio) override;
  std::shared_ptr<Task> GetTask(const Context& ctx) override;
  std::shared_ptr<Task> AttachTask(const Context& ctx, StdioCallback attach_stdio) override;
  void Delete(const Context& ctx) override;

 private:
  containers_v1::Container Fetch(const Context& ctx);
  // The task's init process; none when the container has no task (Tasks.Get NotFound).
  std::optional<::containerd::v1::types::Process> FindProcess(const Context& ctx);
  // The same, kNotFound "container has no task" (with op) when there is none.
  ::containerd::v1::types::Process GetProcess(const Context& ctx, const char* op);
  const SpecFacts& Facts();
  // After Tasks.Create said AlreadyExists: true when there was only a half-created task (from a
  // create interrupted by a daemon crash) and it is now removed, so Create may be retried.
  bool ClearHalfCreatedTask(const Context& ctx);
  // Tasks.Delete for a task Tasks.Get does not see; throws on answers other than NotFound.
  void DeleteHalfCreatedTask(const Context& ctx);

  std::shared_ptr<Connection> conn_;
  std::string id_;
  std::string spec_json_;
  std::string runtime_name_;  // the shim
  // The runtime options as stored (any type, whoever stored them), never rewritten.
  std::optional<TypedMessage> runtime_options_;
  std::string snapshotter_;  // with snapshot_key_: the task's root file system
  std::string snapshot_key_;
  std::once_flag facts_once_;
  std::optional<SpecFacts> facts_;
  // Shared with the init ProcessCore of every task this object made or looked up: true once
  // that task was deleted through this Client (Task::Delete/ForceDelete found it gone), false
  // again at NewTask. Delete then skips the half-created task's Tasks.Delete (one RPC less per
  // lifecycle; the Tasks.Get stays: containerd deletes a record that has a task).
  const std::shared_ptr<std::atomic<bool>> own_task_gone_ = std::make_shared<std::atomic<bool>>();
  // A core for this container's init process, sharing own_task_gone_.
  std::shared_ptr<ProcessCore> InitCore(uint32_t pid);
};

}  // namespace libcontainerd::remote
