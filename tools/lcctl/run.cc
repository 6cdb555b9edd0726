// lcctl run: create a container, run its task in the foreground (or detached) and exit with
// its exit code. Also the flags and creation code shared with `container create`.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "common.h"
#include "foreground.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/images.h"
#include "libcontainerd/oci/defaults.h"
#include "libcontainerd/oci/image.h"
#include "libcontainerd/rootfs.h"

namespace lcctl {

namespace lcd = libcontainerd;

std::vector<FlagSpec> ContainerSpecFlags() {
  std::vector<FlagSpec> flags = {
      {"rootfs", 0, true, "DIR",
       "use this root file system directory as it is (no IMAGE; shared by the containers "
       "given it)"},
      {"snapshotter", 0, true, "NAME",
       "snapshotter of the container's snapshot (default overlayfs)"},
      {"entrypoint", 0, true, "CMD",
       "replace the image's entrypoint (\"\" clears it; drops its cmd)"},
      {"env", 'e', true, "K=V", "set an environment variable (repeatable)"},
      {"cwd", 'w', true, "DIR", "working directory in the container (default: the image's, or /)"},
      {"user", 'u', true, "U[:G]", "user (name or uid) and optional group (default: the image's)"},
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
  auto net = NetworkSpecFlags();
  flags.insert(flags.end(), net.begin(), net.end());
  return flags;
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
  std::string dir = a.Get("rootfs");
  struct stat st {};
  if (dir.empty() || ::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw ExitError(kExitFailure, "rootfs \"" + dir + "\" does not exist or is not a directory " +
                                      "(omit --rootfs to use the built-in busybox image)");
  char buf[PATH_MAX];
  if (::realpath(dir.c_str(), buf) == nullptr) return dir;
  return buf;
}

// The image service, or nullptr for a backend without one.
std::shared_ptr<lcd::images::ImageService> ImagesOrNull(Session& s) {
  try {
    return s.client().Images();
  } catch (const lcd::Error& e) {
    if (e.kind() == lcd::ErrorKind::kNotImplemented) return nullptr;
    throw;
  }
}

// True when `name` is a bare word naming an image of the namespace.
bool ImageExists(Session& s, lcd::images::ImageService& images, const std::string& name) {
  try {
    images.Inspect(s.Ctx(), name);
    return true;
  } catch (const lcd::Error& e) {
    if (lcd::IsNotFound(e) || e.kind() == lcd::ErrorKind::kInvalidArgument) return false;
    throw;
  }
}

// The built-in busybox image, imported into the namespace on first use.
lcd::images::Image BusyboxImage(Session& s, lcd::images::ImageService& images) {
  try {
    return images.Inspect(s.Ctx(), lcd::kBusyboxImage);
  } catch (const lcd::Error& e) {
    if (!lcd::IsNotFound(e)) throw;
  }
  std::stringstream archive;
  lcd::WriteBusyboxImage(archive);
  try {
    images.Import(s.Ctx(), archive);
  } catch (const lcd::Error&) {
    // Another lcctl may have imported it at the same moment: then its record is there.
    try {
      return images.Inspect(s.Ctx(), lcd::kBusyboxImage);
    } catch (const lcd::Error&) {
    }
    throw;
  }
  return images.Inspect(s.Ctx(), lcd::kBusyboxImage);
}

// A user string names a user or group (rather than ids only).
bool HasNames(const std::string& user) {
  return user.find_first_not_of("0123456789:") != std::string::npos;
}

void CheckEnv(const std::vector<std::string>& env) {
  for (const auto& e : env)
    if (e.empty() || e[0] == '=')
      throw UsageError("invalid --env \"" + e + "\": expected KEY=VALUE");
}

}  // namespace

ContainerTarget ResolveContainerTarget(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, SIZE_MAX, "container ID (IMAGE ID, or ID with --rootfs)");
  const auto& p = a.positionals;
  ContainerTarget t;
  if (a.Has("rootfs")) {
    t.id = p[0];
    t.cmd.assign(p.begin() + 1, p.end());
    return t;
  }
  bool image = p[0].find_first_of("/:@") != std::string::npos;
  auto images = ImagesOrNull(s);
  if (!image && images) image = ImageExists(s, *images, p[0]);
  if (image) {
    if (p.size() < 2) throw UsageError("missing container ID after IMAGE \"" + p[0] + "\"");
    t.image = p[0];
    t.id = p[1];
    t.cmd.assign(p.begin() + 2, p.end());
    return t;
  }
  t.image = images ? lcd::kBusyboxImage : "";
  t.id = p[0];
  t.cmd.assign(p.begin() + 1, p.end());
  return t;
}

std::shared_ptr<lcd::Container> CreateContainerFromFlags(Session& s, const ContainerTarget& t,
                                                         const ParsedArgs& a) {
  CheckId(t.id);
  const std::string& id = t.id;
  lcd::oci::SpecOptions o;
  o.id = id;
  o.ns = s.globals().ns;
  o.hostname = a.Get("hostname");
  o.terminal = a.Has("tty");
  o.readonly_rootfs = a.Has("read-only");
  if (a.Has("memory-limit")) o.memory_limit = ParseBytes("memory-limit", a.Get("memory-limit"));
  if (a.Has("cpus")) o.cpus = ParsePositiveDouble("cpus", a.Get("cpus"));
  if (a.Has("pids-limit")) o.pids_limit = ParseInt("pids-limit", a.Get("pids-limit"), true);
  for (const auto& m : a.All("mount")) o.mounts.push_back(ParseMount(m));
  CheckEnv(a.All("env"));
  lcd::ContainerOptions co;
  co.network = NetworkFromFlags(a);  // before any work: a malformed value is a usage error
  for (const auto& l : a.All("label")) {
    auto eq = l.find('=');
    if (eq == 0 || l.empty()) throw UsageError("invalid --label \"" + l + "\": expected KEY=VALUE");
    co.labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  // runc's options go to the runc shim only: another shim gets none (containerd then uses its
  // defaults), and --runc-binary with it is a usage error.
  const std::string runtime = a.Get("runtime");
  lcd::RuntimeOptions ro;
  if (runtime.empty() || runtime.rfind("io.containerd.runc.", 0) == 0) {
    lcd::RuncOptions runc;
    runc.binary_name = a.Get("runc-binary");
    ro = runc;
  } else if (a.Has("runc-binary")) {
    throw UsageError(
        "--runc-binary is an option of the runc shim (io.containerd.runc.v2), not of " + runtime);
  }
  lcd::oci::Spec spec;
  if (t.image.empty()) {
    if (a.Has("entrypoint")) throw UsageError("--entrypoint needs an IMAGE (not --rootfs)");
    if (a.Has("snapshotter")) throw UsageError("--snapshotter needs an IMAGE (not --rootfs)");
    o.args = t.cmd.empty() ? std::vector<std::string>{"sh"} : t.cmd;
    o.env = a.All("env");
    if (a.Has("cwd")) o.cwd = a.Get("cwd");
    o.user = a.Get("user");
    if (a.Has("rootfs")) {
      o.rootfs = ResolveRootfs(a);
    } else {  // a backend without an image store: the busybox directory of old
      lcd::BuildBusyboxRootfs(lcd::kDefaultRootfs);
      o.rootfs = lcd::kDefaultRootfs;
    }
    spec = lcd::oci::DefaultSpec(o);
  } else {
    auto images = s.client().Images();
    lcd::images::Image image =
        t.image == lcd::kBusyboxImage ? BusyboxImage(s, *images) : InspectImage(s, t.image);
    lcd::oci::ImageOverrides ov;
    if (a.Has("entrypoint")) {
      std::string e = a.Get("entrypoint");
      ov.entrypoint = e.empty() ? std::vector<std::string>{} : std::vector<std::string>{e};
    }
    ov.cmd = t.cmd;
    ov.env = a.All("env");
    if (a.Has("cwd")) ov.working_dir = a.Get("cwd");
    if (a.Has("user")) ov.user = a.Get("user");
    const std::string user = ov.user ? *ov.user : image.config.user;
    const std::string snapshotter = a.Get("snapshotter");
    if (HasNames(user))
      images->WithRootfs(
          s.Ctx(), image.name,
          [&](const std::string& dir) { spec = lcd::oci::SpecFromImage(image.config, ov, o, dir); },
          snapshotter.empty() ? "overlayfs" : snapshotter);
    else
      spec = lcd::oci::SpecFromImage(image.config, ov, o);
    co.image = image.name;
    co.snapshotter = snapshotter;
  }
  return s.client().NewContainer(s.Ctx(), id, spec, runtime, ro, co);
}

namespace {

int Run(Session& s, const ParsedArgs& a) {
  const bool detach = a.Has("detach");
  const bool rm = a.Has("rm");
  if (detach && rm) throw UsageError("--rm cannot be used with -d/--detach");
  const ContainerTarget target = ResolveContainerTarget(s, a);
  const std::string& id = target.id;
  CheckId(id);

  auto container = CreateContainerFromFlags(s, target, a);
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
  return {{"run", "run [flags] [IMAGE] ID [CMD [ARG...]]",
           "create and run a container from IMAGE (default: the built-in busybox image) or "
           "--rootfs DIR; exits with its exit code",
           "  lcctl run --rm hello echo hi\n"
           "  lcctl image pull 127.0.0.1:5000/app:1 && lcctl run --rm 127.0.0.1:5000/app:1 app1\n"
           "  echo hi | lcctl run -i --rm cat1 cat\n"
           "  lcctl run -d --memory-limit 64m --env A=1 web1 httpd -f -p 8080\n"
           "  lcctl run --rm --rootfs /srv/rootfs r1 /bin/true\n"
           "  lcctl run -t -i --rm shell sh",
           flags, 1, Run}};
}

}  // namespace lcctl
