// lcctl run: create a container, run its task in the foreground (or detached) and exit with
// its exit code. Also the flags and creation code shared with `container create`.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "common.h"
#include "foreground.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/defaults.h"
#include "libcontainerd/rootfs.h"

namespace lcctl {

namespace lcd = libcontainerd;

std::vector<FlagSpec> ContainerSpecFlags() {
  return {
      {"rootfs", 0, true, "DIR",
       std::string("root file system directory (default ") + lcd::kDefaultRootfs +
           ", built on first use)"},
      {"env", 'e', true, "K=V", "set an environment variable (repeatable)"},
      {"cwd", 0, true, "DIR", "working directory in the container (default /)"},
      {"user", 'u', true, "U[:G]", "user (name or uid) and optional group"},
      {"hostname", 0, true, "H", "host name of the container"},
      {"memory-limit", 0, true, "BYTES", "memory limit (bytes; k, m, g suffixes accepted)"},
      {"cpus", 0, true, "N", "CPUs the container may use (fractional: 0.5)"},
      {"pids-limit", 0, true, "N", "maximum number of tasks (-1: unlimited)"},
      {"read-only", 0, false, "", "mount the root file system read-only"},
      {"mount", 0, true, "SPEC",
       "add a mount: type=bind,src=/host,dst=/ctr,options=rbind:ro (repeatable)"},
      {"label", 0, true, "K=V", "add a container label (repeatable)"},
      {"runtime", 0, true, "NAME", "containerd runtime (default io.containerd.runc.v2)"},
      {"runc-binary", 0, true, "PATH", "OCI runtime binary of the runc shim (default runc)"},
      {"tty", 't', false, "", "allocate a terminal for the container"},
  };
}

namespace {

lcd::oci::Mount ParseMount(const std::string& v) {
  lcd::oci::Mount m;
  std::size_t start = 0;
  while (start <= v.size()) {
    std::size_t comma = v.find(',', start);
    std::string kv =
        v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? v.size() + 1 : comma + 1;
    if (kv.empty()) continue;
    auto eq = kv.find('=');
    if (eq == std::string::npos)
      throw UsageError("invalid --mount \"" + v + "\": \"" + kv + "\" is not KEY=VALUE");
    std::string k = kv.substr(0, eq), val = kv.substr(eq + 1);
    if (k == "type")
      m.type = val;
    else if (k == "src" || k == "source")
      m.source = val;
    else if (k == "dst" || k == "destination" || k == "target")
      m.destination = val;
    else if (k == "options") {
      std::size_t s = 0;
      while (s <= val.size()) {
        std::size_t c = val.find(':', s);
        std::string o = val.substr(s, c == std::string::npos ? std::string::npos : c - s);
        if (!o.empty()) m.options.push_back(o);
        s = c == std::string::npos ? val.size() + 1 : c + 1;
      }
    } else {
      throw UsageError("invalid --mount \"" + v + "\": unknown key \"" + k +
                       "\" (type, src, dst, options)");
    }
  }
  if (m.destination.empty() || m.destination[0] != '/')
    throw UsageError("invalid --mount \"" + v + "\": dst must be an absolute path");
  if (m.type.empty()) m.type = "bind";
  if (m.type == "bind" && m.options.empty()) m.options = {"rbind"};
  return m;
}

std::string ResolveRootfs(const ParsedArgs& a) {
  if (!a.Has("rootfs")) {
    lcd::BuildBusyboxRootfs(lcd::kDefaultRootfs);
    return lcd::kDefaultRootfs;
  }
  std::string dir = a.Get("rootfs");
  struct stat st {};
  if (dir.empty() || ::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw ExitError(kExitFailure, "rootfs \"" + dir + "\" does not exist or is not a directory " +
                                      "(omit --rootfs to use the busybox rootfs)");
  char buf[PATH_MAX];
  if (::realpath(dir.c_str(), buf) == nullptr) return dir;
  return buf;
}

}  // namespace

std::shared_ptr<lcd::Container> CreateContainerFromFlags(Session& s, const std::string& id,
                                                         const std::vector<std::string>& cmd,
                                                         const ParsedArgs& a) {
  CheckId(id);
  lcd::oci::SpecOptions o;
  o.id = id;
  o.ns = s.globals().ns;
  o.args = cmd.empty() ? std::vector<std::string>{"sh"} : cmd;
  o.env = a.All("env");
  for (const auto& e : o.env)
    if (e.empty() || e[0] == '=')
      throw UsageError("invalid --env \"" + e + "\": expected KEY=VALUE");
  if (a.Has("cwd")) o.cwd = a.Get("cwd");
  o.user = a.Get("user");
  o.hostname = a.Get("hostname");
  o.terminal = a.Has("tty");
  o.readonly_rootfs = a.Has("read-only");
  if (a.Has("memory-limit")) o.memory_limit = ParseBytes("memory-limit", a.Get("memory-limit"));
  if (a.Has("cpus")) o.cpus = ParsePositiveDouble("cpus", a.Get("cpus"));
  if (a.Has("pids-limit")) o.pids_limit = ParseInt("pids-limit", a.Get("pids-limit"), true);
  for (const auto& m : a.All("mount")) o.mounts.push_back(ParseMount(m));
  lcd::ContainerOptions co;
  for (const auto& l : a.All("label")) {
    auto eq = l.find('=');
    if (eq == 0 || l.empty()) throw UsageError("invalid --label \"" + l + "\": expected KEY=VALUE");
    co.labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  lcd::RuncOptions ro;
  ro.binary_name = a.Get("runc-binary");
  o.rootfs = ResolveRootfs(a);
  lcd::oci::Spec spec = lcd::oci::DefaultSpec(o);
  return s.client().NewContainer(s.Ctx(), id, spec, a.Get("runtime"), ro, co);
}

namespace {

int Run(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, SIZE_MAX, "container ID");
  const std::string id = a.positionals[0];
  CheckId(id);
  const bool detach = a.Has("detach");
  const bool rm = a.Has("rm");
  if (detach && rm) throw UsageError("--rm cannot be used with -d/--detach");
  std::vector<std::string> cmd(a.positionals.begin() + 1, a.positionals.end());

  auto container = CreateContainerFromFlags(s, id, cmd, a);
  // From here on a failure removes what this command created.
  try {
    if (detach) {
      // With -t or -i the task keeps FIFOs so that `task attach` can join it; else /dev/null.
      lcd::StdioCallback keep;
      if (a.Has("tty") || a.Has("interactive"))
        keep = [](std::shared_ptr<lcd::DirectIO> f) -> std::shared_ptr<lcd::IO> { return f; };
      auto task = StartDetached(s, *container, "", a.Has("interactive"), keep);
      if (!s.globals().json)
        std::printf("%s\n", id.c_str());
      else
        PrintJson({{"id", id}, {"pid", task->Pid()}});
      return 0;
    }
    int code = RunInitForeground(s, *container, a.Has("tty"), a.Has("interactive"), "");
    if (rm) container->Delete(s.Ctx());
    return code;
  } catch (...) {
    try {
      try {
        container->GetTask(s.Ctx())->ForceDelete(s.Ctx());
      } catch (const lcd::Error& e) {
        if (!lcd::IsNotFound(e)) throw;
      }
      container->Delete(s.Ctx());
    } catch (const lcd::Error& e) {
      std::fprintf(stderr, "lcctl: removing container %s after the failure failed: %s\n",
                   id.c_str(), OneLine(e.what()).c_str());
    }
    throw;
  }
}

}  // namespace

std::vector<Command> RunCommands() {
  auto flags = ContainerSpecFlags();
  flags.push_back({"rm", 0, false, "", "remove the container when it exits"});
  flags.push_back({"detach", 'd', false, "", "start it and return (prints the id)"});
  flags.push_back({"interactive", 'i', false, "", "copy lcctl's stdin to the container"});
  return {{"run", "run [flags] ID [CMD [ARG...]]",
           "create and run a container (default command: sh); exits with its exit code",
           "  lcctl run --rm hello echo hi\n"
           "  echo hi | lcctl run -i --rm cat1 cat\n"
           "  lcctl run -d --memory-limit 64m --env A=1 web1 httpd -f -p 8080\n"
           "  lcctl run -t -i --rm shell sh",
           flags, 1, Run}};
}

}  // namespace lcctl
