// Validation of a spec before it reaches the daemon: the rules runc 1.1 enforces, reported with
// the JSON path of the offending value ("<json.path>: <rule>").
#include <algorithm>
#include <set>
#include <string>
#include <string_view>

#include "libcontainerd/errors.h"
#include "libcontainerd/oci/spec.h"
#include "oci/capabilities.h"
#include "oci/json_codec.h"

namespace libcontainerd::oci {
namespace {

using detail::ChildPath;
using detail::IndexPath;

[[noreturn]] void Violation(const std::string& path, const std::string& rule, const char* op) {
  throw Error(ErrorKind::kInvalidArgument, detail::DisplayPath(path) + ": " + rule,
              ErrorContext{.op = op});
}

bool IsAbsolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

template <size_t N>
bool OneOf(std::string_view v, const std::string_view (&set)[N]) {
  return std::find(std::begin(set), std::end(set), v) != std::end(set);
}

constexpr std::string_view kNamespaceTypes[] = {"pid", "network", "mount", "ipc",
                                                "uts", "user",    "cgroup"};
constexpr std::string_view kRlimits[] = {
    "RLIMIT_AS",     "RLIMIT_CORE",   "RLIMIT_CPU",        "RLIMIT_DATA",
    "RLIMIT_FSIZE",  "RLIMIT_LOCKS",  "RLIMIT_MEMLOCK",    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",   "RLIMIT_NOFILE", "RLIMIT_NPROC",      "RLIMIT_RSS",
    "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"};
constexpr std::string_view kPropagation[] = {
    "", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"};
constexpr std::string_view kSeccompActions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY"};
constexpr std::string_view kSeccompOps[] = {"SCMP_CMP_NE",       "SCMP_CMP_LT", "SCMP_CMP_LE",
                                            "SCMP_CMP_EQ",       "SCMP_CMP_GE", "SCMP_CMP_GT",
                                            "SCMP_CMP_MASKED_EQ"};
constexpr std::string_view kSeccompFlags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};

class Checker {
 public:
  explicit Checker(const char* op) : op_(op) {}

  void Process(const std::string& at, const oci::Process& p) {
    if (p.args.empty()) Fail(ChildPath(at, "args"), "must not be empty (the command to run)");
    if (!IsAbsolute(p.cwd)) Fail(ChildPath(at, "cwd"), "must be an absolute path");
    for (size_t i = 0; i < p.env.size(); ++i) {
      const std::string& e = p.env[i];
      size_t eq = e.find('=');
      if (eq == std::string::npos || eq == 0) {
        Fail(IndexPath(ChildPath(at, "env"), i), "must be KEY=value");
      }
    }
    if (p.user.umask && *p.user.umask > 0777) {
      Fail(ChildPath(ChildPath(at, "user"), "umask"), "must be <= 0777");
    }
    if (p.capabilities) {
      const auto& c = *p.capabilities;
      const std::pair<const char*, const std::vector<std::string>*> sets[] = {
          {"bounding", &c.bounding},
          {"effective", &c.effective},
          {"inheritable", &c.inheritable},
          {"permitted", &c.permitted},
          {"ambient", &c.ambient}};
      for (const auto& [name, list] : sets) {
        for (size_t i = 0; i < list->size(); ++i) {
          if (!detail::IsKnownCapability((*list)[i])) {
            Fail(IndexPath(ChildPath(ChildPath(at, "capabilities"), name), i),
                 "unknown capability \"" + (*list)[i] + "\" (names are like CAP_NET_ADMIN)");
          }
        }
      }
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < p.rlimits.size(); ++i) {
      const auto& r = p.rlimits[i];
      std::string path = IndexPath(ChildPath(at, "rlimits"), i);
      if (!OneOf(r.type, kRlimits)) {
        Fail(ChildPath(path, "type"),
             "unknown rlimit \"" + r.type + "\" (names are like RLIMIT_NOFILE)");
      }
      if (!seen.insert(r.type).second) Fail(ChildPath(path, "type"), "duplicate rlimit " + r.type);
      if (r.soft > r.hard) Fail(ChildPath(path, "soft"), "must be <= hard");
    }
    if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000)) {
      Fail(ChildPath(at, "oomScoreAdj"), "must be in -1000..1000");
    }
    if (p.console_size && !p.terminal) {
      Fail(ChildPath(at, "consoleSize"), "needs terminal: true");
    }
  }

  void Resources(const std::string& at, const LinuxResources& r) {
    for (size_t i = 0; i < r.devices.size(); ++i) {
      const auto& d = r.devices[i];
      std::string path = IndexPath(ChildPath(at, "devices"), i);
      if (!d.type.empty() && d.type != "a" && d.type != "c" && d.type != "b") {
        Fail(ChildPath(path, "type"), "must be a, c or b");
      }
      if (d.access.find_first_not_of("rwm") != std::string::npos) {
        Fail(ChildPath(path, "access"), "must be a combination of r, w and m");
      }
    }
    if (r.memory) {
      std::string mem = ChildPath(at, "memory");
      const auto& m = *r.memory;
      auto limit_rule = [&](const char* name, const std::optional<int64_t>& v) {
        if (v && *v != -1 && *v <= 0) Fail(ChildPath(mem, name), "must be > 0 or -1");
      };
      limit_rule("limit", m.limit);
      limit_rule("reservation", m.reservation);
      limit_rule("swap", m.swap);
      if (m.swap && m.limit && *m.swap != -1 && *m.limit > 0 && *m.swap < *m.limit) {
        Fail(ChildPath(mem, "swap"), "must be >= limit (it is memory + swap) or -1");
      }
      if (m.swappiness && *m.swappiness > 100) Fail(ChildPath(mem, "swappiness"), "must be 0..100");
    }
    if (r.cpu) {
      std::string cpu = ChildPath(at, "cpu");
      const auto& c = *r.cpu;
      if (c.quota && *c.quota != -1 && *c.quota < 1000) {
        Fail(ChildPath(cpu, "quota"), "must be >= 1000 (microseconds) or -1");
      }
      if (c.period && (*c.period < 1000 || *c.period > 1000000)) {
        Fail(ChildPath(cpu, "period"), "must be 1000..1000000 (microseconds)");
      }
      if (c.shares && *c.shares != 0 && (*c.shares < 2 || *c.shares > 262144)) {
        Fail(ChildPath(cpu, "shares"), "must be 2..262144");
      }
      if (c.cpus.find_first_not_of("0123456789,-") != std::string::npos) {
        Fail(ChildPath(cpu, "cpus"), "must be a CPU list like 0-3,5");
      }
      if (c.mems.find_first_not_of("0123456789,-") != std::string::npos) {
        Fail(ChildPath(cpu, "mems"), "must be a node list like 0-1");
      }
    }
    if (r.pids && r.pids->limit != -1 && r.pids->limit <= 0) {
      Fail(ChildPath(ChildPath(at, "pids"), "limit"), "must be > 0 or -1");
    }
    if (r.block_io) {
      std::string bio = ChildPath(at, "blockIO");
      auto weight = [&](const std::string& path, const std::optional<uint16_t>& w) {
        if (w && *w != 0 && (*w < 10 || *w > 1000)) Fail(path, "must be 10..1000");
      };
      weight(ChildPath(bio, "weight"), r.block_io->weight);
      weight(ChildPath(bio, "leafWeight"), r.block_io->leaf_weight);
      for (size_t i = 0; i < r.block_io->weight_device.size(); ++i) {
        const auto& d = r.block_io->weight_device[i];
        weight(ChildPath(IndexPath(ChildPath(bio, "weightDevice"), i), "weight"), d.weight);
      }
    }
    for (size_t i = 0; i < r.hugepage_limits.size(); ++i) {
      if (r.hugepage_limits[i].page_size.empty()) {
        Fail(ChildPath(IndexPath(ChildPath(at, "hugepageLimits"), i), "pageSize"),
             "must not be empty (e.g. 2MB)");
      }
    }
    for (const auto& [file, value] : r.unified) {
      if (file.empty() || file.find('/') != std::string::npos ||
          file.find('.') == std::string::npos) {
        Fail(ChildPath(ChildPath(at, "unified"), file),
             "must be a cgroup v2 file name like memory.max");
      }
    }
  }

  void Spec(const oci::Spec& s) {
    if (s.oci_version.empty()) Fail("ociVersion", "is required");
    if (s.oci_version.rfind("1.", 0) != 0) {
      Fail("ociVersion", "must be a 1.x version, got \"" + s.oci_version + "\"");
    }
    if (!s.root) Fail("root", "is required");
    if (s.root->path.empty()) Fail("root.path", "is required");
    if (!s.process) Fail("process", "is required to run a container");
    Process("process", *s.process);
    for (size_t i = 0; i < s.mounts.size(); ++i) {
      const auto& m = s.mounts[i];
      std::string path = IndexPath("mounts", i);
      if (!IsAbsolute(m.destination))
        Fail(ChildPath(path, "destination"), "must be an absolute path");
      if (m.type == "bind" ||
          std::find(m.options.begin(), m.options.end(), "bind") != m.options.end() ||
          std::find(m.options.begin(), m.options.end(), "rbind") != m.options.end()) {
        if (m.source.empty()) Fail(ChildPath(path, "source"), "is required for a bind mount");
      }
      Mappings(ChildPath(path, "uidMappings"), m.uid_mappings);
      Mappings(ChildPath(path, "gidMappings"), m.gid_mappings);
    }
    if (s.hooks) Hooks(*s.hooks);
    if (!s.linux) Fail("linux", "is required for a Linux container");
    Linux(s.linux.value(), s);
  }

 private:
  [[noreturn]] void Fail(const std::string& path, const std::string& rule) {
    Violation(path, rule, op_);
  }

  void Mappings(const std::string& at, const std::vector<LinuxIDMapping>& maps) {
    for (size_t i = 0; i < maps.size(); ++i) {
      const auto& a = maps[i];
      std::string path = IndexPath(at, i);
      if (a.size == 0) Fail(ChildPath(path, "size"), "must be > 0");
      if (uint64_t{a.container_id} + a.size > (uint64_t{1} << 32) ||
          uint64_t{a.host_id} + a.size > (uint64_t{1} << 32)) {
        Fail(ChildPath(path, "size"), "range goes past 2^32");
      }
      for (size_t j = 0; j < i; ++j) {
        const auto& b = maps[j];
        auto overlap = [](uint64_t x, uint64_t xs, uint64_t y, uint64_t ys) {
          return x < y + ys && y < x + xs;
        };
        if (overlap(a.container_id, a.size, b.container_id, b.size)) {
          Fail(path, "container ids overlap mapping " + std::to_string(j));
        }
        if (overlap(a.host_id, a.size, b.host_id, b.size)) {
          Fail(path, "host ids overlap mapping " + std::to_string(j));
        }
      }
    }
  }

  void Hooks(const oci::Hooks& h) {
    const std::pair<const char*, const std::vector<Hook>*> lists[] = {
        {"prestart", &h.prestart},
        {"createRuntime", &h.create_runtime},
        {"createContainer", &h.create_container},
        {"startContainer", &h.start_container},
        {"poststart", &h.poststart},
        {"poststop", &h.poststop}};
    for (const auto& [name, list] : lists) {
      for (size_t i = 0; i < list->size(); ++i) {
        std::string path = IndexPath(ChildPath("hooks", name), i);
        const Hook& k = (*list)[i];
        if (!IsAbsolute(k.path)) Fail(ChildPath(path, "path"), "must be an absolute path");
        if (k.timeout && *k.timeout <= 0) Fail(ChildPath(path, "timeout"), "must be > 0 seconds");
      }
    }
  }

  void Linux(const oci::Linux& l, const oci::Spec& s) {
    std::set<std::string> types;
    for (size_t i = 0; i < l.namespaces.size(); ++i) {
      const auto& n = l.namespaces[i];
      std::string path = IndexPath("linux.namespaces", i);
      if (!OneOf(n.type, kNamespaceTypes)) {
        Fail(ChildPath(path, "type"), "unknown namespace type \"" + n.type +
                                          "\" (pid, network, mount, ipc, uts, user, cgroup)");
      }
      if (!types.insert(n.type).second)
        Fail(ChildPath(path, "type"), "duplicate namespace " + n.type);
      if (!n.path.empty() && !IsAbsolute(n.path))
        Fail(ChildPath(path, "path"), "must be an absolute path");
    }
    bool userns = types.count("user") > 0;
    if ((!l.uid_mappings.empty() || !l.gid_mappings.empty()) && !userns) {
      Fail(l.uid_mappings.empty() ? "linux.gidMappings" : "linux.uidMappings",
           "needs a user namespace in linux.namespaces");
    }
    Mappings("linux.uidMappings", l.uid_mappings);
    Mappings("linux.gidMappings", l.gid_mappings);
    if (!s.hostname.empty() && types.count("uts") == 0) {
      Fail("hostname", "needs a uts namespace in linux.namespaces");
    }
    if (!s.domainname.empty() && types.count("uts") == 0) {
      Fail("domainname", "needs a uts namespace in linux.namespaces");
    }
    if (!l.cgroups_path.empty()) CgroupsPath(l.cgroups_path);
    if (l.resources) Resources("linux.resources", *l.resources);
    for (size_t i = 0; i < l.devices.size(); ++i) {
      const auto& d = l.devices[i];
      std::string path = IndexPath("linux.devices", i);
      if (!IsAbsolute(d.path)) Fail(ChildPath(path, "path"), "must be an absolute path");
      if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p") {
        Fail(ChildPath(path, "type"), "must be c, b, u or p");
      }
    }
    if (!OneOf(l.rootfs_propagation, kPropagation)) {
      Fail("linux.rootfsPropagation",
           "must be private, rprivate, slave, rslave, shared, rshared, unbindable or runbindable");
    }
    const std::pair<const char*, const std::vector<std::string>*> path_lists[] = {
        {"linux.maskedPaths", &l.masked_paths}, {"linux.readonlyPaths", &l.readonly_paths}};
    for (const auto& [name, list] : path_lists) {
      for (size_t i = 0; i < list->size(); ++i) {
        if (!IsAbsolute((*list)[i])) Fail(IndexPath(name, i), "must be an absolute path");
      }
    }
    for (const auto& [key, value] : l.sysctl) {
      if (key.empty()) Fail("linux.sysctl", "names must not be empty");
    }
    if (l.seccomp) Seccomp(*l.seccomp);
    if (l.personality && l.personality->domain != "LINUX" && l.personality->domain != "LINUX32") {
      Fail("linux.personality.domain", "must be LINUX or LINUX32");
    }
  }

  void CgroupsPath(const std::string& p) {
    // cgroupfs: an absolute path ("/default/web1") or relative to runc's parent cgroup;
    // systemd: "slice:prefix:name".
    size_t colons = static_cast<size_t>(std::count(p.begin(), p.end(), ':'));
    if (colons != 0 && colons != 2) {
      Fail("linux.cgroupsPath", "must be a path or slice:prefix:name");
    }
    if (colons == 0) {
      size_t start = 0;
      while (start <= p.size()) {
        size_t end = p.find('/', start);
        if (end == std::string::npos) end = p.size();
        if (p.compare(start, end - start, "..") == 0) {
          Fail("linux.cgroupsPath", "must not contain \"..\"");
        }
        start = end + 1;
      }
    }
  }

  void Seccomp(const LinuxSeccomp& s) {
    if (!OneOf(s.default_action, kSeccompActions)) {
      Fail("linux.seccomp.defaultAction",
           "unknown action \"" + s.default_action + "\" (SCMP_ACT_*)");
    }
    for (size_t i = 0; i < s.architectures.size(); ++i) {
      if (s.architectures[i].rfind("SCMP_ARCH_", 0) != 0) {
        Fail(IndexPath("linux.seccomp.architectures", i), "must be a SCMP_ARCH_* name");
      }
    }
    for (size_t i = 0; i < s.flags.size(); ++i) {
      if (!OneOf(s.flags[i], kSeccompFlags)) {
        Fail(IndexPath("linux.seccomp.flags", i), "unknown flag (SECCOMP_FILTER_FLAG_*)");
      }
    }
    for (size_t i = 0; i < s.syscalls.size(); ++i) {
      const auto& c = s.syscalls[i];
      std::string path = IndexPath("linux.seccomp.syscalls", i);
      if (c.names.empty()) Fail(ChildPath(path, "names"), "must not be empty");
      for (size_t k = 0; k < c.names.size(); ++k) {
        if (c.names[k].empty()) Fail(IndexPath(ChildPath(path, "names"), k), "must not be empty");
      }
      if (!OneOf(c.action, kSeccompActions)) {
        Fail(ChildPath(path, "action"), "unknown action \"" + c.action + "\" (SCMP_ACT_*)");
      }
      for (size_t k = 0; k < c.args.size(); ++k) {
        const auto& a = c.args[k];
        std::string apath = IndexPath(ChildPath(path, "args"), k);
        if (a.index > 5) Fail(ChildPath(apath, "index"), "must be 0..5");
        if (!OneOf(a.op, kSeccompOps))
          Fail(ChildPath(apath, "op"), "unknown operator (SCMP_CMP_*)");
      }
    }
  }

  const char* op_;
};

}  // namespace

void Validate(const Spec& spec) { Checker("Validate").Spec(spec); }

void ValidateProcess(const Process& process) { Checker("ValidateProcess").Process("", process); }

void ValidateResources(const LinuxResources& resources) {
  Checker("ValidateResources").Resources("", resources);
}

}  // namespace libcontainerd::oci
