// The default Linux spec (containerd 1.6's populateDefaultUnixSpec + WithDefaultUnixDevices,
// plus the read-only cgroup mount runc and moby add) and the options that change it.
#include "libcontainerd/oci/defaults.h"

#include <algorithm>
#include <cmath>
#include <string_view>

#include "libcontainerd/errors.h"
#include "oci/capabilities.h"
#include "oci/host_devices.h"
#include "oci/passwd.h"

namespace libcontainerd::oci {
namespace {

constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr uint64_t kCfsPeriod = 100000;  // microseconds, the kernel's default CFS period

// Option errors carry no op: the public entry point that was called adds its name (WithOp).
[[noreturn]] void BadOption(const std::string& option, const std::string& rule) {
  throw Error(ErrorKind::kInvalidArgument, "option " + option + ": " + rule);
}

// Runs f; an Error without an op gets `op` (errors of file reads keep their own context).
template <class F>
auto WithOp(const char* op, F f) {
  try {
    return f();
  } catch (const Error& e) {
    if (!e.context().op.empty()) throw;
    ErrorContext ctx = e.context();
    ctx.op = op;
    throw Error(e.kind(), e.message(), ctx);
  }
}

User ResolveUserImpl(const std::string& rootfs, const std::string& user);
Spec DefaultSpecImpl(const SpecOptions& o);
Process DefaultProcessImpl(const ProcessOptions& o);

std::vector<Mount> DefaultMounts() {
  return {
      {.destination = "/proc",
       .type = "proc",
       .source = "proc",
       .options = {"nosuid", "noexec", "nodev"}},
      {.destination = "/dev",
       .type = "tmpfs",
       .source = "tmpfs",
       .options = {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {.destination = "/dev/pts",
       .type = "devpts",
       .source = "devpts",
       .options = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {.destination = "/dev/shm",
       .type = "tmpfs",
       .source = "shm",
       .options = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {.destination = "/dev/mqueue",
       .type = "mqueue",
       .source = "mqueue",
       .options = {"nosuid", "noexec", "nodev"}},
      {.destination = "/sys",
       .type = "sysfs",
       .source = "sysfs",
       .options = {"nosuid", "noexec", "nodev", "ro"}},
      {.destination = "/sys/fs/cgroup",
       .type = "cgroup",
       .source = "cgroup",
       .options = {"nosuid", "noexec", "nodev", "relatime", "ro"}},
      {.destination = "/run",
       .type = "tmpfs",
       .source = "tmpfs",
       .options = {"nosuid", "strictatime", "mode=755", "size=65536k"}},
  };
}

LinuxDeviceCgroup AllowChar(int64_t major, std::optional<int64_t> minor) {
  return {.allow = true, .type = "c", .major = major, .minor = minor, .access = "rwm"};
}

std::vector<LinuxDeviceCgroup> DefaultDeviceRules() {
  return {
      {.allow = false, .access = "rwm"},  // deny everything, then allow the usual nodes
      AllowChar(1, 3),                    // /dev/null
      AllowChar(1, 8),                    // /dev/random
      AllowChar(1, 7),                    // /dev/full
      AllowChar(5, 0),                    // /dev/tty
      AllowChar(1, 5),                    // /dev/zero
      AllowChar(1, 9),                    // /dev/urandom
      AllowChar(5, 1),                    // /dev/console
      AllowChar(136, std::nullopt),       // /dev/pts/*
      AllowChar(5, 2),                    // /dev/ptmx
  };
}

std::string EnvKey(const std::string& entry) { return entry.substr(0, entry.find('=')); }

// containerd's replaceOrAppendEnvValues: KEY=v replaces KEY, a bare KEY removes it.
void MergeEnv(std::vector<std::string>& env, const std::vector<std::string>& add) {
  for (const auto& e : add) {
    std::string key = EnvKey(e);
    if (key.empty()) BadOption("env", "entry \"" + e + "\" has no name");
    auto same = [&](const std::string& x) { return EnvKey(x) == key; };
    bool removal = e.find('=') == std::string::npos;
    auto it = std::find_if(env.begin(), env.end(), same);
    if (removal) {
      env.erase(std::remove_if(env.begin(), env.end(), same), env.end());
    } else if (it != env.end()) {
      *it = e;
    } else {
      env.push_back(e);
    }
  }
}

bool IsNumber(const std::string& s) {
  return !s.empty() && s.size() <= 10 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

uint32_t ToId(const std::string& option, const std::string& s) {
  uint64_t v = std::stoull(s);
  if (v > 0xfffffffeULL) BadOption(option, "id " + s + " is out of range");
  return static_cast<uint32_t>(v);
}

void ApplyProcessOptions(Process& p, const std::vector<std::string>& args,
                         const std::vector<std::string>& env, const std::string& cwd,
                         const std::string& user, const std::string& rootfs, bool terminal) {
  p.args = args;
  MergeEnv(p.env, env);
  if (cwd.empty() || cwd[0] != '/')
    BadOption("cwd", "must be an absolute path, got \"" + cwd + "\"");
  p.cwd = cwd;
  if (!user.empty()) p.user = ResolveUserImpl(rootfs, user);
  if (terminal) {
    p.terminal = true;
    bool has_term = std::any_of(p.env.begin(), p.env.end(),
                                [](const std::string& e) { return EnvKey(e) == "TERM"; });
    if (!has_term) p.env.push_back("TERM=xterm");
  }
}

Process BaseProcess() {
  Process p;
  p.cwd = "/";
  p.env = {kDefaultPath};
  p.no_new_privileges = true;
  p.capabilities = LinuxCapabilities{.bounding = DefaultCapabilities(),
                                     .effective = DefaultCapabilities(),
                                     .permitted = DefaultCapabilities()};
  p.rlimits = {{.type = "RLIMIT_NOFILE", .hard = 1024, .soft = 1024}};
  return p;
}

void MakePrivileged(Spec& s) {
  std::vector<std::string> caps = detail::CurrentCapabilities();
  s.process->capabilities =
      LinuxCapabilities{.bounding = caps, .effective = caps, .permitted = caps};
  s.process->apparmor_profile.clear();
  s.process->selinux_label.clear();
  s.linux->masked_paths.clear();
  s.linux->readonly_paths.clear();
  s.linux->seccomp.reset();
  for (auto& m : s.mounts) {
    if (m.destination == "/sys" || m.destination == "/sys/fs/cgroup") {
      std::replace(m.options.begin(), m.options.end(), std::string("ro"), std::string("rw"));
    }
  }
  s.linux->resources->devices = {{.allow = true, .access = "rwm"}};
  s.linux->devices = detail::HostDevices();
}

}  // namespace

const std::vector<std::string>& DefaultCapabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE",
  };
  return caps;
}

User ResolveUser(const std::string& rootfs, const std::string& user) {
  return WithOp("ResolveUser", [&] { return ResolveUserImpl(rootfs, user); });
}

namespace {
User ResolveUserImpl(const std::string& rootfs, const std::string& user) {
  User out;
  if (user.empty()) return out;
  size_t colon = user.find(':');
  std::string u = user.substr(0, colon);
  std::string g = colon == std::string::npos ? "" : user.substr(colon + 1);
  if (u.empty() || (colon != std::string::npos && g.empty()) || g.find(':') != std::string::npos) {
    BadOption("user", "\"" + user + "\" is not uid, uid:gid, name or name:group");
  }
  bool need_passwd = !IsNumber(u) || g.empty();  // a name, or the gid of a bare uid
  bool need_group = !g.empty() && !IsNumber(g);
  if (!IsNumber(u) || need_group) {
    if (rootfs.empty() || rootfs[0] != '/') {
      BadOption("user", "resolving the name in \"" + user + "\" needs an absolute rootfs path");
    }
  }

  std::vector<detail::PasswdEntry> passwd;
  if (need_passwd && !rootfs.empty()) {
    try {
      passwd = detail::ParsePasswd(detail::ReadFileInRoot(rootfs, "/etc/passwd"));
    } catch (const Error& e) {
      // A bare uid without passwd is fine (gid 0, as containerd); a name is not.
      if (!(e.kind() == ErrorKind::kNotFound && IsNumber(u))) throw;
    }
  }
  std::string username;
  if (IsNumber(u)) {
    out.uid = ToId("user", u);
    for (const auto& e : passwd) {
      if (e.uid == out.uid) {
        out.gid = e.gid;
        username = e.name;
        break;
      }
    }
  } else {
    auto it = std::find_if(passwd.begin(), passwd.end(),
                           [&](const detail::PasswdEntry& e) { return e.name == u; });
    if (it == passwd.end()) {
      BadOption("user", "no user \"" + u + "\" in " + rootfs + "/etc/passwd");
    }
    out.uid = it->uid;
    out.gid = it->gid;
    username = u;
  }

  std::vector<detail::GroupEntry> groups;
  bool want_groups = need_group || !username.empty();
  if (want_groups && !rootfs.empty()) {
    try {
      groups = detail::ParseGroup(detail::ReadFileInRoot(rootfs, "/etc/group"));
    } catch (const Error& e) {
      if (need_group || e.kind() != ErrorKind::kNotFound) throw;
    }
  }
  if (!g.empty()) {
    if (IsNumber(g)) {
      out.gid = ToId("user", g);
    } else {
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const detail::GroupEntry& e) { return e.name == g; });
      if (it == groups.end()) {
        BadOption("user", "no group \"" + g + "\" in " + rootfs + "/etc/group");
      }
      out.gid = it->gid;
    }
  }
  if (!username.empty()) {
    for (const auto& e : groups) {
      if (e.gid == out.gid) continue;  // the primary group is not a supplementary one
      if (std::find(e.members.begin(), e.members.end(), username) == e.members.end()) continue;
      if (std::find(out.additional_gids.begin(), out.additional_gids.end(), e.gid) ==
          out.additional_gids.end()) {
        out.additional_gids.push_back(e.gid);
      }
    }
  }
  return out;
}

}  // namespace

Spec DefaultSpec(const SpecOptions& options) {
  return WithOp("DefaultSpec", [&] { return DefaultSpecImpl(options); });
}

Process DefaultProcess(const ProcessOptions& options) {
  return WithOp("DefaultProcess", [&] { return DefaultProcessImpl(options); });
}

namespace {
Spec DefaultSpecImpl(const SpecOptions& o) {
  Spec s;
  s.oci_version = kVersion;
  s.root = Root{.path = "rootfs"};
  s.process = BaseProcess();
  s.mounts = DefaultMounts();
  Linux& l = s.linux.emplace();
  l.masked_paths = {"/proc/acpi",        "/proc/asound",        "/proc/kcore",
                    "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug",   "/sys/firmware",
                    "/proc/scsi"};
  l.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  if (!o.id.empty()) {
    if (o.ns.empty()) BadOption("ns", "must not be empty when id is set");
    l.cgroups_path = "/" + o.ns + "/" + o.id;
  }
  l.resources = LinuxResources{.devices = DefaultDeviceRules()};
  for (const char* t :
       {kPidNamespace, kIpcNamespace, kUtsNamespace, kMountNamespace, kNetworkNamespace}) {
    l.namespaces.push_back({.type = t});
  }

  // Root file system.
  if (!o.rootfs.empty()) {
    if (o.rootfs[0] != '/')
      BadOption("rootfs", "must be an absolute path, got \"" + o.rootfs + "\"");
    s.root->path = o.rootfs;
  }
  s.root->readonly = o.readonly_rootfs;

  ApplyProcessOptions(*s.process, o.args, o.env, o.cwd, o.user, o.rootfs, o.terminal);

  // Namespaces shared with the host.
  for (const auto& h : o.host_namespaces) {
    static const std::string_view kKnown[] = {kPidNamespace,   kNetworkNamespace, kMountNamespace,
                                              kIpcNamespace,   kUtsNamespace,     kUserNamespace,
                                              kCgroupNamespace};
    if (std::find(std::begin(kKnown), std::end(kKnown), h) == std::end(kKnown)) {
      BadOption("host_namespaces",
                "unknown namespace \"" + h + "\" (pid, network, mount, ipc, uts, user, cgroup)");
    }
    std::erase_if(l.namespaces, [&](const LinuxNamespace& n) { return n.type == h; });
  }
  if (!o.hostname.empty()) {
    bool uts = std::any_of(l.namespaces.begin(), l.namespaces.end(),
                           [](const LinuxNamespace& n) { return n.type == kUtsNamespace; });
    if (!uts) BadOption("hostname", "needs a private uts namespace (uts is in host_namespaces)");
    s.hostname = o.hostname;
  }

  // Mounts: an extra mount replaces a default one at the same destination.
  for (const auto& m : o.mounts) {
    if (m.destination.empty() || m.destination[0] != '/') {
      BadOption("mounts", "destination must be an absolute path, got \"" + m.destination + "\"");
    }
    auto it = std::find_if(s.mounts.begin(), s.mounts.end(),
                           [&](const Mount& d) { return d.destination == m.destination; });
    if (it != s.mounts.end()) {
      *it = m;
    } else {
      s.mounts.push_back(m);
    }
  }

  // Resources.
  LinuxResources& r = *l.resources;
  if (o.memory_limit) {
    if (*o.memory_limit <= 0) BadOption("memory_limit", "must be > 0 bytes");
    r.memory.emplace().limit = *o.memory_limit;
  }
  if (o.cpus) {
    double cpus = *o.cpus;
    if (!(cpus > 0) || !std::isfinite(cpus) || cpus > 1e6) {
      BadOption("cpus", "must be a positive number of CPUs, got " + std::to_string(cpus));
    }
    auto quota = static_cast<int64_t>(std::llround(cpus * static_cast<double>(kCfsPeriod)));
    if (quota < 1000) BadOption("cpus", "must be at least 0.01 (the kernel's 1 ms minimum quota)");
    if (!r.cpu) r.cpu.emplace();
    r.cpu->quota = quota;
    r.cpu->period = kCfsPeriod;
  }
  if (o.cpu_shares) {
    if (*o.cpu_shares < 2 || *o.cpu_shares > 262144) BadOption("cpu_shares", "must be 2..262144");
    if (!r.cpu) r.cpu.emplace();
    r.cpu->shares = *o.cpu_shares;
  }
  if (o.pids_limit) {
    if (*o.pids_limit == 0 || *o.pids_limit < -1) BadOption("pids_limit", "must be > 0 or -1");
    r.pids = LinuxPids{.limit = *o.pids_limit};
  }

  s.annotations = o.annotations;
  if (o.privileged) MakePrivileged(s);
  return s;
}

Process DefaultProcessImpl(const ProcessOptions& o) {
  Process p = BaseProcess();
  if (o.args.empty()) BadOption("args", "must not be empty");
  if (!o.rootfs.empty() && o.rootfs[0] != '/') {
    BadOption("rootfs", "must be an absolute path, got \"" + o.rootfs + "\"");
  }
  ApplyProcessOptions(p, o.args, o.env, o.cwd, o.user, o.rootfs, o.terminal);
  return p;
}

}  // namespace

}  // namespace libcontainerd::oci
