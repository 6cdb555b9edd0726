// lcd-engine: docker's system endpoints (/_ping, /version, /info, /events) and the refusals of
// what the engine does not build (swarm, plugins, build, volumes, ...).
#include <dirent.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "common.h"
#include "engine.h"
#include "libcontainerd/errors.h"

#ifndef LCD_ENGINE_VERSION
#define LCD_ENGINE_VERSION "dev"
#endif
#ifndef LCD_ENGINE_GIT_COMMIT
#define LCD_ENGINE_GIT_COMMIT "unknown"
#endif

namespace lcde {
namespace {

using json = nlohmann::ordered_json;

std::atomic<int> g_event_listeners{0};

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

struct Uname {
  std::string machine;
  std::string release;
};

Uname GetUname() {
  struct utsname u {};
  if (::uname(&u) != 0) return {"unknown", "unknown"};
  return {u.machine, u.release};
}

// Go's GOARCH for a uname machine, as docker's Version.Arch shows it.
std::string GoArch(const std::string& machine) {
  if (machine == "x86_64" || machine == "amd64") return "amd64";
  if (machine == "aarch64" || machine == "arm64") return "arm64";
  if (machine.rfind("armv", 0) == 0 || machine == "arm") return "arm";
  if (machine == "i386" || machine == "i486" || machine == "i586" || machine == "i686") {
    return "386";
  }
  return machine;  // ppc64le, s390x, riscv64, mips64 ... are spelled the same
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  return line;
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// PRETTY_NAME and VERSION_ID of /etc/os-release (unquoted).
std::map<std::string, std::string> OsRelease() {
  std::map<std::string, std::string> out;
  std::ifstream in("/etc/os-release");
  if (!in) in.open("/usr/lib/os-release");
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos || line[0] == '#') continue;
    std::string v = line.substr(eq + 1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
      v = v.substr(1, v.size() - 2);
    }
    out[line.substr(0, eq)] = v;
  }
  return out;
}

std::string Hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

bool CgroupV2() { return Exists("/sys/fs/cgroup/cgroup.controllers"); }

int CountFds() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    --n;  // the directory's own fd
  }
  return std::max(n, 0);
}

int CountThreads() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  }
  return 0;
}

std::string ContainerdVersion(Engine& engine, std::string* revision) {
  try {
    libcontainerd::Version v = engine.client().GetVersion(Engine::Ctx());
    if (revision != nullptr) *revision = v.revision;
    return v.version;
  } catch (const std::exception&) {
    return "";
  }
}

// When the engine was built: LCD_ENGINE_BUILD_TIME if the build defines it, else the binary's
// modification time.
std::string BuildTime() {
#ifdef LCD_ENGINE_BUILD_TIME
  return LCD_ENGINE_BUILD_TIME;
#else
  struct stat st {};
  if (::stat("/proc/self/exe", &st) != 0) return "";
  return Rfc3339Nano(std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec))));
#endif
}

// ---- /_ping, /version, /info ----------------------------------------------------------------

void Ping(Request& req, Response& res) {
  std::map<std::string, std::string> headers = {
      {"Api-Version", kApiVersion}, {"Docker-Experimental", "false"},
      {"Ostype", "linux"},          {"Builder-Version", "1"},
      {"Swarm", "inactive"},        {"Cache-Control", "no-cache, no-store, must-revalidate"},
      {"Pragma", "no-cache"},
  };
  res.Send(200, "text/plain; charset=utf-8", req.method == "HEAD" ? "" : "OK", headers);
}

void Version(Engine& engine, Request&, Response& res) {
  const Uname u = GetUname();
  const std::string arch = GoArch(u.machine);
  std::string revision;
  const std::string containerd = ContainerdVersion(engine, &revision);

  json details = json::object();
  details["ApiVersion"] = kApiVersion;
  details["Arch"] = arch;
  details["Experimental"] = "false";
  details["GitCommit"] = LCD_ENGINE_GIT_COMMIT;
  details["GoVersion"] = "n/a";
  details["KernelVersion"] = u.release;
  details["MinAPIVersion"] = kMinApiVersion;
  details["Os"] = "linux";
  const std::string built = BuildTime();
  if (!built.empty()) details["BuildTime"] = built;
  json components = json::array();
  components.push_back({{"Name", "Engine"}, {"Version", LCD_ENGINE_VERSION}, {"Details", details}});
  if (!containerd.empty()) {
    components.push_back(
        {{"Name", "containerd"}, {"Version", containerd}, {"Details", {{"GitCommit", revision}}}});
  }

  json j = json::object();
  j["Platform"] = {{"Name", "lcd-engine"}};
  j["Components"] = std::move(components);
  j["Version"] = LCD_ENGINE_VERSION;
  j["ApiVersion"] = kApiVersion;
  j["MinAPIVersion"] = kMinApiVersion;
  j["GitCommit"] = LCD_ENGINE_GIT_COMMIT;
  j["GoVersion"] = "n/a";
  j["Os"] = "linux";
  j["Arch"] = arch;
  j["KernelVersion"] = u.release;
  if (!built.empty()) j["BuildTime"] = built;
  SendJson(res, 200, Dump(j));
}

void Info(Engine& engine, Request&, Response& res) {
  const Uname u = GetUname();
  std::vector<std::string> warnings;

  int running = 0, paused = 0, stopped = 0;
  const std::vector<ContainerSummary> containers = engine.ContainerSummaries();
  for (const ContainerSummary& c : containers) {
    if (c.state == "running") {
      ++running;
    } else if (c.state == "paused") {
      ++paused;
    } else {
      ++stopped;
    }
  }
  size_t images = 0;
  try {
    std::set<std::string> ids;
    for (const auto& img : engine.images().List(Engine::Ctx())) ids.insert(img.digest);
    images = ids.size();
  } catch (const std::exception& e) {
    warnings.push_back(std::string("WARNING: images could not be counted: ") + e.what());
  }

  std::string revision;
  const std::string containerd = ContainerdVersion(engine, &revision);
  if (containerd.empty()) warnings.push_back("WARNING: containerd cannot be reached");

  const bool v2 = CgroupV2();
  const bool ip_forward = ReadFirstLine("/proc/sys/net/ipv4/ip_forward") == "1";
  if (!ip_forward) warnings.push_back("WARNING: IPv4 forwarding is disabled");
  const std::string nf = ReadFirstLine("/proc/sys/net/bridge/bridge-nf-call-iptables");
  const std::string nf6 = ReadFirstLine("/proc/sys/net/bridge/bridge-nf-call-ip6tables");
  const bool swap = v2 ? true : Exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
  if (!swap) warnings.push_back("WARNING: No swap limit support");

  std::map<std::string, std::string> os = OsRelease();
  const long ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);

  // Registries: CIDRs and names given as insecure, plus docker's loopback default.
  json cidrs = json::array({"127.0.0.0/8"});
  json index = json::object();
  index["docker.io"] = {
      {"Name", "docker.io"}, {"Mirrors", json::array()}, {"Secure", true}, {"Official", true}};
  for (const std::string& r : engine.options().insecure_registries) {
    if (r.find('/') != std::string::npos &&
        r.find_first_not_of("0123456789./:abcdefABCDEF") == std::string::npos) {
      cidrs.push_back(r);
    } else {
      index[r] = {{"Name", r}, {"Mirrors", json::array()}, {"Secure", false}, {"Official", false}};
    }
  }

  json j = json::object();
  j["ID"] = engine.id();
  j["Containers"] = containers.size();
  j["ContainersRunning"] = running;
  j["ContainersPaused"] = paused;
  j["ContainersStopped"] = stopped;
  j["Images"] = images;
  j["Driver"] = "overlayfs";
  j["DriverStatus"] = json::array();
  j["DockerRootDir"] = engine.options().root;
  j["Plugins"] = {{"Volume", json::array()},
                  {"Network", {"bridge", "host", "null"}},
                  {"Authorization", nullptr},
                  {"Log", {"json-file"}}};
  j["MemoryLimit"] = true;
  j["SwapLimit"] = swap;
  j["KernelMemory"] = false;
  j["KernelMemoryTCP"] = false;
  j["CpuCfsPeriod"] = true;
  j["CpuCfsQuota"] = true;
  j["CPUShares"] = true;
  j["CPUSet"] = true;
  j["PidsLimit"] = true;
  j["OomKillDisable"] = !v2;
  j["IPv4Forwarding"] = ip_forward;
  j["BridgeNfIptables"] = nf == "1";
  j["BridgeNfIp6tables"] = nf6 == "1";
  j["Debug"] = false;
  j["NFd"] = CountFds();
  j["NGoroutines"] = CountThreads();
  j["SystemTime"] = Rfc3339Nano(std::chrono::system_clock::now());
  j["LoggingDriver"] = "json-file";
  j["CgroupDriver"] = "cgroupfs";
  j["CgroupVersion"] = v2 ? "2" : "1";
  j["NEventsListener"] = g_event_listeners.load();
  j["KernelVersion"] = u.release;
  j["OperatingSystem"] = os.count("PRETTY_NAME") ? os["PRETTY_NAME"] : "Linux";
  j["OSVersion"] = os.count("VERSION_ID") ? os["VERSION_ID"] : "";
  j["OSType"] = "linux";
  j["Architecture"] = u.machine;
  j["IndexServerAddress"] = "https://index.docker.io/v1/";
  j["RegistryConfig"] = {{"AllowNondistributableArtifactsCIDRs", json::array()},
                         {"AllowNondistributableArtifactsHostnames", json::array()},
                         {"InsecureRegistryCIDRs", std::move(cidrs)},
                         {"IndexConfigs", std::move(index)},
                         {"Mirrors", json::array()}};
  j["NCPU"] = ncpu > 0 ? ncpu : 1;
  j["MemTotal"] = pages > 0 && page_size > 0 ? static_cast<int64_t>(pages) * page_size : 0;
  j["GenericResources"] = nullptr;
  j["HttpProxy"] = "";
  j["HttpsProxy"] = "";
  j["NoProxy"] = "";
  j["Name"] = Hostname();
  j["Labels"] = json::array();
  j["ExperimentalBuild"] = false;
  j["ServerVersion"] = LCD_ENGINE_VERSION;
  j["Runtimes"] = {{"runc", {{"path", "runc"}}}};
  j["DefaultRuntime"] = "runc";
  j["Swarm"] = {{"NodeID", ""},
                {"NodeAddr", ""},
                {"LocalNodeState", "inactive"},
                {"ControlAvailable", false},
                {"Error", ""},
                {"RemoteManagers", nullptr}};
  j["LiveRestoreEnabled"] = false;
  j["Isolation"] = "";
  j["InitBinary"] = "";
  j["ContainerdCommit"] = {{"ID", revision}, {"Expected", revision}};
  j["RuncCommit"] = {{"ID", ""}, {"Expected", ""}};
  j["InitCommit"] = {{"ID", ""}, {"Expected", ""}};
  j["SecurityOptions"] = v2 ? json::array({"name=cgroupns"}) : json::array();
  j["Warnings"] = warnings;
  SendJson(res, 200, Dump(j));
}

// ---- /events --------------------------------------------------------------------------------

using Filters = std::map<std::string, std::vector<std::string>>;

bool Exact(const Filters& f, const std::string& key, const std::string& value) {
  auto it = f.find(key);
  if (it == f.end()) return true;
  return std::find(it->second.begin(), it->second.end(), value) != it->second.end();
}

// A filter value equal to, or a prefix of, the value (docker's FuzzyMatch).
bool Fuzzy(const Filters& f, const std::string& key, const std::string& value) {
  auto it = f.find(key);
  if (it == f.end()) return true;
  for (const std::string& v : it->second) {
    if (value.compare(0, v.size(), v) == 0) return true;
  }
  return false;
}

std::string Attr(const Event& e, const std::string& key) {
  auto it = e.attributes.find(key);
  return it == e.attributes.end() ? "" : it->second;
}

// "busybox:1.36" -> "busybox"; digests and registry ports are kept.
std::string StripTag(const std::string& ref) {
  size_t at = ref.find('@');
  if (at != std::string::npos) return ref.substr(0, at);
  size_t colon = ref.rfind(':');
  size_t slash = ref.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return ref.substr(0, colon);
  }
  return ref;
}

bool EventMatches(const Filters& f, const Event& e) {
  // event: exact, except exec_create/exec_start/health_status which carry ": detail".
  if (auto it = f.find("event"); it != f.end()) {
    bool fuzzy = false;
    for (const std::string& v : it->second)
      if (v == "exec_create" || v == "exec_start" || v == "health_status") fuzzy = true;
    if (!(fuzzy ? Fuzzy(f, "event", e.action) : Exact(f, "event", e.action))) return false;
  }
  if (!Exact(f, "type", e.type) || !Exact(f, "scope", "local")) return false;
  // container and network (as docker does, whatever the event's type): the actor's id or its
  // "name" attribute starts with a filter value.
  for (const char* key : {"container", "network"}) {
    if (!Fuzzy(f, key, e.id) && !Fuzzy(f, key, Attr(e, "name"))) return false;
  }
  if (!Exact(f, "volume", e.id) && !Exact(f, "volume", Attr(e, "name"))) return false;
  if (auto it = f.find("image"); it != f.end()) {
    const std::string name = Attr(e, e.type == "image" ? "name" : "image");
    if (!(Exact(f, "image", e.id) || Exact(f, "image", name) || Exact(f, "image", StripTag(e.id)) ||
          Exact(f, "image", StripTag(name)))) {
      return false;
    }
  }
  for (const char* key : {"daemon", "plugin", "node", "service", "secret", "config"}) {
    if (f.count(key)) return false;  // no such events here
  }
  if (auto it = f.find("label"); it != f.end()) {
    for (const std::string& want : it->second) {
      size_t eq = want.find('=');
      auto a = e.attributes.find(want.substr(0, eq));
      if (a == e.attributes.end()) return false;
      if (eq != std::string::npos && a->second != want.substr(eq + 1)) return false;
    }
  }
  return true;
}

struct ListenerCount {
  ListenerCount() { ++g_event_listeners; }
  ~ListenerCount() { --g_event_listeners; }
  ListenerCount(const ListenerCount&) = delete;
  ListenerCount& operator=(const ListenerCount&) = delete;
};

void Events(Engine& engine, Request& req, Response& res) {
  const Filters f = ParseFilters(req.Query("filters"));
  static const std::set<std::string> kAccepted = {
      "config", "container", "daemon", "event",  "image",   "label", "network",
      "node",   "plugin",    "scope",  "secret", "service", "type",  "volume"};
  for (const auto& [k, v] : f) {
    if (kAccepted.count(k) == 0) throw HttpError(400, "invalid filter '" + k + "'");
  }
  const bool has_since = !req.Query("since").empty();
  const bool has_until = !req.Query("until").empty();
  const int64_t since = has_since ? ParseDockerTime(req.Query("since")) : 0;
  // until 0 (the epoch) bounds nothing in the history but ends the stream at once, as in docker.
  const int64_t until = has_until ? ParseDockerTime(req.Query("until")) : 0;
  if (has_since && has_until && since > until) {
    throw HttpError(400, "`since` time (" + req.Query("since") +
                             ") cannot be after `until` time (" + req.Query("until") + ")");
  }

  ListenerCount listening;
  EventBus& bus = engine.events();
  uint64_t last = bus.LastSeq();  // before the history, so nothing falls between the two
  res.BeginStream(200, "application/json");
  if (has_since || has_until) {
    for (const Event& e : bus.History(has_since ? since : 0, until)) {
      if (e.seq > last) continue;  // comes from WaitAfter below
      if (EventMatches(f, e) && !res.Write(EventJson(e) + "\n")) return;
    }
  }
  if (has_until && until <= NowNano()) return;  // only past events were asked for
  while (!res.ClientGone()) {
    std::chrono::milliseconds wait(1000);
    if (has_until) {
      const int64_t left_ms = (until - NowNano()) / 1000000;
      if (left_ms < 0) return;
      wait = std::chrono::milliseconds(std::min<int64_t>(left_ms + 1, 1000));
    }
    for (const Event& e : bus.WaitAfter(last, wait)) {
      last = e.seq;
      if (has_until && e.time_nano > until) return;
      if (EventMatches(f, e) && !res.Write(EventJson(e) + "\n")) return;
    }
    if (has_until && NowNano() > until) return;
  }
}

// ---- refusals -------------------------------------------------------------------------------

void Refuse(Router& router, const std::string& base, const std::string& message) {
  Handler h = [message](Request&, Response&) { throw HttpError(501, message); };
  for (const char* m : {"GET", "POST", "PUT", "DELETE"}) {
    router.Add(m, base, h);
    router.Add(m, base + "/{rest*}", h);
  }
}

}  // namespace

void RegisterSystemRoutes(Router& router, Engine& engine) {
  Engine* e = &engine;
  router.Add("GET", "/_ping", Ping);
  router.Add("HEAD", "/_ping", Ping);
  router.Add("GET", "/version", [e](Request& q, Response& r) { Version(*e, q, r); });
  router.Add("GET", "/info", [e](Request& q, Response& r) { Info(*e, q, r); });
  router.Add("GET", "/events", [e](Request& q, Response& r) { Events(*e, q, r); });
  router.Add("GET", "/system/df", [](Request&, Response&) {
    throw HttpError(501, "lcd-engine does not implement disk usage (docker system df) yet");
  });

  const std::string swarm =
      "lcd-engine does not implement swarm mode (docker swarm, node, service, stack, secret, "
      "config): this node is not a swarm manager";
  for (const char* base : {"/swarm", "/nodes", "/services", "/tasks", "/secrets", "/configs"}) {
    Refuse(router, base, swarm);
  }
  // No plugin exists: the list is empty and a lookup is 404 (docker inspect goes on).
  router.Add("GET", "/plugins", [](Request&, Response& r) { SendJson(r, 200, "[]"); });
  router.Add("GET", "/plugins/{name}/json", [](Request& q, Response&) {
    throw HttpError(404, "plugin " + q.Param("name") + " not found");
  });
  Refuse(router, "/plugins", "lcd-engine does not implement plugins (docker plugin)");
  Refuse(router, "/build",
         "lcd-engine does not implement image builds (docker build): build with another tool "
         "and load the result with docker load");
  Refuse(router, "/session", "lcd-engine does not implement BuildKit sessions (docker build)");
  Refuse(router, "/distribution",
         "lcd-engine does not implement registry manifest queries (/distribution/{name}/json)");
  // Volumes: volumes.cc.
  Refuse(router, "/auth", "lcd-engine does not implement registry login (docker login, /auth)");
}

}  // namespace lcde
