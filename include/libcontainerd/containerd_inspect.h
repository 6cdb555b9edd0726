// libcontainerd: containerd records and process handles beyond the moby contract, for tools
// such as lcctl (`container ls/info`, `task ls`, `kill -a`, `--exec-id`). containerd backend
// only; no gRPC or protobuf type appears here.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "libcontainerd/client.h"
#include "libcontainerd/containerd.h"
#include "libcontainerd/export.h"
#include "libcontainerd/types.h"

namespace libcontainerd {

// A container record as the daemon stores it.
struct LCD_EXPORT ContainerRecord {
  std::string id;
  std::string runtime;  // e.g. "io.containerd.runc.v2"
  std::string image;
  std::string snapshotter;
  std::map<std::string, std::string> labels;
  SystemTime created_at{};
  SystemTime updated_at{};
  std::string spec_json;  // the OCI spec as stored (JSON)
};

// A task (or, with an exec_id, an exec process) as the daemon reports it.
struct LCD_EXPORT ProcessRecord {
  std::string container_id;
  std::string exec_id;  // empty for a task's init process
  uint32_t pid = 0;
  Status status = Status::kUnknown;
  bool terminal = false;
  uint32_t exit_status = 0;
  SystemTime exited_at{};
};

// Reads records and addresses processes of one namespace over a connection of its own.
// Thread-safety: every member may be called from any thread. Errors: as the Client
// (Error{kNotFound} for an unknown container, task or exec; kUnavailable when the daemon
// does not answer).
class LCD_EXPORT ContainerdInspector {
 public:
  virtual ~ContainerdInspector() = default;
  virtual ContainerRecord GetContainer(const Context& ctx, const std::string& id) = 0;
  virtual std::vector<ContainerRecord> ListContainers(const Context& ctx) = 0;
  // Every task of the namespace (init processes).
  virtual std::vector<ProcessRecord> ListTasks(const Context& ctx) = 0;
  // One process: exec_id empty for the init process.
  virtual ProcessRecord GetProcess(const Context& ctx, const std::string& id,
                                   const std::string& exec_id) = 0;
  // Signals a process (exec_id empty: the init process); all=true signals every process of
  // the container (init only). Throws kNotFound when it has exited.
  virtual void Kill(const Context& ctx, const std::string& id, const std::string& exec_id,
                    int signal, bool all) = 0;
  // A handle to an existing exec process, without IO (Kill, Resize, Wait, Delete).
  virtual std::shared_ptr<Process> LoadExec(const Context& ctx, const std::string& id,
                                            const std::string& exec_id) = 0;
};

// Connects like NewContainerdClient (options.backend is ignored). Throws like it.
LCD_EXPORT std::unique_ptr<ContainerdInspector> NewContainerdInspector(
    const ClientOptions& options);

}  // namespace libcontainerd
