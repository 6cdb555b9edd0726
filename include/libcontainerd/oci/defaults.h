// libcontainerd: a default OCI spec for a Linux container, equal in effect to containerd 1.6's
// defaults (oci.GenerateSpec + WithDefaultUnixDevices), changed through SpecOptions without
// writing JSON. See docs/oci.md for the exact defaults.
//
// Thread-safety: the functions are reentrant; they read the rootfs' /etc/passwd and /etc/group
// (user resolution) and, for a privileged spec, /proc/self/status, nothing else.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libcontainerd/export.h"
#include "libcontainerd/oci/spec.h"

namespace libcontainerd::oci {

// Everything has a default: SpecOptions{} gives containerd's default spec.
struct LCD_EXPORT SpecOptions {
  // Container id and containerd namespace: linux.cgroupsPath = "/<ns>/<id>" (as containerd).
  // An empty id leaves cgroupsPath empty (runc then uses the container id it is given).
  std::string id;
  std::string ns = "default";

  std::vector<std::string> args;  // process.args; empty leaves none (required before running)
  // Added to the default PATH; "KEY=value" replaces an entry of the same KEY, a bare "KEY"
  // removes it (containerd's WithEnv).
  std::vector<std::string> env;
  std::string cwd = "/";  // absolute
  // "", "uid", "uid:gid", "name", "name:group", "uid:group", "name:gid". Names are looked up
  // in <rootfs>/etc/passwd and <rootfs>/etc/group; a bare uid takes its gid from passwd (0 when
  // the uid is not listed). A user name also gets the supplementary groups that list it.
  std::string user;
  std::string hostname;   // needs the uts namespace (not in host_namespaces)
  bool terminal = false;  // also sets TERM=xterm unless env has TERM

  // root.path: absolute path of the root file system; empty keeps containerd's "rootfs"
  // (relative to the bundle). Names in `user` need an absolute rootfs.
  std::string rootfs;
  bool readonly_rootfs = false;

  // Mounts added after the defaults; one with the destination of a default mount replaces it.
  std::vector<Mount> mounts;

  std::optional<int64_t> memory_limit;  // bytes, > 0
  std::optional<double> cpus;           // fractional CPUs: quota = cpus * period, period 100000
  std::optional<uint64_t> cpu_shares;   // 2 .. 262144
  std::optional<int64_t> pids_limit;    // > 0 or -1

  // Namespaces to share with the host (removed from linux.namespaces): "pid", "network",
  // "ipc", "uts", "mount", "cgroup", "user".
  std::vector<std::string> host_namespaces;

  // spec.annotations. (Container labels are not part of the spec: see ContainerOptions.)
  std::map<std::string, std::string> annotations;

  // containerd's WithPrivileged + WithAllDevicesAllowed: every capability this process holds,
  // no masked or read-only paths, writable /sys and /sys/fs/cgroup, no seccomp/AppArmor/SELinux,
  // device cgroup allows everything, and the host's device nodes (scanned from /dev, as
  // containerd's WithHostDevices) are created in the container.
  bool privileged = false;
};

// Builds the spec. Throws Error{kInvalidArgument} naming the option for a bad option (relative
// rootfs or cwd, malformed user, unknown user or group name in the rootfs, cpus <= 0, unknown
// host namespace, hostname with a host uts namespace, ...), Error{kNotFound} when a user name
// is given and the rootfs has no /etc/passwd (or /etc/group for a group name).
LCD_EXPORT Spec DefaultSpec(const SpecOptions& options = {});

// Options of an exec'd process (Tasks.Exec spec).
struct LCD_EXPORT ProcessOptions {
  std::vector<std::string> args;  // required
  std::vector<std::string> env;   // as SpecOptions::env, on top of the default PATH
  std::string cwd = "/";
  std::string user;    // as SpecOptions::user
  std::string rootfs;  // absolute; needed only to resolve user or group names
  bool terminal = false;
};

// A process spec with containerd's default process settings (capabilities, rlimits,
// noNewPrivileges) and the options applied. Throws like DefaultSpec.
LCD_EXPORT Process DefaultProcess(const ProcessOptions& options);

// The default capability set of containerd (bounding, effective and permitted).
LCD_EXPORT const std::vector<std::string>& DefaultCapabilities();

// Resolves a user string (see SpecOptions::user) against <rootfs>/etc/passwd and /etc/group;
// fills uid, gid and additional_gids. An empty string gives root (0:0). Throws as DefaultSpec.
LCD_EXPORT User ResolveUser(const std::string& rootfs, const std::string& user);

}  // namespace libcontainerd::oci
