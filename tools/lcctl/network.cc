// lcctl network create|ls|inspect|rm, and the network flags of run and container create
// (--net, -p, --dns, --dns-search, --dns-option, --add-host). Thin over net::Manager
// (include/libcontainerd/net.h): the network commands never talk to containerd.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "common.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/net.h"

namespace lcctl {

namespace lcd = libcontainerd;
namespace net = libcontainerd::net;

std::vector<FlagSpec> NetworkSpecFlags() {
  return {
      {"net", 0, true, "MODE",
       "network: none, host, bridge (the default network), NAME (lcctl network create) or "
       "container:ID; default: the runtime's own namespace with lo only"},
      {"network", 0, true, "MODE", "same as --net"},
      {"publish", 'p', true, "[IP:]HOSTPORT:PORT[/tcp|udp]",
       "publish a container port on the host (repeatable; implies --net bridge)"},
      {"dns", 0, true, "IP", "DNS server in /etc/resolv.conf (repeatable; default: the host's)"},
      {"dns-search", 0, true, "DOMAIN", "DNS search domain in /etc/resolv.conf (repeatable)"},
      {"dns-option", 0, true, "OPT", "option line of /etc/resolv.conf, e.g. ndots:2 (repeatable)"},
      {"add-host", 0, true, "NAME:IP", "add a line to /etc/hosts (repeatable)"},
  };
}

namespace {

const char* ModeName(net::Mode m) {
  switch (m) {
    case net::Mode::kNone:
      return "none";
    case net::Mode::kHost:
      return "host";
    case net::Mode::kBridge:
      return "bridge";
    case net::Mode::kContainer:
      return "container";
  }
  return "unknown";
}

// The value of --net (or its alias --network); empty when neither is given.
std::string NetFlag(const ParsedArgs& a) {
  std::string v = a.Get("net");
  if (a.Has("net") && a.Has("network") && a.Get("network") != v)
    throw UsageError("--net \"" + v + "\" and --network \"" + a.Get("network") +
                     "\" disagree: give one of them");
  if (!a.Has("net")) v = a.Get("network");
  if ((a.Has("net") || a.Has("network")) && v.empty())
    throw UsageError(
        "empty value for --net: use none, host, bridge, a network name or "
        "container:ID");
  return v;
}

}  // namespace

std::optional<net::NetworkRequest> NetworkFromFlags(const ParsedArgs& a) {
  const std::string mode = NetFlag(a);
  const bool files =
      a.Has("dns") || a.Has("dns-search") || a.Has("dns-option") || a.Has("add-host");
  if (mode.empty() && !a.Has("publish") && !files) return std::nullopt;  // the runtime's own
  net::NetworkRequest r;
  if (mode.empty()) {
    // -p: docker's default bridge. DNS files alone: a namespace with lo only, as without
    // --net, plus the files (no network the user did not ask for).
    r.mode = a.Has("publish") ? net::Mode::kBridge : net::Mode::kNone;
  } else if (mode == "none") {
    r.mode = net::Mode::kNone;
  } else if (mode == "host") {
    r.mode = net::Mode::kHost;
  } else if (mode == "bridge" || mode == net::kDefaultNetwork) {
    r.mode = net::Mode::kBridge;
  } else if (mode.rfind("container:", 0) == 0) {
    r.mode = net::Mode::kContainer;
    r.container = mode.substr(10);
    if (r.container.empty())
      throw UsageError("invalid --net \"" + mode + "\": container: needs a container ID");
    CheckId(r.container, "container id in --net container:ID");
  } else {
    r.mode = net::Mode::kBridge;
    r.network = mode;
  }
  for (const auto& p : a.All("publish")) {
    try {
      r.ports.push_back(net::ParsePortMapping(p));
    } catch (const lcd::Error& e) {
      throw UsageError("invalid --publish \"" + p + "\": " + OneLine(e.message()));
    }
  }
  if (!r.ports.empty() && r.mode != net::Mode::kBridge)
    throw UsageError(std::string("--publish needs --net bridge or a network name (not ") +
                     ModeName(r.mode) + "): ports are published through a bridge");
  for (const auto& h : a.All("add-host")) {
    try {
      r.extra_hosts.push_back(net::ParseHostEntry(h));
    } catch (const lcd::Error& e) {
      throw UsageError("invalid --add-host \"" + h + "\": " + OneLine(e.message()));
    }
  }
  for (const auto& [flag, out] : {std::pair{"dns", &r.dns_servers},
                                  {"dns-search", &r.dns_search},
                                  {"dns-option", &r.dns_options}}) {
    for (const auto& v : a.All(flag)) {
      if (v.empty() || v.find_first_of(" \t\n") != std::string::npos)
        throw UsageError(std::string("invalid --") + flag + " \"" + v +
                         "\": expected one word without spaces");
      out->push_back(v);
    }
  }
  r.hostname = a.Get("hostname");
  return r;
}

nlohmann::json AttachmentJson(const net::Attachment& at) {
  nlohmann::json ports = nlohmann::json::array();
  for (const auto& p : at.ports) ports.push_back(net::FormatPortMapping(p));
  nlohmann::json j = {{"mode", ModeName(at.mode)}, {"netns", at.netns_path}};
  if (at.mode == net::Mode::kBridge) j["network"] = at.network;
  if (at.mode == net::Mode::kContainer) j["container"] = at.joined;
  if (!at.interface.empty()) j["interface"] = at.interface;
  if (!at.ip_address.empty()) {
    j["address"] = at.ip_address + "/" + std::to_string(at.prefix_length);
    j["ip_address"] = at.ip_address;
    j["gateway"] = at.gateway;
    j["mac_address"] = at.mac_address;
  }
  j["ports"] = ports;
  j["hostname"] = at.hostname;
  return j;
}

namespace {

nlohmann::json NetworkJson(const net::Network& n) {
  return {{"name", n.name},     {"driver", n.driver},   {"bridge", n.bridge},
          {"subnet", n.subnet}, {"gateway", n.gateway}, {"config_path", n.config_path},
          {"labels", n.labels}};
}

void CheckNetworkName(const std::string& name) {
  if (name.empty() || name.find_first_of("/ \t\n:") != std::string::npos)
    throw UsageError("invalid network name \"" + name +
                     "\": use letters, digits, '.', '_' or '-' (no '/', ':' or spaces)");
}

int Create(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, 1, "network NAME");
  const std::string name = a.positionals[0];
  CheckNetworkName(name);
  net::NetworkCreateOptions o;
  o.subnet = a.Get("subnet");
  o.gateway = a.Get("gateway");
  o.bridge = a.Get("bridge");
  if (a.Has("subnet") && o.subnet.empty()) throw UsageError("empty value for --subnet");
  if (a.Has("gateway") && o.gateway.empty()) throw UsageError("empty value for --gateway");
  if (a.Has("bridge") && o.bridge.empty()) throw UsageError("empty value for --bridge");
  for (const auto& l : a.All("label")) {
    auto eq = l.find('=');
    if (l.empty() || eq == 0) throw UsageError("invalid --label \"" + l + "\": expected KEY=VALUE");
    o.labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  net::Network n = s.net()->CreateNetwork(name, o);
  if (s.globals().json)
    PrintJson(NetworkJson(n));
  else
    std::printf("%s\n", n.name.c_str());
  return 0;
}

int Ls(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 0, 0, "no arguments");
  auto networks = s.net()->ListNetworks();
  if (a.Has("quiet")) {
    for (const auto& n : networks) std::printf("%s\n", n.name.c_str());
    return 0;
  }
  if (s.globals().json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& n : networks) arr.push_back(NetworkJson(n));
    PrintJson(arr);
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"NAME", "DRIVER", "BRIDGE", "SUBNET", "GATEWAY"}};
  auto dash = [](const std::string& v) { return v.empty() ? std::string("-") : v; };
  for (const auto& n : networks)
    rows.push_back({n.name, dash(n.driver), dash(n.bridge), dash(n.subnet), dash(n.gateway)});
  PrintTable(rows);
  return 0;
}

net::Network InspectOrExit(Session& s, const std::string& name) {
  try {
    return s.net()->InspectNetwork(name);
  } catch (const lcd::Error& e) {
    if (lcd::IsNotFound(e))
      throw ExitError(kExitFailure, "network " + name + " not found in " +
                                        s.globals().net_config_dir +
                                        " (create it with 'lcctl network create " + name + "')");
    throw;
  }
}

int Inspect(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, SIZE_MAX, "network NAME");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& name : a.positionals) {
    nlohmann::json j = NetworkJson(InspectOrExit(s, name));
    // The containers of this namespace (-n) attached to it.
    nlohmann::json containers = nlohmann::json::object();
    for (const auto& at : s.net()->List(s.globals().ns))
      if (at.mode == net::Mode::kBridge && at.network == name)
        containers[at.container_id] = AttachmentJson(at);
    j["containers"] = containers;
    out.push_back(j);
  }
  PrintJson(out.size() == 1 ? out[0] : out);
  return 0;
}

int Rm(Session& s, const ParsedArgs& a) {
  NeedArgs(a, 1, SIZE_MAX, "network NAME");
  int rc = 0;
  for (const auto& name : a.positionals) {
    try {
      s.net()->RemoveNetwork(name);
      std::printf("%s\n", name.c_str());
      std::fflush(stdout);
    } catch (const lcd::Error& e) {
      std::string msg = lcd::IsNotFound(e)
                            ? "network " + name + " not found in " + s.globals().net_config_dir
                            : std::string(e.what());
      std::fprintf(stderr, "lcctl: %s\n", OneLine(msg).c_str());
      rc = kExitFailure;
    }
  }
  return rc;
}

}  // namespace

std::vector<Command> NetworkCommands() {
  return {
      {"network create",
       "network create [--subnet CIDR] [--gateway IP] [--bridge NAME] [--label K=V]... NAME",
       "create a bridge network (a CNI .conflist in --net-config-dir); prints its name",
       "  lcctl network create --subnet 10.89.1.0/24 backend\n"
       "  lcctl run -d --net backend -p 8080:80 web1 httpd -f -p 80",
       {{"subnet", 0, true, "CIDR",
         "the network's subnet (default: the first free /24 of 10.88.0.0/16 .. 10.99.0.0/16)"},
        {"gateway", 0, true, "IP", "the bridge's address (default: the subnet's first)"},
        {"bridge", 0, true, "NAME", "Linux bridge name (default: lcd- + 8 hex of the name)"},
        {"label", 0, true, "K=V", "a label of the network (repeatable)"}},
       SIZE_MAX,
       Create},
      {"network ls",
       "network ls [-q]",
       "list networks: NAME DRIVER BRIDGE SUBNET GATEWAY",
       "  lcctl network ls\n  lcctl network ls --json",
       {{"quiet", 'q', false, "", "print only the names"}},
       SIZE_MAX,
       Ls},
      {"network inspect",
       "network inspect NAME...",
       "print networks as JSON, with the containers of the namespace attached to them",
       "  lcctl network inspect backend | jq .subnet",
       {},
       SIZE_MAX,
       Inspect},
      {"network rm",
       "network rm NAME...",
       "remove networks (their .conflist); refused while a container uses one",
       "  lcctl network rm backend",
       {},
       SIZE_MAX,
       Rm},
  };
}

}  // namespace lcctl
