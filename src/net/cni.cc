// The runtime side of CNI 1.0: configuration lists, plugin lookup, plugin execution and
// ADD / CHECK / DEL through a list.
//
// CNI error codes (SPEC 1.0, "Error") and the ErrorKind each becomes:
//
// | code | meaning (SPEC)                                  | ErrorKind        |
// | ---- | ----------------------------------------------- | ---------------- |
// | 1    | incompatible CNI version                        | kInvalidArgument |
// | 2    | unsupported field in network configuration      | kInvalidArgument |
// | 3    | container unknown or does not exist             | kNotFound        |
// | 4    | invalid necessary environment variables         | kInvalidArgument |
// | 5    | I/O failure                                     | kUnknown         |
// | 6    | failed to decode content                        | kInvalidArgument |
// | 7    | invalid network config                          | kInvalidArgument |
// | 11   | try again later                                 | kUnavailable     |
// | other (0, 100+ plugin-specific)                        | kUnknown         |
//
// On DEL, code 3 is not an error: the SPEC says it means there is nothing to clean up.
// A plugin that fails without error JSON on stdout gives kUnknown with its stderr text; one
// killed at the Invocation's timeout gives kDeadlineExceeded.
#include "net/cni.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "libcontainerd/errors.h"
#include "libcontainerd/fd.h"
#include "libcontainerd/log.h"

namespace libcontainerd::net::cni {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxOutput = 4 << 20;      // bytes kept of a plugin's stdout / stderr
constexpr size_t kMaxConfigFile = 1 << 20;  // a .conflist larger than this is refused
constexpr const char* kPackage = "containernetworking-plugins";

// ---------------------------------------------------------------------------------------------
// Configuration lists

[[noreturn]] void BadConfig(const std::string& source, const std::string& field,
                            const std::string& what) {
  throw Error(ErrorKind::kInvalidArgument, source + ": " + field + ": " + what,
              {.op = "CNI config"});
}

std::string TypeName(const json& j) { return j.type_name(); }

// "1.0.0", "0.4.0": three dot-separated numbers.
std::optional<std::array<int, 3>> ParseVersion(const std::string& v) {
  std::array<int, 3> out{};
  size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    size_t start = pos;
    while (pos < v.size() && v[pos] >= '0' && v[pos] <= '9' && pos - start < 6) ++pos;
    if (pos == start) return std::nullopt;
    out[i] = std::atoi(v.substr(start, pos - start).c_str());
    if (i < 2) {
      if (pos >= v.size() || v[pos] != '.') return std::nullopt;
      ++pos;
    }
  }
  if (pos != v.size()) return std::nullopt;
  return out;
}

// The SPEC's network name: an alphanumeric, then alphanumerics, '_', '.' or '-'.
bool ValidNetworkName(const std::string& n) {
  if (n.empty() || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

std::string LineColumn(std::string_view text, size_t byte) {
  // nlohmann's byte is 1-based and points at the last character read.
  size_t end = std::min(byte > 0 ? byte - 1 : 0, text.size());
  size_t line = 1, col = 1;
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// nlohmann's text without its "[json.exception...] parse error at line L, column C: " prefix.
std::string ParseErrorReason(const std::string& what) {
  auto col = what.find("column ");
  if (col != std::string::npos) {
    auto colon = what.find(": ", col);
    if (colon != std::string::npos) return what.substr(colon + 2);
  }
  return what;
}

// Plugin output made fit for a one-line message: control bytes to spaces, trimmed, cut.
std::string Clean(std::string_view s, size_t max = 2000) {
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
    if (out.size() >= max) {
      out += "...";
      break;
    }
  }
  auto b = out.find_first_not_of(' ');
  if (b == std::string::npos) return {};
  auto e = out.find_last_not_of(' ');
  return out.substr(b, e - b + 1);
}

bool Blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; });
}

// ---------------------------------------------------------------------------------------------
// Running a plugin

ErrorKind KindOfCode(int64_t code) {
  switch (code) {
    case 1:  // incompatible CNI version
    case 2:  // unsupported field in network configuration
    case 4:  // invalid necessary environment variables
    case 6:  // failed to decode content
    case 7:  // invalid network config
      return ErrorKind::kInvalidArgument;
    case 3:  // container unknown or does not exist
      return ErrorKind::kNotFound;
    case 11:  // try again later
      return ErrorKind::kUnavailable;
    default:  // 5 (I/O failure), 0, plugin-specific codes
      return ErrorKind::kUnknown;
  }
}

struct PluginError {
  Error error;
  int64_t code = -1;  // the CNI code, -1 when the plugin gave none
};

std::string PluginLabel(const std::string& type, const ConfigList& list) {
  return "CNI plugin \"" + type + "\" (network \"" + list.name + "\")";
}

PluginError FailureOf(const std::string& command, const std::string& type, const ConfigList& list,
                      const RuntimeConf& rt, const std::string& binary, const Outcome& out,
                      std::chrono::milliseconds timeout) {
  ErrorContext ectx{.op = "CNI " + command, .container_id = rt.container_id, .path = binary};
  std::string label = PluginLabel(type, list);
  if (out.timed_out) {
    return {Error(ErrorKind::kDeadlineExceeded,
                  label + ": " + command + " did not finish within " +
                      std::to_string(timeout.count()) + " ms; the plugin was killed",
                  ectx)};
  }
  // The SPEC's error: {"cniVersion", "code", "msg", "details"} on stdout.
  json j = json::parse(out.stdout_data, nullptr, false);
  if (j.is_object() && j.contains("code") && j["code"].is_number_integer()) {
    int64_t code = j["code"].get<int64_t>();
    std::string msg = j.contains("msg") && j["msg"].is_string() ? j["msg"].get<std::string>() : "";
    std::string details =
        j.contains("details") && j["details"].is_string() ? j["details"].get<std::string>() : "";
    std::string m = label + ": " + command + " failed: " + (msg.empty() ? "(no msg)" : Clean(msg));
    if (!details.empty()) m += ": " + Clean(details);
    m += " (CNI code " + std::to_string(code) + ")";
    return {Error(KindOfCode(code), m, ectx), code};
  }
  std::string text = Clean(out.stderr_data);
  if (text.empty()) text = Clean(out.stdout_data);
  if (text.empty()) text = "no output";
  std::string how = out.exit_code >= 0 ? "exit status " + std::to_string(out.exit_code)
                                       : std::string("killed by a signal");
  return {
      Error(ErrorKind::kUnknown, label + ": " + command + " failed (" + how + "): " + text, ectx)};
}

// The network configuration one plugin reads: its own object with the list's cniVersion and
// name, prevResult, and runtimeConfig for the capabilities it declares ("capabilities" removed).
json PluginConfig(const ConfigList& list, const json& plugin, const json& prev,
                  const json& capability_args) {
  json conf = plugin;
  conf["cniVersion"] = list.cni_version;
  conf["name"] = list.name;
  json runtime_config = json::object();
  if (auto rc = conf.find("runtimeConfig"); rc != conf.end() && rc->is_object())
    runtime_config = *rc;
  if (auto caps = plugin.find("capabilities"); caps != plugin.end() && caps->is_object()) {
    for (const auto& [key, on] : caps->items()) {
      if (!on.is_boolean() || !on.get<bool>() || !capability_args.is_object()) continue;
      if (auto arg = capability_args.find(key); arg != capability_args.end())
        runtime_config[key] = *arg;
    }
  }
  conf.erase("capabilities");
  if (!runtime_config.empty()) conf["runtimeConfig"] = runtime_config;
  if (prev.is_null()) {
    conf.erase("prevResult");
  } else {
    conf["prevResult"] = prev;
  }
  return conf;
}

void ValidateRuntimeConf(const RuntimeConf& rt, bool need_netns, const std::string& op) {
  auto bad = [&](const std::string& m) {
    throw Error(ErrorKind::kInvalidArgument, m, {.op = op, .container_id = rt.container_id});
  };
  // SPEC: the container id is non-empty, alphanumerics, '_', '.' and '-'.
  if (rt.container_id.empty()) bad("container id: empty");
  for (char c : rt.container_id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      bad("container id: only letters, digits, '_', '.' and '-' are allowed for CNI");
  }
  if (rt.ifname.empty() || rt.ifname.size() > 15 || rt.ifname == "." || rt.ifname == ".." ||
      rt.ifname.find_first_of("/: \t\n") != std::string::npos)
    bad("interface name \"" + Clean(rt.ifname, 40) +
        "\": must be 1-15 characters without '/', ':' or spaces");
  if (need_netns && rt.netns.empty()) bad("network namespace path: empty");
  if (!rt.netns.empty() && rt.netns[0] != '/')
    bad("network namespace path \"" + Clean(rt.netns, 200) + "\": not absolute");
  if (rt.netns.find('\0') != std::string::npos) bad("network namespace path: contains NUL");
  for (const auto& [k, v] : rt.args) {
    if (k.empty() || k.find_first_of("=;") != std::string::npos ||
        k.find('\0') != std::string::npos)
      bad("CNI_ARGS key \"" + Clean(k, 60) + "\": must be non-empty without '=' or ';'");
    if (v.find(';') != std::string::npos || v.find('\0') != std::string::npos)
      bad("CNI_ARGS value of " + k + ": must not contain ';'");
  }
}

std::vector<std::string> PluginEnv(const std::string& command, const RuntimeConf& rt,
                                   const std::string& cni_path) {
  std::vector<std::string> env;
  env.push_back("CNI_COMMAND=" + command);
  env.push_back("CNI_CONTAINERID=" + rt.container_id);
  // On DEL the namespace may be gone: the variable is then left out, as the SPEC allows.
  if (!rt.netns.empty()) env.push_back("CNI_NETNS=" + rt.netns);
  env.push_back("CNI_IFNAME=" + rt.ifname);
  std::string args;
  for (const auto& [k, v] : rt.args) args += (args.empty() ? "" : ";") + k + "=" + v;
  if (!args.empty()) env.push_back("CNI_ARGS=" + args);
  env.push_back("CNI_PATH=" + cni_path);
  // portmap and firewall run iptables through PATH.
  const char* path = std::getenv("PATH");
  env.push_back(
      std::string("PATH=") +
      (path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
  return env;
}

std::string JoinDirs(const std::vector<std::string>& dirs) {
  std::string s;
  for (const auto& d : dirs) s += (s.empty() ? "" : ":") + d;
  return s;
}

struct Step {
  const std::string& command;
  const ConfigList& list;
  const RuntimeConf& rt;
  const Executor& exec;
  const std::string& cni_path;
};

// Runs one plugin. Returns its stdout on success; throws PluginError when it failed.
std::string RunPlugin(const Context& ctx, const Step& s, const std::string& binary,
                      const json& plugin, const json& prev) {
  const std::string type = plugin["type"].get<std::string>();
  Invocation inv;
  inv.binary = binary;
  inv.env = PluginEnv(s.command, s.rt, s.cni_path);
  inv.stdin_data = PluginConfig(s.list, plugin, prev, s.rt.capability_args).dump();
  Outcome out = s.exec(ctx, inv);
  if (out.exit_code == 0 && !out.timed_out) return std::move(out.stdout_data);
  throw FailureOf(s.command, type, s.list, s.rt, binary, out, inv.timeout);
}

json ParseOutput(const std::string& out, const std::string& type, const ConfigList& list,
                 const RuntimeConf& rt, const std::string& binary) {
  ErrorContext ectx{.op = "CNI ADD", .container_id = rt.container_id, .path = binary};
  if (Blank(out))
    throw Error(ErrorKind::kUnknown,
                PluginLabel(type, list) + ": ADD succeeded but printed no result", ectx);
  json j = json::parse(out, nullptr, false);
  if (j.is_discarded())
    throw Error(
        ErrorKind::kUnknown,
        PluginLabel(type, list) + ": ADD printed a result that is not JSON: " + Clean(out, 300),
        ectx);
  ParseResult(j, type);  // throws when malformed
  return j;
}

// ---------------------------------------------------------------------------------------------
// Process plumbing

void SetNonBlocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

// An fd numbered 3 or above (a child end that will be dup2'd onto 0-2 must not be one of them).
UniqueFd AboveStdio(UniqueFd fd, const std::string& binary) {
  if (fd.get() > 2) return fd;
  int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0)
    ThrowErrno(ErrorKind::kUnknown, errno, "move pipe fd", {.op = "CNI exec", .path = binary});
  return UniqueFd(moved);
}

void Pipe(UniqueFd& r, UniqueFd& w, const std::string& binary) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    ThrowErrno(ErrorKind::kUnknown, errno, "pipe2", {.op = "CNI exec", .path = binary});
  r.reset(p[0]);
  w.reset(p[1]);
}

// Reads what is there; false at EOF or a hard error.
bool ReadSome(int fd, std::string& into) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      if (into.size() < kMaxOutput)
        into.append(buf, std::min(static_cast<size_t>(n), kMaxOutput - into.size()));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
}

class SpawnSetup {
 public:
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&fa_);
    ::posix_spawnattr_init(&attr_);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&fa_);
    ::posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  posix_spawn_file_actions_t fa_;
  posix_spawnattr_t attr_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

ConfigList ParseConfigList(std::string_view text, const std::string& source) {
  json raw;
  try {
    raw = json::parse(text);
  } catch (const json::parse_error& e) {
    BadConfig(source, "malformed JSON at " + LineColumn(text, e.byte), ParseErrorReason(e.what()));
  }
  if (!raw.is_object())
    BadConfig(source, "top level",
              "a " + TypeName(raw) +
                  ", not an object (a .conflist is an object with cniVersion, name and plugins)");
  ConfigList list;
  list.source = source;

  auto v = raw.find("cniVersion");
  if (v == raw.end()) BadConfig(source, "cniVersion", "missing (e.g. \"1.0.0\")");
  if (!v->is_string()) BadConfig(source, "cniVersion", "a " + TypeName(*v) + ", not a string");
  list.cni_version = v->get<std::string>();
  if (!ParseVersion(list.cni_version))
    BadConfig(source, "cniVersion",
              "\"" + Clean(list.cni_version, 40) + "\" is not a version (e.g. \"1.0.0\")");

  auto n = raw.find("name");
  if (n == raw.end()) BadConfig(source, "name", "missing (the network's name)");
  if (!n->is_string()) BadConfig(source, "name", "a " + TypeName(*n) + ", not a string");
  list.name = n->get<std::string>();
  if (!ValidNetworkName(list.name))
    BadConfig(source, "name",
              "\"" + Clean(list.name, 80) +
                  "\": must start with a letter or digit, then letters, digits, '_', '.' or '-'");

  if (auto d = raw.find("disableCheck"); d != raw.end()) {
    if (!d->is_boolean())
      BadConfig(source, "disableCheck", "a " + TypeName(*d) + ", not a boolean");
    list.disable_check = d->get<bool>();
  }

  auto p = raw.find("plugins");
  if (p == raw.end())
    BadConfig(source, "plugins",
              "missing (a .conflist lists its plugins; a single-plugin .conf is not read)");
  if (!p->is_array()) BadConfig(source, "plugins", "a " + TypeName(*p) + ", not an array");
  if (p->empty()) BadConfig(source, "plugins", "empty (a list needs at least one plugin)");
  for (size_t i = 0; i < p->size(); ++i) {
    const json& plugin = (*p)[i];
    std::string field = "plugins[" + std::to_string(i) + "]";
    if (!plugin.is_object()) BadConfig(source, field, "a " + TypeName(plugin) + ", not an object");
    auto t = plugin.find("type");
    if (t == plugin.end())
      BadConfig(source, field + ".type", "missing (each plugin needs a string type)");
    if (!t->is_string() || t->get<std::string>().empty())
      BadConfig(source, field + ".type",
                t->is_string() ? std::string("empty (each plugin needs a string type)")
                               : "a " + TypeName(*t) + ", not a string");
    if (auto c = plugin.find("capabilities"); c != plugin.end() && !c->is_object())
      BadConfig(source, field + ".capabilities", "a " + TypeName(*c) + ", not an object");
    list.plugins.push_back(plugin);
  }
  list.raw = std::move(raw);
  return list;
}

ConfigList LoadConfigList(const std::string& path) {
  ErrorContext ectx{.op = "CNI config", .path = path};
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    ThrowErrno(err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kFailedPrecondition, err,
               "open network configuration list " + path, ectx);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) ThrowErrno(ErrorKind::kUnknown, errno, "stat " + path, ectx);
  if (!S_ISREG(st.st_mode))
    throw Error(ErrorKind::kInvalidArgument, path + ": not a regular file", ectx);
  if (static_cast<size_t>(st.st_size) > kMaxConfigFile)
    throw Error(ErrorKind::kInvalidArgument,
                path + ": " + std::to_string(st.st_size) +
                    " bytes, more than a .conflist may be (" + std::to_string(kMaxConfigFile) + ")",
                ectx);
  std::string text;
  for (;;) {
    char buf[8192];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno(ErrorKind::kUnknown, errno, "read " + path, ectx);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxConfigFile)
      throw Error(ErrorKind::kInvalidArgument, path + ": larger than a .conflist may be", ectx);
  }
  return ParseConfigList(text, path);
}

std::vector<ConfigList> LoadConfigDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> files;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return {};
    ThrowErrno(ErrorKind::kFailedPrecondition, ec.value(),
               "read network configuration directory " + dir, {.op = "CNI config", .path = dir});
  }
  for (const auto& entry : it) {
    const auto& p = entry.path();
    if (p.extension() == ".conflist" && !p.filename().string().starts_with("."))
      files.push_back(p.string());
  }
  std::sort(files.begin(), files.end());
  std::vector<ConfigList> lists;
  for (const auto& f : files) lists.push_back(LoadConfigList(f));
  return lists;
}

namespace {
bool IdlePortmap(const json& plugin) {
  auto t = plugin.find("type");
  if (t == plugin.end() || !t->is_string() || t->get<std::string>() != "portmap") return false;
  auto rc = plugin.find("runtimeConfig");
  return !(rc != plugin.end() && rc->is_object() && rc->contains("portMappings"));
}
}  // namespace

ConfigList WithoutIdlePortmap(const ConfigList& list) {
  const auto& ps = list.plugins;
  if (std::none_of(ps.begin(), ps.end(), IdlePortmap) ||
      std::all_of(ps.begin(), ps.end(), IdlePortmap))
    return list;
  ConfigList out = list;
  out.plugins.clear();
  json plugins = json::array();
  for (const auto& p : ps) {
    if (IdlePortmap(p)) continue;
    out.plugins.push_back(p);
    plugins.push_back(p);
  }
  if (out.raw.is_object()) out.raw["plugins"] = std::move(plugins);
  return out;
}

Result ParseResult(const json& raw, const std::string& plugin) {
  auto bad = [&](const std::string& what) {
    return Error(ErrorKind::kUnknown, "CNI plugin \"" + plugin + "\": malformed result: " + what,
                 {.op = "CNI result"});
  };
  if (!raw.is_object()) throw bad("a " + TypeName(raw) + ", not an object");
  Result r;
  r.raw = raw;
  auto optional_string = [&](const json& obj, const char* key, const std::string& field) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::string();
    if (!it->is_string()) throw bad(field + "." + key + ": not a string");
    return it->get<std::string>();
  };
  if (auto ifs = raw.find("interfaces"); ifs != raw.end() && !ifs->is_null()) {
    if (!ifs->is_array()) throw bad("interfaces: not an array");
    for (size_t i = 0; i < ifs->size(); ++i) {
      const json& e = (*ifs)[i];
      std::string field = "interfaces[" + std::to_string(i) + "]";
      if (!e.is_object()) throw bad(field + ": not an object");
      Interface itf;
      itf.name = optional_string(e, "name", field);
      if (itf.name.empty()) throw bad(field + ".name: missing");
      itf.mac = optional_string(e, "mac", field);
      itf.sandbox = optional_string(e, "sandbox", field);
      r.interfaces.push_back(std::move(itf));
    }
  }
  if (auto ips = raw.find("ips"); ips != raw.end() && !ips->is_null()) {
    if (!ips->is_array()) throw bad("ips: not an array");
    for (size_t i = 0; i < ips->size(); ++i) {
      const json& e = (*ips)[i];
      std::string field = "ips[" + std::to_string(i) + "]";
      if (!e.is_object()) throw bad(field + ": not an object");
      IpConfig ip;
      ip.address = optional_string(e, "address", field);
      if (ip.address.empty()) throw bad(field + ".address: missing");
      ip.gateway = optional_string(e, "gateway", field);
      // "version" ("4"/"6") is in 0.3.x / 0.4.0 results and dropped in 1.0: not needed.
      if (auto idx = e.find("interface"); idx != e.end() && !idx->is_null()) {
        if (!idx->is_number_integer()) throw bad(field + ".interface: not an integer");
        auto n = idx->get<int64_t>();
        if (n < 0 || static_cast<size_t>(n) >= r.interfaces.size())
          throw bad(field + ".interface: " + std::to_string(n) +
                    " is not an index of interfaces (" + std::to_string(r.interfaces.size()) + ")");
        ip.interface = static_cast<int>(n);
      }
      r.ips.push_back(std::move(ip));
    }
  } else {
    // 0.1.0 / 0.2.0 results: "ip4" / "ip6" objects with "ip" and "gateway".
    for (const char* key : {"ip4", "ip6"}) {
      auto it = raw.find(key);
      if (it == raw.end() || it->is_null()) continue;
      if (!it->is_object()) throw bad(std::string(key) + ": not an object");
      IpConfig ip;
      ip.address = optional_string(*it, "ip", key);
      if (ip.address.empty()) throw bad(std::string(key) + ".ip: missing");
      ip.gateway = optional_string(*it, "gateway", key);
      r.ips.push_back(std::move(ip));
    }
  }
  return r;
}

Outcome ExecPlugin(const Context& ctx, const Invocation& inv) {
  const ErrorContext ectx{.op = "CNI exec", .path = inv.binary};
  ctx.ThrowIfDone("CNI exec");
  Clock::time_point deadline = Clock::now() + inv.timeout;
  bool ctx_bound = false;
  if (auto d = ctx.deadline(); d && *d <= deadline) {
    deadline = *d;
    ctx_bound = true;
  }

  // stdin is a socket so that a plugin closing it early gives EPIPE on send (MSG_NOSIGNAL), not
  // a SIGPIPE to this process. Every fd is O_CLOEXEC; the child gets only 0-2 (closefrom 3).
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
    ThrowErrno(ErrorKind::kUnknown, errno, "socketpair", ectx);
  UniqueFd in_w(sp[0]), in_r(sp[1]);
  UniqueFd out_r, out_w, err_r, err_w, wake_r, wake_w;
  Pipe(out_r, out_w, inv.binary);
  Pipe(err_r, err_w, inv.binary);
  Pipe(wake_r, wake_w, inv.binary);
  in_r = AboveStdio(std::move(in_r), inv.binary);
  out_w = AboveStdio(std::move(out_w), inv.binary);
  err_w = AboveStdio(std::move(err_w), inv.binary);
  SetNonBlocking(in_w.get());
  SetNonBlocking(out_r.get());
  SetNonBlocking(err_r.get());
  SetNonBlocking(wake_r.get());
  SetNonBlocking(wake_w.get());

  pid_t pid = -1;
  {
    SpawnSetup s;
    ::posix_spawn_file_actions_adddup2(&s.fa_, in_r.get(), 0);
    ::posix_spawn_file_actions_adddup2(&s.fa_, out_w.get(), 1);
    ::posix_spawn_file_actions_adddup2(&s.fa_, err_w.get(), 2);
    ::posix_spawn_file_actions_addclosefrom_np(&s.fa_, 3);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    ::posix_spawnattr_setsigmask(&s.attr_, &none);
    ::posix_spawnattr_setsigdefault(&s.attr_, &all);
    // Its own process group, so a timeout kills what it started too (iptables, ...).
    ::posix_spawnattr_setpgroup(&s.attr_, 0);
    ::posix_spawnattr_setflags(
        &s.attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    std::vector<char*> argv{const_cast<char*>(inv.binary.c_str()), nullptr};
    std::vector<char*> envp;
    for (const auto& e : inv.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    int rc = ::posix_spawn(&pid, inv.binary.c_str(), &s.fa_, &s.attr_, argv.data(), envp.data());
    if (rc != 0) {
      ErrorKind kind = rc == ENOENT ? ErrorKind::kNotFound
                       : (rc == EACCES || rc == ENOEXEC || rc == EPERM)
                           ? ErrorKind::kFailedPrecondition
                           : ErrorKind::kUnknown;
      ThrowErrno(kind, rc, "run CNI plugin " + inv.binary, ectx);
    }
  }
  in_r.reset();
  out_w.reset();
  err_w.reset();

  // glibc 2.36 declares pidfd_open without C linkage for C++: the system call itself.
  UniqueFd pidfd(
      static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));  // readable when the plugin exits
  Context::Registration wake;
  {
    int w = wake_w.get();
    wake = ctx.OnCancel([w] {
      char c = 1;
      [[maybe_unused]] ssize_t n = ::write(w, &c, 1);
    });
  }

  Outcome out;
  size_t in_off = 0;
  if (inv.stdin_data.empty()) in_w.reset();
  int status = 0;
  bool exited = false, cancelled = false, timed_out = false;
  while (!exited) {
    std::array<pollfd, 5> fds{};
    nfds_t n = 0;
    int i_out = -1, i_err = -1, i_in = -1, i_pid = -1;
    if (out_r) i_out = static_cast<int>(n), fds[n++] = {out_r.get(), POLLIN, 0};
    if (err_r) i_err = static_cast<int>(n), fds[n++] = {err_r.get(), POLLIN, 0};
    if (in_w) i_in = static_cast<int>(n), fds[n++] = {in_w.get(), POLLOUT, 0};
    if (pidfd) i_pid = static_cast<int>(n), fds[n++] = {pidfd.get(), POLLIN, 0};
    int i_wake = static_cast<int>(n);
    fds[n++] = {wake_r.get(), POLLIN, 0};

    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    int wait_ms = static_cast<int>(std::min<long long>(left, pidfd ? 3600000 : 20));
    int pr = ::poll(fds.data(), n, wait_ms);
    if (pr < 0 && errno != EINTR) {
      timed_out = true;  // cannot wait: treat as a kill
      break;
    }
    if (pr > 0) {
      if (fds[i_wake].revents) {
        cancelled = true;
        break;
      }
      if (i_out >= 0 && fds[i_out].revents && !ReadSome(out_r.get(), out.stdout_data))
        out_r.reset();
      if (i_err >= 0 && fds[i_err].revents && !ReadSome(err_r.get(), out.stderr_data))
        err_r.reset();
      if (i_in >= 0 && fds[i_in].revents) {
        if (fds[i_in].revents & (POLLERR | POLLHUP)) {
          in_w.reset();  // the plugin closed its stdin
        } else {
          size_t chunk = std::min<size_t>(inv.stdin_data.size() - in_off, 65536);
          ssize_t w = ::send(in_w.get(), inv.stdin_data.data() + in_off, chunk,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
          if (w > 0) in_off += static_cast<size_t>(w);
          if ((w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
              in_off == inv.stdin_data.size())
            in_w.reset();  // all written (EOF for the plugin) or the plugin went away
        }
      }
    }
    if (!pidfd || (i_pid >= 0 && fds[i_pid].revents)) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid || (w < 0 && errno == ECHILD)) {
        exited = true;
        if (w < 0) status = -1;
      }
    }
  }

  if (!exited) {
    // The group first, while the plugin (its leader) is not reaped and the group id is ours.
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    status = -1;
  } else {
    // What the plugin wrote before it exited is in the pipes; grandchildren are not waited for.
    if (out_r) ReadSome(out_r.get(), out.stdout_data);
    if (err_r) ReadSome(err_r.get(), out.stderr_data);
  }
  wake = Context::Registration();  // before wake_w closes

  if (cancelled || ctx.cancelled())
    throw Error(ErrorKind::kCancelled,
                "cancelled while CNI plugin " + inv.binary + " ran; it was killed", ectx);
  if (timed_out && ctx_bound)
    throw Error(ErrorKind::kDeadlineExceeded,
                "the deadline passed while CNI plugin " + inv.binary + " ran; it was killed", ectx);
  out.timed_out = timed_out;
  out.exit_code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  return out;
}

Runtime::Runtime(std::vector<std::string> plugin_dirs, Executor exec)
    : dirs_(std::move(plugin_dirs)), exec_(exec ? std::move(exec) : Executor(ExecPlugin)) {}

std::string Runtime::FindPlugin(const std::string& type) const {
  if (type.empty() || type == "." || type.find('/') != std::string::npos ||
      type.find("..") != std::string::npos || type.find('\0') != std::string::npos)
    throw Error(
        ErrorKind::kInvalidArgument,
        "CNI plugin type \"" + Clean(type, 80) + "\": must be a plain file name (no '/' or '..')",
        {.op = "CNI"});
  std::string not_executable;
  for (const auto& dir : dirs_) {
    if (dir.empty()) continue;
    std::error_code ec;
    std::string base = std::filesystem::absolute(dir, ec).string();
    if (ec) continue;
    std::string path = base + "/" + type;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::access(path.c_str(), X_OK) == 0) return path;
    if (not_executable.empty()) not_executable = path;
  }
  if (!not_executable.empty())
    throw Error(ErrorKind::kFailedPrecondition,
                "CNI plugin \"" + type + "\": " + not_executable + " is not executable",
                {.op = "CNI", .path = not_executable});
  throw Error(ErrorKind::kNotFound,
              "CNI plugin \"" + type + "\" not found in " +
                  (dirs_.empty() ? std::string("(no plugin directories)") : JoinDirs(dirs_)) +
                  "; install Debian's " + kPackage + " package (apt-get install " + kPackage +
                  ") or add the plugin's directory to the plugin path",
              {.op = "CNI"});
}

Result Runtime::Add(const Context& ctx, const ConfigList& list, const RuntimeConf& rt) {
  ValidateRuntimeConf(rt, true, "CNI ADD");
  // Every binary is found before anything runs: a missing plugin leaves nothing to undo.
  std::vector<std::string> binaries;
  for (const auto& p : list.plugins) binaries.push_back(FindPlugin(p["type"].get<std::string>()));
  const std::string cni_path = JoinDirs(dirs_);
  static const std::string kAdd = "ADD", kDel = "DEL";
  Step add{kAdd, list, rt, exec_, cni_path};
  json prev;  // null: the first plugin gets no prevResult
  for (size_t i = 0; i < list.plugins.size(); ++i) {
    const std::string type = list.plugins[i]["type"].get<std::string>();
    try {
      std::string out = RunPlugin(ctx, add, binaries[i], list.plugins[i], prev);
      prev = ParseOutput(out, type, list, rt, binaries[i]);
    } catch (...) {
      // Undo: DEL of this plugin (it may have half set up) and those before it, in reverse
      // order, under a Context of its own (the caller's may be what ended the ADD).
      Context undo;
      Step del{kDel, list, rt, exec_, cni_path};
      for (size_t j = i + 1; j-- > 0;) {
        try {
          RunPlugin(undo, del, binaries[j], list.plugins[j], prev);
        } catch (const PluginError& pe) {
          if (pe.code != 3)
            Log(LogLevel::kWarning, std::string("undoing CNI ADD: ") + pe.error.what());
        } catch (const Error& e) {
          Log(LogLevel::kWarning, std::string("undoing CNI ADD: ") + e.what());
        }
      }
      try {
        throw;
      } catch (const PluginError& pe) {
        throw pe.error;
      }
    }
  }
  return ParseResult(prev, list.plugins.back()["type"].get<std::string>());
}

void Runtime::Check(const Context& ctx, const ConfigList& list, const RuntimeConf& rt,
                    const json& prev_result) {
  if (list.disable_check) return;
  auto v = ParseVersion(list.cni_version);
  if (!v || *v < std::array<int, 3>{0, 4, 0})
    throw Error(ErrorKind::kNotImplemented,
                "network \"" + list.name + "\" has cniVersion " + list.cni_version +
                    ", which has no CHECK (0.4.0 or later has)",
                {.op = "CNI CHECK", .container_id = rt.container_id, .path = list.source});
  if (prev_result.is_null())
    throw Error(ErrorKind::kInvalidArgument,
                "CHECK of network \"" + list.name + "\" needs the result of its ADD",
                {.op = "CNI CHECK", .container_id = rt.container_id});
  ValidateRuntimeConf(rt, true, "CNI CHECK");
  std::vector<std::string> binaries;
  for (const auto& p : list.plugins) binaries.push_back(FindPlugin(p["type"].get<std::string>()));
  const std::string cni_path = JoinDirs(dirs_);
  static const std::string kCheck = "CHECK";
  Step check{kCheck, list, rt, exec_, cni_path};
  for (size_t i = 0; i < list.plugins.size(); ++i) {
    try {
      RunPlugin(ctx, check, binaries[i], list.plugins[i], prev_result);
    } catch (const PluginError& pe) {
      throw pe.error;
    }
  }
}

void Runtime::Del(const Context& ctx, const ConfigList& list, const RuntimeConf& rt,
                  const json& prev_result) {
  ValidateRuntimeConf(rt, false, "CNI DEL");
  const std::string cni_path = JoinDirs(dirs_);
  static const std::string kDel = "DEL";
  Step del{kDel, list, rt, exec_, cni_path};
  std::optional<Error> first;
  for (size_t i = list.plugins.size(); i-- > 0;) {
    try {
      std::string binary = FindPlugin(list.plugins[i]["type"].get<std::string>());
      RunPlugin(ctx, del, binary, list.plugins[i], prev_result);
    } catch (const PluginError& pe) {
      if (pe.code == 3) continue;  // "container unknown": nothing to clean up
      if (!first) first = pe.error;
    } catch (const Error& e) {
      if (!first) first = e;
    }
  }
  if (first) throw *first;
}

}  // namespace libcontainerd::net::cni
