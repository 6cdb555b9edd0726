// Internal: the direct backend's state on disk (docs/direct-backend.md, "State layout"): paths,
// atomic writes, the container record, exit records and their .delivered markers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libcontainerd/client.h"
#include "libcontainerd/errors.h"

namespace libcontainerd::direct {

// Paths of one namespace's state under the Client's root.
struct Layout {
  std::string root;  // DirectClientOptions::root
  std::string ns;

  std::string NsDir() const { return root + "/" + ns; }
  std::string ContainerDir(const std::string& id) const { return NsDir() + "/" + id; }
  std::string RecordPath(const std::string& id) const {
    return ContainerDir(id) + "/container.json";
  }
  std::string BundleDir(const std::string& id) const { return ContainerDir(id) + "/bundle"; }
  std::string TaskDir(const std::string& id) const { return ContainerDir(id) + "/task"; }
  std::string DefaultRuntimeRoot() const { return root + "/runtime/" + ns; }
};

// Paths inside a task directory.
inline std::string SocketPath(const std::string& task_dir) { return task_dir + "/monitor.sock"; }
inline std::string ExitDir(const std::string& task_dir) { return task_dir + "/exit"; }
// The record name of a process: "init", or its exec id.
inline std::string ExitName(const std::string& exec_id) {
  return exec_id.empty() ? "init" : exec_id;
}

// Writes `data` to `path` atomically (temp file in the same directory, then rename), mode 0600.
// Throws Error{kUnknown} (with errno) naming the path.
void WriteFileAtomic(const std::string& path, const std::string& data);
// Like WriteFileAtomic, but never replaces an existing file: false when `path` exists already.
bool WriteFileExclusive(const std::string& path, const std::string& data);
// The file's content, nullopt when it does not exist. Throws Error{kUnknown} on other errors.
std::optional<std::string> ReadFileIfExists(const std::string& path);
// Removes a directory tree; no error when it is gone (failures logged).
void RemoveTree(const std::string& path) noexcept;
// Removes `dir` when it is empty (no error otherwise).
void RemoveDirIfEmpty(const std::string& dir) noexcept;

// container.json: what NewContainer stored besides the spec.
struct ContainerRecord {
  std::string id;
  std::map<std::string, std::string> labels;
  std::string image;
  std::string shim;               // the shim name given to NewContainer ("io.containerd.runc.v2")
  std::string runtime;            // the OCI runtime binary (absolute path)
  std::string runtime_root;       // its --root
  bool has_runc_options = false;  // RuncOptions were given (Runtime() reports them)
  RuncOptions runc;               // as given, root and binary_name filled in
  int64_t created_ns = 0;         // unix ns
};
std::string EncodeRecord(const ContainerRecord& r);
// Throws Error{kUnknown} naming the path for a corrupt record.
ContainerRecord DecodeRecord(const std::string& json, const std::string& path);
// Reads <container dir>/container.json; nullopt when the container does not exist.
std::optional<ContainerRecord> LoadRecord(const Layout& layout, const std::string& id);

// An exit record (exit/<name>): written by the monitor, or by the library for a dead monitor.
struct ExitRecord {
  uint32_t pid = 0;
  uint32_t status = 0;
  SystemTime exited_at{};
  std::string error;
};
std::string EncodeExit(const ExitRecord& r);
std::optional<ExitRecord> ReadExit(const std::string& task_dir, const std::string& exec_id);
bool ExitDelivered(const std::string& task_dir, const std::string& exec_id);
// Writes exit/<name>.delivered when exit/<name> is there for that pid (nothing otherwise: the
// task was deleted meanwhile, or its record is a newer task's). Never throws.
void MarkExitDelivered(const std::string& task_dir, const std::string& exec_id,
                       uint32_t pid) noexcept;

SystemTime FromUnixNanos(int64_t ns);
int64_t ToUnixNanos(SystemTime t);

// The pid in a pid file (monitor.pid, init.pid), 0 when absent or unreadable.
uint32_t ReadPidFile(const std::string& path) noexcept;
// True when `pid` is a live process (a zombie counts as dead).
bool ProcessAlive(uint32_t pid) noexcept;

// Ids of the containers of the namespace (directories holding container.json), sorted.
std::vector<std::string> ListContainerIds(const Layout& layout);

}  // namespace libcontainerd::direct
