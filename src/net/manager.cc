// net::Manager over CNI (src/net/cni.h), persistent namespaces (netns.h), the DNS files
// (dns_files.h), subnets (subnet.h) and the isolation chains (iptables.h). The design is written
// down in docs/networking.md: layout of the state directory, the attachment record, locking,
// reconcile.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"
#include "libcontainerd/net.h"
#include "libcontainerd/oci/spec.h"
#include "libcontainerd/types.h"
#include "net/cni.h"
#include "net/dns_files.h"
#include "net/iptables.h"
#include "net/netns.h"
#include "net/subnet.h"

namespace libcontainerd::net {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kRecordFile = "attachment.json";
constexpr const char* kOwnKey = "libcontainerd";  // our part of a conflist (labels)
// In our part of a conflist: true when the network's forward and masquerade rules are the
// Manager's, made once at create (iptables.h NetworkRules); the list then has neither the
// bridge plugin's ipMasq nor the firewall plugin. Absent in networks of older versions.
constexpr const char* kNetworkRulesKey = "network_rules";
constexpr const char* kCniVersion = "1.0.0";
// How long Reconcile leaves a record of this very process alone after its last write.
constexpr std::chrono::seconds kSettle{60};

// ---- small helpers ----

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kNone:
      return "none";
    case Mode::kHost:
      return "host";
    case Mode::kBridge:
      return "bridge";
    case Mode::kContainer:
      return "container";
  }
  return "none";
}

Mode ModeFromName(const std::string& s) {
  if (s == "host") return Mode::kHost;
  if (s == "bridge") return Mode::kBridge;
  if (s == "container") return Mode::kContainer;
  return Mode::kNone;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes `content` to `path` through a temporary file in the same directory and rename(2).
void WriteAtomic(const std::string& path, const std::string& content, mode_t mode) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::string tmp = path + ".tmp" + std::to_string(rng() % 1000000000);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw Error(ErrorKind::kUnknown, "create file", {.path = tmp, .sys_errno = errno});
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(ErrorKind::kUnknown, "write file", {.path = tmp, .sys_errno = e});
    }
    off += static_cast<size_t>(n);
  }
  ::fchmod(fd, mode);
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw Error(ErrorKind::kUnknown, "write file", {.path = path, .sys_errno = e});
  }
}

void MakeDir(const std::string& path, mode_t mode) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec || !fs::is_directory(path))
    throw Error(ErrorKind::kFailedPrecondition,
                "cannot create directory: " + (ec ? ec.message() : std::string("not a directory")),
                {.op = "net::NewManager", .path = path});
  ::chmod(path.c_str(), mode);
}

// The start time of a process (field 22 of /proc/PID/stat), "" when it is gone or a zombie.
std::string ProcessStart(pid_t pid) {
  std::string s = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  auto close = s.rfind(')');
  if (close == std::string::npos || close + 2 >= s.size()) return {};
  std::istringstream in(s.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && (in >> field); ++i) {
    if (i == 3 && field == "Z") return {};
    if (i == 22) return field;
  }
  return {};
}

const std::string& SelfStart() {
  static const std::string s = ProcessStart(::getpid());
  return s;
}

// 32-bit FNV-1a, for the default bridge name of a network.
uint32_t Fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

bool ValidNetworkName(const std::string& name) {
  if (name.empty() || name.size() > 128 || !std::isalnum(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

bool ValidBridgeName(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

bool ValidHostname(const std::string& name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
  });
}

json PortJson(const PortMapping& p) {
  return {{"host_ip", p.host_ip},
          {"host_port", p.host_port},
          {"container_port", p.container_port},
          {"protocol", p.protocol}};
}
PortMapping PortFromJson(const json& j) {
  PortMapping p;
  p.host_ip = j.value("host_ip", "");
  p.host_port = j.value("host_port", uint16_t{0});
  p.container_port = j.value("container_port", uint16_t{0});
  p.protocol = j.value("protocol", "tcp");
  return p;
}
// runtimeConfig.portMappings as the portmap plugin reads it.
json CapabilityArgs(const std::vector<PortMapping>& ports) {
  json list = json::array();
  for (const auto& p : ports)
    list.push_back({{"hostPort", p.host_port},
                    {"containerPort", p.container_port},
                    {"protocol", p.protocol},
                    {"hostIP", p.host_ip}});
  return {{"portMappings", list}};
}

bool PortsClash(const PortMapping& a, const PortMapping& b) {
  return a.host_port == b.host_port && a.protocol == b.protocol &&
         (a.host_ip.empty() || b.host_ip.empty() || a.host_ip == b.host_ip);
}

// Whether the host port can be bound now (nothing else holds it).
void CheckHostPortFree(const PortMapping& p, const ErrorContext& ectx) {
  const bool v6 = p.host_ip.find(':') != std::string::npos;
  const int type = p.protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Error(ErrorKind::kUnknown, "socket for a port check", ectx);
  int one = 1;
  if (type == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = -1;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(p.host_port);
    ::inet_pton(AF_INET6, p.host_ip.c_str(), &a.sin6_addr);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(p.host_port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (!p.host_ip.empty()) ::inet_pton(AF_INET, p.host_ip.c_str(), &a.sin_addr);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  const int e = errno;
  ::close(fd);
  if (rc == 0) return;
  const std::string port = FormatPortMapping(p);
  if (e == EADDRINUSE)
    throw Error(ErrorKind::kAlreadyExists,
                "host port " + std::to_string(p.host_port) + "/" + p.protocol + " of -p " + port +
                    " is already in use on the host: choose another host port",
                ectx);
  if (e == EADDRNOTAVAIL)
    throw Error(ErrorKind::kInvalidArgument,
                "host IP " + p.host_ip + " of -p " + port + " is not an address of this host",
                ectx);
  throw Error(ErrorKind::kUnknown, "cannot check host port " + port + ": " + std::strerror(e),
              ectx);
}

// Serialises record changes and network changes: a mutex in the process and a flock on
// <state_dir>/lock between processes (each hold opens the file anew, so threads exclude each
// other through flock too).
class StateLock {
 public:
  StateLock(std::mutex& mu, const std::string& path) : guard_(mu) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0)
      throw Error(ErrorKind::kUnknown, "open the network state lock",
                  {.path = path, .sys_errno = errno});
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd_);
      throw Error(ErrorKind::kUnknown, "lock the network state", {.path = path, .sys_errno = e});
    }
  }
  ~StateLock() { ::close(fd_); }
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

 private:
  std::lock_guard<std::mutex> guard_;
  int fd_ = -1;
};

// ---- networks (conflists) ----

struct LoadedNetwork {
  Network network;
  cni::ConfigList list;
};

Network NetworkOf(const cni::ConfigList& list, const std::string& path) {
  Network n;
  n.name = list.name;
  n.config_path = path;
  if (!list.plugins.empty()) {
    const json& first = list.plugins.front();
    n.driver = first.value("type", "");
    if (n.driver == "bridge") n.bridge = first.value("bridge", "cni0");
    if (first.contains("ipam") && first["ipam"].is_object()) {
      const json& ipam = first["ipam"];
      if (ipam.contains("ranges") && ipam["ranges"].is_array() && !ipam["ranges"].empty() &&
          ipam["ranges"][0].is_array() && !ipam["ranges"][0].empty() &&
          ipam["ranges"][0][0].is_object()) {
        n.subnet = ipam["ranges"][0][0].value("subnet", "");
        n.gateway = ipam["ranges"][0][0].value("gateway", "");
      } else {
        n.subnet = ipam.value("subnet", "");
        n.gateway = ipam.value("gateway", "");
      }
    }
  }
  if (list.raw.is_object() && list.raw.contains(kOwnKey) && list.raw[kOwnKey].is_object() &&
      list.raw[kOwnKey].contains("labels") && list.raw[kOwnKey]["labels"].is_object())
    for (const auto& [k, v] : list.raw[kOwnKey]["labels"].items())
      if (v.is_string()) n.labels[k] = v.get<std::string>();
  return n;
}

// Whether the Manager made the network's forward and masquerade rules at create.
bool HasNetworkRules(const json& raw) {
  if (!raw.is_object()) return false;
  auto own = raw.find(kOwnKey);
  if (own == raw.end() || !own->is_object()) return false;
  auto rules = own->find(kNetworkRulesKey);
  return rules != own->end() && rules->is_boolean() && rules->get<bool>();
}

// Every *.conflist of `dir`, sorted by file name; malformed files are returned apart.
struct Loaded {
  std::vector<LoadedNetwork> networks;
  std::vector<Error> malformed;
};
Loaded LoadNetworks(const std::string& dir) {
  Loaded out;
  std::vector<std::string> paths;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".conflist") paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    try {
      cni::ConfigList list = cni::LoadConfigList(p);
      out.networks.push_back({NetworkOf(list, p), std::move(list)});
    } catch (const Error& e) {
      out.malformed.push_back(e);
    }
  }
  return out;
}

// ---- the attachment record ----

struct Record {
  std::string state = "adding";  // "adding" until the CNI ADD and the files are done
  Attachment at;
  bool netns_owned = false;  // the namespace file was made for this container
  bool files_owned = false;  // the files are this container's (not shared from another)
  std::string cni_id;        // CNI_CONTAINERID
  json conflist;             // the list as used for ADD (null: no CNI)
  json result;               // the ADD result (null until known)
  int owner_pid = 0;         // the process that wrote it, and its start time
  std::string owner_start;
};

json ToJson(const Record& r) {
  json ports = json::array();
  for (const auto& p : r.at.ports) ports.push_back(PortJson(p));
  return {{"version", 1},
          {"state", r.state},
          {"ns", r.at.ns},
          {"container_id", r.at.container_id},
          {"mode", ModeName(r.at.mode)},
          {"network", r.at.network},
          {"joined", r.at.joined},
          {"netns_path", r.at.netns_path},
          {"netns_owned", r.netns_owned},
          {"interface", r.at.interface},
          {"ip_address", r.at.ip_address},
          {"prefix_length", r.at.prefix_length},
          {"gateway", r.at.gateway},
          {"mac_address", r.at.mac_address},
          {"ports", ports},
          {"hostname", r.at.hostname},
          {"hosts_path", r.at.hosts_path},
          {"resolv_conf_path", r.at.resolv_conf_path},
          {"hostname_path", r.at.hostname_path},
          {"files_owned", r.files_owned},
          {"cni_container_id", r.cni_id},
          {"conflist", r.conflist},
          {"result", r.result},
          {"owner_pid", r.owner_pid},
          {"owner_start", r.owner_start}};
}

Record RecordFromJson(const json& j) {
  Record r;
  r.state = j.value("state", "adding");
  r.at.ns = j.value("ns", "");
  r.at.container_id = j.value("container_id", "");
  r.at.mode = ModeFromName(j.value("mode", "none"));
  r.at.network = j.value("network", "");
  r.at.joined = j.value("joined", "");
  r.at.netns_path = j.value("netns_path", "");
  r.netns_owned = j.value("netns_owned", false);
  r.at.interface = j.value("interface", "");
  r.at.ip_address = j.value("ip_address", "");
  r.at.prefix_length = j.value("prefix_length", 0);
  r.at.gateway = j.value("gateway", "");
  r.at.mac_address = j.value("mac_address", "");
  if (j.contains("ports") && j["ports"].is_array())
    for (const auto& p : j["ports"]) r.at.ports.push_back(PortFromJson(p));
  r.at.hostname = j.value("hostname", "");
  r.at.hosts_path = j.value("hosts_path", "");
  r.at.resolv_conf_path = j.value("resolv_conf_path", "");
  r.at.hostname_path = j.value("hostname_path", "");
  r.files_owned = j.value("files_owned", false);
  r.cni_id = j.value("cni_container_id", "");
  if (j.contains("conflist")) r.conflist = j["conflist"];
  if (j.contains("result")) r.result = j["result"];
  r.owner_pid = j.value("owner_pid", 0);
  r.owner_start = j.value("owner_start", "");
  return r;
}

// ---- the spec ----

void EditSpec(oci::Spec& spec, const Attachment& at) {
  if (!spec.linux) spec.linux.emplace();
  auto& nss = spec.linux->namespaces;
  auto it = std::find_if(nss.begin(), nss.end(), [](const oci::LinuxNamespace& n) {
    return n.type == oci::kNetworkNamespace;
  });
  if (at.mode == Mode::kHost || at.netns_path.empty()) {
    if (it != nss.end()) nss.erase(it);
  } else if (it != nss.end()) {
    it->path = at.netns_path;
  } else {
    oci::LinuxNamespace n;
    n.type = oci::kNetworkNamespace;
    n.path = at.netns_path;
    nss.push_back(n);
  }
  const std::pair<const char*, std::string> files[] = {{"/etc/hosts", at.hosts_path},
                                                       {"/etc/resolv.conf", at.resolv_conf_path},
                                                       {"/etc/hostname", at.hostname_path}};
  for (const auto& file : files) {
    const char* dest = file.first;
    const std::string& source = file.second;
    if (source.empty()) continue;
    // A mount the caller put there wins (docker keeps a user's bind mount of these files).
    if (std::any_of(spec.mounts.begin(), spec.mounts.end(),
                    [&](const oci::Mount& m) { return m.destination == dest; }))
      continue;
    oci::Mount m;
    m.destination = dest;
    m.type = "bind";
    m.source = source;
    m.options = {"rbind", "rprivate"};
    spec.mounts.push_back(m);
  }
  const bool own_uts = std::any_of(nss.begin(), nss.end(), [](const oci::LinuxNamespace& n) {
    return n.type == "uts" && n.path.empty();
  });
  if (own_uts && !at.hostname.empty()) spec.hostname = at.hostname;
}

std::string HostHostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// ---- the Manager ----

class CniManager final : public Manager {
 public:
  explicit CniManager(ManagerOptions o) : o_(std::move(o)) {
    if (o_.state_dir.empty() || o_.state_dir[0] != '/')
      throw Error(
          ErrorKind::kInvalidArgument,
          "ManagerOptions::state_dir must be an absolute path, not \"" + o_.state_dir + "\"",
          {.op = "net::NewManager"});
    if (o_.config_dir.empty() || o_.config_dir[0] != '/')
      throw Error(
          ErrorKind::kInvalidArgument,
          "ManagerOptions::config_dir must be an absolute path, not \"" + o_.config_dir + "\"",
          {.op = "net::NewManager"});
    if (o_.plugin_dirs.empty())
      throw Error(ErrorKind::kInvalidArgument, "ManagerOptions::plugin_dirs is empty",
                  {.op = "net::NewManager"});
    if (!ValidBridgeName(o_.default_bridge))
      throw Error(ErrorKind::kInvalidArgument,
                  "ManagerOptions::default_bridge \"" + o_.default_bridge +
                      "\" is not a Linux interface name (1-15 characters of a-z A-Z 0-9 _ . -)",
                  {.op = "net::NewManager"});
    if (!o_.default_subnet.empty()) ParseSubnet(o_.default_subnet, "default_subnet");
    MakeDir(o_.state_dir, 0700);
    MakeDir(o_.config_dir, 0755);
    MakeDir(NetnsDir(), 0700);
    MakeDir(o_.state_dir + "/containers", 0700);
    MakeDir(o_.state_dir + "/ipam", 0700);
    // The namespace directory becomes a mount point only when a namespace is first made, so a
    // program that never asks for a network leaves no mount behind.
  }

  Network CreateNetwork(const std::string& name, const NetworkCreateOptions& options) override {
    StateLock lock(mu_, LockPath());
    return CreateLocked(name, options);
  }

  std::vector<Network> ListNetworks() override {
    Loaded l = LoadNetworks(o_.config_dir);
    for (const auto& e : l.malformed)
      Log(LogLevel::kWarning, std::string("network configuration skipped: ") + e.what());
    std::vector<Network> out;
    for (auto& n : l.networks) out.push_back(n.network);
    return out;
  }

  Network InspectNetwork(const std::string& name) override {
    return Find(name, "InspectNetwork").network;
  }

  void RemoveNetwork(const std::string& name) override {
    ErrorContext ectx{.op = "RemoveNetwork"};
    StateLock lock(mu_, LockPath());
    LoadedNetwork n = Find(name, "RemoveNetwork");
    std::vector<std::string> users;
    for (const auto& r : AllRecords())
      if (r.at.mode == Mode::kBridge && r.at.network == name)
        users.push_back(r.at.ns + "/" + r.at.container_id);
    if (!users.empty()) {
      std::string list;
      for (const auto& u : users) list += (list.empty() ? "" : ", ") + u;
      throw Error(ErrorKind::kFailedPrecondition,
                  "network " + name + " is in use by container(s) " + list + ": delete them first",
                  ectx);
    }
    // The isolation rules are ours for every bridge network; only the bridges of networks made
    // here are ours to delete (a user's conflist may name a bridge of their own). They go first:
    // when that fails, the network is still there to remove again.
    if (n.network.driver == "bridge" && !n.network.bridge.empty()) {
      RemoveIsolation(n.network.bridge);
      if (n.list.raw.contains(kOwnKey)) DeleteLink(n.network.bridge);
    }
    if (::unlink(n.network.config_path.c_str()) != 0 && errno != ENOENT)
      throw Error(ErrorKind::kUnknown, "remove network " + name,
                  {.op = "RemoveNetwork", .path = n.network.config_path, .sys_errno = errno});
  }

  Attachment Attach(const Context& ctx, const std::string& ns, const std::string& id,
                    const NetworkRequest& request, oci::Spec& spec) override {
    ErrorContext ectx{.op = "net::Attach", .container_id = id};
    ValidateIdentifier("namespace", ns);
    ValidateIdentifier("container id", id);
    // Refuse what is wrong before anything is made.
    if (!request.ports.empty() && request.mode != Mode::kBridge)
      throw Error(ErrorKind::kInvalidArgument,
                  std::string("published ports need a bridge network, not network mode ") +
                      ModeName(request.mode),
                  ectx);
    for (size_t i = 0; i < request.ports.size(); ++i) {
      const auto& p = request.ports[i];
      if (p.host_port == 0 || p.container_port == 0 || (p.protocol != "tcp" && p.protocol != "udp"))
        throw Error(ErrorKind::kInvalidArgument,
                    "published port " + FormatPortMapping(p) +
                        ": host and container ports 1-65535 and protocol tcp or udp are needed",
                    ectx);
      for (size_t k = 0; k < i; ++k)
        if (PortsClash(p, request.ports[k]))
          throw Error(
              ErrorKind::kInvalidArgument,
              "host port " + std::to_string(p.host_port) + "/" + p.protocol + " is published twice",
              ectx);
    }
    if (!request.hostname.empty() && !ValidHostname(request.hostname))
      throw Error(ErrorKind::kInvalidArgument,
                  "hostname \"" + request.hostname +
                      "\" is not valid (1-64 characters of a-z A-Z 0-9 . -, starting with a letter "
                      "or digit)",
                  ectx);
    const bool wants_files_own = request.mode != Mode::kContainer;
    if (request.mode == Mode::kContainer) {
      if (request.container.empty())
        throw Error(ErrorKind::kInvalidArgument, "network mode container:ID needs an id", ectx);
      if (request.container == id)
        throw Error(ErrorKind::kInvalidArgument, "a container cannot join its own network", ectx);
    }
    std::string resolv;
    std::string hosts_text;
    const std::string host_resolv = ReadFile(o_.host_resolv_conf);
    if (request.mode == Mode::kHost) {
      const bool overrides = !request.dns_servers.empty() || !request.dns_search.empty() ||
                             !request.dns_options.empty();
      resolv = overrides ? BuildResolvConf(host_resolv, request) : host_resolv;
    } else {
      resolv = BuildResolvConf(host_resolv, request);  // validates the DNS flags
    }

    Record rec;
    rec.at.ns = ns;
    rec.at.container_id = id;
    rec.at.mode = request.mode;
    rec.at.ports = request.ports;
    rec.owner_pid = ::getpid();
    rec.owner_start = SelfStart();
    rec.cni_id = ns + "." + id;
    std::optional<LoadedNetwork> network;
    std::optional<Record> joined;

    {
      StateLock lock(mu_, LockPath());
      if (fs::exists(RecordPath(ns, id)))
        throw Error(ErrorKind::kAlreadyExists,
                    "container " + id + " in namespace " + ns + " has a network already", ectx);
      if (request.mode == Mode::kBridge) {
        const std::string name = request.network.empty() ? kDefaultNetwork : request.network;
        network = FindOrCreateDefault(name, ectx);
        cni::Runtime runtime(o_.plugin_dirs);
        for (const auto& p : network->list.plugins)
          runtime.FindPlugin(p.value("type", ""));  // a missing plugin: kNotFound, named
        if (!request.ports.empty())
          for (const auto& other : AllRecords())
            for (const auto& theirs : other.at.ports)
              for (const auto& mine : request.ports)
                if (PortsClash(mine, theirs))
                  throw Error(ErrorKind::kAlreadyExists,
                              "host port " + std::to_string(mine.host_port) + "/" + mine.protocol +
                                  " is already published by container " + other.at.container_id +
                                  " (namespace " + other.at.ns + "): choose another host port",
                              ectx);
        for (const auto& p : request.ports) CheckHostPortFree(p, ectx);
        rec.at.network = name;
        // Without ports, an idle portmap is left out (the record keeps the list: DEL runs the
        // same).
        if (request.ports.empty()) network->list = cni::WithoutIdlePortmap(network->list);
        rec.conflist = network->list.raw;
      } else if (request.mode == Mode::kContainer) {
        rec.at.joined = request.container;
        if (auto other = ReadRecord(ns, request.container)) {
          if (other->state != "ready")
            throw Error(
                ErrorKind::kFailedPrecondition,
                "the network of container " + request.container + " is still being set up: retry",
                ectx);
          joined = *other;
        } else if (request.container_netns_path.empty()) {
          throw Error(
              ErrorKind::kNotFound,
              "container " + request.container + " in namespace " + ns + " has no network to join",
              ectx);
        }
      }
      MakeDir(ContainerDir(ns, id), 0700);
      WriteRecord(rec);
      inflight_.insert(ns + "/" + id);
    }

    bool cni_added = false;
    try {
      // The namespace.
      if (request.mode == Mode::kNone || request.mode == Mode::kBridge) {
        rec.at.netns_path = NetnsPath(ns, id);
        rec.netns_owned = true;
        WriteRecordLocked(rec);  // so a crash from here on leaves a namespace reconcile finds
        CreateNetnsIn(NetnsDir(), rec.at.netns_path);
      } else if (request.mode == Mode::kContainer) {
        rec.at.netns_path = joined ? joined->at.netns_path : request.container_netns_path;
        if (joined) {
          rec.at.ip_address = joined->at.ip_address;
          rec.at.prefix_length = joined->at.prefix_length;
          rec.at.gateway = joined->at.gateway;
          rec.at.mac_address = joined->at.mac_address;
          rec.at.interface = joined->at.interface;
        }
      }
      // CNI.
      if (request.mode == Mode::kBridge) {
        cni::Runtime runtime(o_.plugin_dirs);
        cni::RuntimeConf rt = RuntimeConfOf(rec);
        cni::Result result = runtime.Add(ctx, network->list, rt);
        cni_added = true;
        rec.result = result.raw;
        FillAddress(rec.at, result);
        WriteRecordLocked(rec);
        // A network made by this version has its rules since its create, and nothing in its
        // list touches FORWARD. Other lists (an older version's, a user's) get the isolation
        // rules here, and our jump back to the top of FORWARD when the firewall plugin
        // inserted its own above it.
        if (!network->network.bridge.empty() && network->network.driver == "bridge" &&
            !HasNetworkRules(network->list.raw))
          EnsureIsolation(network->network.bridge);
      }
      // The files.
      if (joined) {
        rec.at.hostname = joined->at.hostname;
        rec.at.hosts_path = joined->at.hosts_path;
        rec.at.resolv_conf_path = joined->at.resolv_conf_path;
        rec.at.hostname_path = joined->at.hostname_path;
      } else {
        std::string hostname = request.hostname;
        if (hostname.empty())
          hostname = request.mode == Mode::kHost ? HostHostname() : id.substr(0, 12);
        if (request.mode == Mode::kHost) {
          hosts_text = ReadFile("/etc/hosts");
          if (!hosts_text.empty() && hosts_text.back() != '\n') hosts_text += '\n';
          for (const auto& h : request.extra_hosts) hosts_text += h.ip + "\t" + h.name + "\n";
        } else {
          hosts_text = BuildHosts(hostname, rec.at.ip_address, request.extra_hosts);
        }
        ContainerFiles f = WriteContainerFiles(ContainerDir(ns, id), hosts_text, resolv, hostname);
        rec.at.hostname = hostname;
        rec.at.hosts_path = f.hosts;
        rec.at.resolv_conf_path = f.resolv_conf;
        rec.at.hostname_path = f.hostname;
        rec.files_owned = wants_files_own;
      }
      rec.state = "ready";
      WriteRecordLocked(rec);
      EditSpec(spec, rec.at);
    } catch (...) {
      if (!cni_added) rec.conflist = json();  // Runtime::Add rolled its own plugins back
      try {
        Release(Context::WithTimeout(std::chrono::seconds(30)), rec);
      } catch (const std::exception& e) {
        Log(LogLevel::kWarning,
            "net::Attach " + id +
                ": roll-back incomplete (the next reconcile retries): " + e.what());
      }
      Forget(ns, id);
      throw;
    }
    Forget(ns, id);
    return rec.at;
  }

  void Detach(const Context& ctx, const std::string& ns, const std::string& id) override {
    ValidateIdentifier("namespace", ns);
    ValidateIdentifier("container id", id);
    std::optional<Record> rec;
    {
      StateLock lock(mu_, LockPath());
      rec = ReadRecord(ns, id);
    }
    if (!rec) {
      // No record: a namespace file of a killed Attach may still be there.
      RemoveNetns(NetnsPath(ns, id));
      ReleaseNetnsDir(NetnsDir());
      return;
    }
    Release(ctx, *rec);
  }

  std::optional<Attachment> Inspect(const std::string& ns, const std::string& id) override {
    ValidateIdentifier("namespace", ns);
    ValidateIdentifier("container id", id);
    auto r = ReadRecord(ns, id);
    if (!r) return std::nullopt;
    return r->at;
  }

  std::vector<Attachment> List(const std::string& ns) override {
    ValidateIdentifier("namespace", ns);
    std::vector<Attachment> out;
    for (const auto& r : RecordsOf(ns)) out.push_back(r.at);
    return out;
  }

  std::vector<std::string> Reconcile(const Context& ctx, const std::string& ns,
                                     const std::set<std::string>& existing) override {
    ValidateIdentifier("namespace", ns);
    std::vector<Record> stale;
    std::vector<std::string> orphans;  // namespace files and directories without a record
    {
      StateLock lock(mu_, LockPath());
      std::set<std::string> with_record;
      for (const auto& r : RecordsOf(ns)) {
        with_record.insert(r.at.container_id);
        if (inflight_.count(ns + "/" + r.at.container_id)) continue;
        const bool owner_alive =
            r.owner_pid > 0 && !r.owner_start.empty() && ProcessStart(r.owner_pid) == r.owner_start;
        // This process's own record: its Attach is over, but the caller may still be creating
        // the container (NewContainer between Attach and Containers.Create while another Client
        // of this process starts): left alone for kSettle after its last write.
        const bool mine_settled = owner_alive && r.owner_pid == ::getpid() &&
                                  RecordAge(r.at.ns, r.at.container_id) > kSettle;
        if (r.state != "ready") {
          if (!owner_alive || mine_settled) stale.push_back(r);
        } else if (!existing.count(r.at.container_id) && (!owner_alive || mine_settled)) {
          stale.push_back(r);
        }
      }
      std::error_code ec;
      const std::string prefix = ns + "@";
      for (const auto& e : fs::directory_iterator(NetnsDir(), ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind(prefix, 0) == 0 && !with_record.count(name.substr(prefix.size())))
          orphans.push_back(e.path().string());
      }
      for (const auto& e : fs::directory_iterator(o_.state_dir + "/containers/" + ns, ec)) {
        const std::string cid = e.path().filename().string();
        if (!with_record.count(cid) && !inflight_.count(ns + "/" + cid))
          fs::remove_all(e.path(), ec);
      }
    }
    for (const auto& p : orphans) {
      try {
        RemoveNetns(p);
      } catch (const std::exception& e) {
        Log(LogLevel::kWarning, std::string("reconcile: ") + e.what());
      }
    }
    if (!orphans.empty()) ReleaseNetnsDir(NetnsDir());
    std::vector<std::string> released;
    for (const auto& r : stale) {
      try {
        Release(ctx, r);
        released.push_back(r.at.container_id);
      } catch (const std::exception& e) {
        Log(LogLevel::kWarning, "reconcile of the network of container " + r.at.container_id +
                                    " (namespace " + ns + "): " + e.what());
      }
    }
    return released;
  }

 private:
  std::string LockPath() const { return o_.state_dir + "/lock"; }
  std::string NetnsDir() const { return o_.state_dir + "/netns"; }
  std::string NetnsPath(const std::string& ns, const std::string& id) const {
    return NetnsDir() + "/" + ns + "@" + id;
  }
  std::string ContainerDir(const std::string& ns, const std::string& id) const {
    return o_.state_dir + "/containers/" + ns + "/" + id;
  }
  std::string RecordPath(const std::string& ns, const std::string& id) const {
    return ContainerDir(ns, id) + "/" + kRecordFile;
  }

  // Time since the record was last written (large when it cannot be told).
  std::chrono::seconds RecordAge(const std::string& ns, const std::string& id) const {
    struct stat st {};
    if (::stat(RecordPath(ns, id).c_str(), &st) != 0) return std::chrono::hours(24);
    return std::chrono::seconds(::time(nullptr) - st.st_mtime);
  }

  void WriteRecord(const Record& r) {
    WriteAtomic(RecordPath(r.at.ns, r.at.container_id), ToJson(r).dump(2) + "\n", 0600);
  }
  void WriteRecordLocked(const Record& r) {
    StateLock lock(mu_, LockPath());
    WriteRecord(r);
  }

  std::optional<Record> ReadRecord(const std::string& ns, const std::string& id) const {
    const std::string text = ReadFile(RecordPath(ns, id));
    if (text.empty()) return std::nullopt;
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      Log(LogLevel::kWarning, "unreadable network record " + RecordPath(ns, id));
      return std::nullopt;
    }
    return RecordFromJson(j);
  }

  std::vector<Record> RecordsOf(const std::string& ns) const {
    std::vector<Record> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(o_.state_dir + "/containers/" + ns, ec))
      if (auto r = ReadRecord(ns, e.path().filename().string())) out.push_back(*r);
    return out;
  }

  std::vector<Record> AllRecords() const {
    std::vector<Record> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(o_.state_dir + "/containers", ec)) {
      auto part = RecordsOf(e.path().filename().string());
      out.insert(out.end(), part.begin(), part.end());
    }
    return out;
  }

  void Forget(const std::string& ns, const std::string& id) {
    std::lock_guard g(mu_);
    inflight_.erase(ns + "/" + id);
  }

  cni::RuntimeConf RuntimeConfOf(const Record& r) const {
    cni::RuntimeConf rt;
    rt.container_id = r.cni_id;
    rt.netns = r.at.netns_path;
    rt.ifname = "eth0";
    rt.capability_args = CapabilityArgs(r.at.ports);
    return rt;
  }

  static void FillAddress(Attachment& at, const cni::Result& result) {
    const cni::IpConfig* chosen = nullptr;
    for (const auto& ip : result.ips) {
      if (ip.interface >= 0 && static_cast<size_t>(ip.interface) < result.interfaces.size() &&
          !result.interfaces[ip.interface].sandbox.empty() &&
          ip.address.find(':') == std::string::npos) {
        chosen = &ip;
        break;
      }
    }
    if (!chosen && !result.ips.empty()) chosen = &result.ips.front();
    at.interface = "eth0";
    if (!chosen) return;
    auto slash = chosen->address.find('/');
    at.ip_address = chosen->address.substr(0, slash);
    at.prefix_length =
        slash == std::string::npos ? 32 : std::atoi(chosen->address.c_str() + slash + 1);
    at.gateway = chosen->gateway;
    if (chosen->interface >= 0 && static_cast<size_t>(chosen->interface) < result.interfaces.size())
      at.mac_address = result.interfaces[chosen->interface].mac;
  }

  // Undoes what the record says was done: CNI DEL (when the list is known), the namespace, the
  // files, the record. What is already gone is not an error; a failing DEL keeps the record (so
  // a later Detach or reconcile retries) and throws.
  void Release(const Context& ctx, const Record& r) {
    if (r.at.mode == Mode::kBridge && !r.conflist.is_null()) {
      cni::ConfigList list =
          cni::ParseConfigList(r.conflist.dump(), RecordPath(r.at.ns, r.at.container_id));
      cni::Runtime runtime(o_.plugin_dirs);
      runtime.Del(ctx, list, RuntimeConfOf(r), r.result);
    }
    if (r.netns_owned && !r.at.netns_path.empty()) RemoveNetns(r.at.netns_path);
    RemoveNetns(NetnsPath(r.at.ns, r.at.container_id));  // also one a killed Attach left
    StateLock lock(mu_, LockPath());
    std::error_code ec;
    fs::remove_all(ContainerDir(r.at.ns, r.at.container_id), ec);
    ::rmdir((o_.state_dir + "/containers/" + r.at.ns).c_str());  // when empty
    ReleaseNetnsDir(NetnsDir());  // the last namespace gone: nothing stays mounted
  }

  LoadedNetwork Find(const std::string& name, const char* op) const {
    Loaded l = LoadNetworks(o_.config_dir);
    for (auto& n : l.networks)
      if (n.network.name == name) return n;
    // The network may be in a malformed file: say so rather than only "not found".
    const std::string own_file = "/" + name + ".conflist";
    for (const auto& e : l.malformed)
      if (std::string(e.what()).find(own_file) != std::string::npos) throw e;
    std::string also;
    if (!l.malformed.empty())
      also = " (" + std::to_string(l.malformed.size()) +
             " file(s) there could not be read, the first: " + l.malformed.front().what() + ")";
    throw Error(ErrorKind::kNotFound,
                "network " + name + " not found in " + o_.config_dir +
                    ": list the networks with `lcctl network ls`, or create it with `lcctl "
                    "network create`" +
                    also,
                {.op = op});
  }

  // Under the state lock.
  LoadedNetwork FindOrCreateDefault(const std::string& name, const ErrorContext& ectx) {
    try {
      return Find(name, ectx.op.c_str());
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound || name != kDefaultNetwork) throw;
    }
    NetworkCreateOptions o;
    o.subnet = o_.default_subnet;
    o.bridge = o_.default_bridge;
    CreateLocked(name, o);
    return Find(name, ectx.op.c_str());
  }

  // Under the state lock.
  Network CreateLocked(const std::string& name, const NetworkCreateOptions& options) {
    ErrorContext ectx{.op = "CreateNetwork"};
    if (!ValidNetworkName(name))
      throw Error(ErrorKind::kInvalidArgument,
                  "network name \"" + name +
                      "\" is not valid (a letter or digit, then letters, digits, _ . -)",
                  ectx);
    const std::string bridge = options.bridge.empty() ? [&] {
      char buf[16];
      std::snprintf(buf, sizeof buf, "lcd-%08x", Fnv1a(name));
      return std::string(buf);
    }()
                                                      : options.bridge;
    if (!ValidBridgeName(bridge))
      throw Error(ErrorKind::kInvalidArgument,
                  "bridge name \"" + bridge +
                      "\" is not a Linux interface name (1-15 characters of a-z A-Z 0-9 _ . -)",
                  ectx);
    Loaded l = LoadNetworks(o_.config_dir);
    const std::string path = o_.config_dir + "/" + name + ".conflist";
    for (const auto& n : l.networks) {
      if (n.network.name == name)
        throw Error(ErrorKind::kAlreadyExists,
                    "network " + name + " exists already (" + n.network.config_path + ")", ectx);
      if (n.network.bridge == bridge)
        throw Error(ErrorKind::kFailedPrecondition,
                    "bridge " + bridge + " is used by network " + n.network.name +
                        ": choose another bridge name",
                    ectx);
    }
    if (fs::exists(path))
      throw Error(ErrorKind::kAlreadyExists,
                  "file " + path +
                      " exists already (a malformed network?): remove it or choose "
                      "another name",
                  ectx);
    // The subnet: given, or the first free one.
    std::vector<std::pair<Ipv4Net, std::string>> taken;
    for (const auto& n : l.networks) {
      if (n.network.subnet.empty()) continue;
      try {
        taken.push_back({ParseSubnet(n.network.subnet), "network " + n.network.name});
      } catch (const Error&) {
      }
    }
    for (const auto& r : HostRoutes()) taken.push_back({r, "a route of the host"});
    Ipv4Net subnet;
    if (!options.subnet.empty()) {
      subnet = ParseSubnet(options.subnet, "subnet");
      if (subnet.prefix > 30)
        throw Error(ErrorKind::kInvalidArgument,
                    "subnet " + options.subnet + " is too small (a /30 or larger is needed)", ectx);
      for (size_t i = 0; i < taken.size(); ++i) {
        if (!Overlaps(subnet, taken[i].first)) continue;
        throw Error(ErrorKind::kFailedPrecondition,
                    "subnet " + options.subnet + " overlaps " + FormatSubnet(taken[i].first) +
                        " of " + taken[i].second + ": choose another --subnet",
                    ectx);
      }
    } else {
      std::vector<Ipv4Net> nets;
      for (const auto& t : taken) nets.push_back(t.first);
      subnet = ChooseSubnet(nets);
    }
    const uint32_t gateway =
        options.gateway.empty() ? subnet.address + 1 : ParseIpv4(options.gateway, "gateway");
    if (!Contains(subnet, gateway) || gateway == subnet.address)
      throw Error(ErrorKind::kInvalidArgument,
                  "gateway " + FormatIpv4(gateway) + " is not a host address of subnet " +
                      FormatSubnet(subnet),
                  ectx);
    json labels = json::object();
    for (const auto& [k, v] : options.labels) labels[k] = v;
    json ipam = {{"type", "host-local"},
                 {"dataDir", o_.state_dir + "/ipam"},
                 {"ranges", json::array({json::array({{{"subnet", FormatSubnet(subnet)},
                                                       {"gateway", FormatIpv4(gateway)}}})})},
                 {"routes", json::array({{{"dst", "0.0.0.0/0"}}})}};
    json conf = {
        {"cniVersion", kCniVersion},
        {"name", name},
        {kOwnKey, {{"labels", labels}, {"created_by", "libcontainerd"}}},
        {"plugins",
         json::array(
             {{{"type", "bridge"},
               {"bridge", bridge},
               {"isGateway", true},
               {"ipMasq", false},
               {"hairpinMode", true},
               {"ipam", ipam}},
              {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}, {"snat", true}}})}};
    conf[kOwnKey][kNetworkRulesKey] = true;
    cni::ParseConfigList(conf.dump(), path);  // what we write must load
    WriteAtomic(path, conf.dump(2) + "\n", 0644);
    try {
      // Once for the network what bridge's ipMasq and the firewall plugin did per container.
      EnsureNetworkRules({.bridge = bridge, .forward = true, .subnet = FormatSubnet(subnet)});
    } catch (...) {
      ::unlink(path.c_str());
      try {
        RemoveIsolation(bridge);
      } catch (const std::exception&) {
      }
      throw;
    }
    return Find(name, "CreateNetwork").network;
  }

  const ManagerOptions o_;
  std::mutex mu_;                   // with the flock: records and networks
  std::set<std::string> inflight_;  // "ns/id" of Attach calls of this process in progress
};

}  // namespace

std::shared_ptr<Manager> NewManager(const ManagerOptions& options) {
  return std::make_shared<CniManager>(options);
}

}  // namespace libcontainerd::net
