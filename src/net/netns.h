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

// PrepareNetnsDir(dir) and CreateNetns(path) under one lock with ReleaseNetnsDir, so that a
// directory being released is never the one a namespace is made in.
void CreateNetnsIn(const std::string& dir, const std::string& path);

// Unmounts `dir` (the mount PrepareNetnsDir made) when no namespace file is left in it, so that
// nothing stays mounted after the last container's network is gone. Best effort: never throws.
void ReleaseNetnsDir(const std::string& dir);

// Unmounts (lazily) and removes `path`. A missing file is not an error.
void RemoveNetns(const std::string& path);

// True when `path` is a bind-mounted network namespace (nsfs).
bool IsNetns(const std::string& path);

}  // namespace libcontainerd::net
