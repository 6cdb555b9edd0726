// Internal: persistent network namespaces, as files bind-mounted under a directory of the
// library's state (the way `ip netns add` keeps them), so a namespace outlives the process that
// made it and can be named in an OCI spec's linux.namespaces.
#pragma once

#include <string>

namespace libcontainerd::net {

// Makes `dir` (created 0700 if missing) a mount point of its own with shared propagation, once,
// so that unmounting a namespace file there also unmounts the copies other mount namespaces took
// (containers', shims'). Idempotent.
void PrepareNetnsDir(const std::string& dir);

// Creates a new network namespace and bind-mounts it on `path` (a file in a directory prepared by
// PrepareNetnsDir), with `lo` up inside. The calling process's own namespaces are not changed.
// Throws Error{kAlreadyExists} when `path` exists, kFailedPrecondition / kUnknown with the errno
// otherwise; nothing is left behind on failure.
void CreateNetns(const std::string& path);

// Unmounts (lazily) and removes `path`. A missing file is not an error.
void RemoveNetns(const std::string& path);

// True when `path` is a bind-mounted network namespace (nsfs).
bool IsNetns(const std::string& path);

}  // namespace libcontainerd::net
