// lcd-engine: docker's /networks endpoints over libcontainerd's net::Manager.
//
// Networks are the Manager's CNI networks plus docker's two predefined ones that need no CNI
// network: "host" (driver host) and "none" (driver null). The Manager's default network
// "bridge" is docker's default bridge; it is created when first listed. A network's Id is the
// hex SHA-256 of its name (stable across restarts, 64 characters as docker's).
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>

#include "engine.h"
#include "libcontainerd/errors.h"

namespace lcde {
namespace {

using json = nlohmann::ordered_json;
namespace lnet = libcontainerd::net;

// ---- SHA-256 (FIPS 180-4), for the network ids -----------------------------------------

class Sha256 {
 public:
  static std::string Hex(std::string_view data) {
    Sha256 h;
    h.Update(data);
    std::array<uint8_t, 32> d = h.Final();
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (uint8_t b : d) {
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
    return out;
  }

 private:
  static uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void Block(const uint8_t* p) {
    static constexpr uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = (uint32_t{p[4 * i]} << 24) | (uint32_t{p[4 * i + 1]} << 16) |
             (uint32_t{p[4 * i + 2]} << 8) | uint32_t{p[4 * i + 3]};
    }
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t t1 =
          h + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  void Update(std::string_view data) {
    for (char ch : data) {
      buf_[len_ % 64] = static_cast<uint8_t>(ch);
      ++len_;
      if (len_ % 64 == 0) Block(buf_);
    }
  }

  std::array<uint8_t, 32> Final() {
    const uint64_t bits = len_ * 8;
    Update(std::string_view("\x80", 1));
    while (len_ % 64 != 56) Update(std::string_view("\0", 1));
    char lenbuf[8];
    for (int i = 0; i < 8; ++i) lenbuf[i] = static_cast<char>(bits >> (56 - 8 * i));
    Update(std::string_view(lenbuf, 8));
    std::array<uint8_t, 32> out{};
    for (int i = 0; i < 8; ++i) {
      out[4 * i] = static_cast<uint8_t>(h_[i] >> 24);
      out[4 * i + 1] = static_cast<uint8_t>(h_[i] >> 16);
      out[4 * i + 2] = static_cast<uint8_t>(h_[i] >> 8);
      out[4 * i + 3] = static_cast<uint8_t>(h_[i]);
    }
    return out;
  }

  uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  uint8_t buf_[64] = {};
  uint64_t len_ = 0;
};

// ---- the networks as docker shows them ---------------------------------------------------

struct NetView {
  std::string name;
  std::string id;
  std::string driver;  // "bridge", "host", "null", or a user conflist's first plugin
  std::string bridge;
  std::string subnet;
  std::string gateway;
  std::string created;
  std::map<std::string, std::string> labels;
  bool predefined = false;  // bridge, host, none
};

bool IsPredefined(const std::string& name) {
  return name == lnet::kDefaultNetwork || name == "host" || name == "none";
}

std::string NetworkId(const std::string& name) { return Sha256::Hex(name); }

std::string FileTime(const std::string& path, const Engine& engine) {
  struct stat st {};
  if (!path.empty() && ::stat(path.c_str(), &st) == 0) {
    auto t = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(st.st_mtim.tv_sec) +
            std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    return Rfc3339Nano(t);
  }
  return Rfc3339Nano(engine.started());
}

NetView FromManager(const lnet::Network& n, const Engine& engine) {
  NetView v;
  v.name = n.name;
  v.id = NetworkId(n.name);
  v.driver = n.driver.empty() ? "bridge" : n.driver;
  v.bridge = n.bridge;
  v.subnet = n.subnet;
  v.gateway = n.gateway;
  v.labels = n.labels;
  v.created = FileTime(n.config_path, engine);
  v.predefined = n.name == lnet::kDefaultNetwork;
  return v;
}

NetView Special(const std::string& name, const std::string& driver, const Engine& engine) {
  NetView v;
  v.name = name;
  v.id = NetworkId(name);
  v.driver = driver;
  v.created = Rfc3339Nano(engine.started());
  v.predefined = true;
  return v;
}

// The default network: the Manager's, made now when missing (as on a container's first use).
lnet::Network EnsureDefault(Engine& engine) {
  try {
    return engine.net().InspectNetwork(lnet::kDefaultNetwork);
  } catch (const libcontainerd::Error& e) {
    if (e.kind() != libcontainerd::ErrorKind::kNotFound) throw;
  }
  lnet::NetworkCreateOptions o;
  o.bridge = engine.options().default_bridge;
  o.subnet = engine.options().default_subnet;
  try {
    return engine.net().CreateNetwork(lnet::kDefaultNetwork, o);
  } catch (const libcontainerd::Error& e) {
    if (e.kind() != libcontainerd::ErrorKind::kAlreadyExists) throw;
    return engine.net().InspectNetwork(lnet::kDefaultNetwork);
  }
}

std::vector<NetView> AllNetworks(Engine& engine) {
  std::vector<NetView> out;
  bool have_default = false;
  try {
    EnsureDefault(engine);
  } catch (const libcontainerd::Error&) {
    // Shown as defined below; a container's first use reports why it cannot be made.
  }
  for (const lnet::Network& n : engine.net().ListNetworks()) {
    if (n.name == "host" || n.name == "none") continue;  // docker's names win
    if (n.name == lnet::kDefaultNetwork) have_default = true;
    out.push_back(FromManager(n, engine));
  }
  if (!have_default) {
    NetView v = Special(lnet::kDefaultNetwork, "bridge", engine);
    v.bridge = engine.options().default_bridge;
    out.push_back(v);
  }
  out.push_back(Special("host", "host", engine));
  out.push_back(Special("none", "null", engine));
  std::sort(out.begin(), out.end(),
            [](const NetView& a, const NetView& b) { return a.name < b.name; });
  return out;
}

// docker's lookup: full id, then name, then a unique id prefix.
NetView FindNetwork(Engine& engine, const std::string& term) {
  std::vector<NetView> all = AllNetworks(engine);
  for (const NetView& n : all)
    if (n.id == term) return n;
  for (const NetView& n : all)
    if (n.name == term) return n;
  std::vector<const NetView*> partial;
  if (!term.empty()) {
    for (const NetView& n : all)
      if (n.id.compare(0, term.size(), term) == 0) partial.push_back(&n);
  }
  if (partial.size() == 1) return *partial[0];
  if (partial.size() > 1) {
    throw HttpError(400, "network " + term + " is ambiguous (" + std::to_string(partial.size()) +
                             " matches found based on ID prefix)");
  }
  throw HttpError(404, "network " + term + " not found");
}

// Whether a container (by its network mode) is on the network.
bool OnNetwork(const ContainerSummary& c, const NetView& n) {
  std::string mode = c.network;
  if (mode.empty() || mode == "default") mode = lnet::kDefaultNetwork;
  return mode == n.name || mode == n.id;
}

// Containers with an endpoint on the network (docker lists attached containers only).
std::vector<ContainerSummary> Endpoints(Engine& engine, const NetView& n) {
  std::vector<ContainerSummary> out;
  for (ContainerSummary& c : engine.ContainerSummaries()) {
    if (!OnNetwork(c, n)) continue;
    if (c.ip_address.empty() && c.state != "running" && c.state != "paused") continue;
    out.push_back(std::move(c));
  }
  return out;
}

json NetworkJson(const NetView& n, const std::vector<ContainerSummary>* endpoints) {
  json j = json::object();
  j["Name"] = n.name;
  j["Id"] = n.id;
  j["Created"] = n.created;
  j["Scope"] = "local";
  j["Driver"] = n.driver;
  j["EnableIPv6"] = false;
  json config = json::array();
  if (!n.subnet.empty()) {
    json c = json::object();
    c["Subnet"] = n.subnet;
    if (!n.gateway.empty()) c["Gateway"] = n.gateway;
    config.push_back(std::move(c));
  }
  j["IPAM"] = {{"Driver", "default"}, {"Options", nullptr}, {"Config", std::move(config)}};
  j["Internal"] = false;
  j["Attachable"] = false;
  j["Ingress"] = false;
  j["ConfigFrom"] = {{"Network", ""}};
  j["ConfigOnly"] = false;
  json containers = json::object();
  if (endpoints != nullptr) {
    for (const ContainerSummary& c : *endpoints) {
      json e = json::object();
      e["Name"] = c.name;
      e["EndpointID"] = Sha256::Hex(c.id + "/" + n.id);
      e["MacAddress"] = c.mac_address;
      e["IPv4Address"] =
          c.ip_address.empty() ? "" : c.ip_address + "/" + std::to_string(c.prefix_length);
      e["IPv6Address"] = "";
      containers[c.id] = std::move(e);
    }
  }
  j["Containers"] = std::move(containers);
  json options = json::object();
  if (n.name == lnet::kDefaultNetwork) options["com.docker.network.bridge.default_bridge"] = "true";
  if (!n.bridge.empty()) options["com.docker.network.bridge.name"] = n.bridge;
  j["Options"] = std::move(options);
  json labels = json::object();
  for (const auto& [k, v] : n.labels) labels[k] = v;
  j["Labels"] = std::move(labels);
  return j;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

using Filters = std::map<std::string, std::vector<std::string>>;

void ValidateFilters(const Filters& f, const std::set<std::string>& accepted) {
  for (const auto& [k, v] : f) {
    if (accepted.count(k) == 0) throw HttpError(400, "invalid filter '" + k + "'");
  }
}

// docker's Args.Match: equal, or the value as a regular expression matching the source.
bool MatchAny(const Filters& f, const std::string& key, const std::string& source) {
  auto it = f.find(key);
  if (it == f.end()) return true;
  for (const std::string& v : it->second) {
    if (v == source) return true;
    try {
      if (std::regex_search(source, std::regex(v))) return true;
    } catch (const std::regex_error&) {
    }
  }
  return false;
}

bool ExactAny(const Filters& f, const std::string& key, const std::string& source) {
  auto it = f.find(key);
  if (it == f.end()) return true;
  return std::find(it->second.begin(), it->second.end(), source) != it->second.end();
}

// Every "label" filter ("k" or "k=v") holds on the labels.
bool MatchLabels(const Filters& f, const std::string& key,
                 const std::map<std::string, std::string>& labels) {
  auto it = f.find(key);
  if (it == f.end()) return true;
  for (const std::string& want : it->second) {
    size_t eq = want.find('=');
    auto l = labels.find(want.substr(0, eq));
    if (l == labels.end()) return false;
    if (eq != std::string::npos && l->second != want.substr(eq + 1)) return false;
  }
  return true;
}

void PublishNetworkEvent(Engine& engine, const std::string& action, const NetView& n) {
  Event e;
  e.type = "network";
  e.action = action;
  e.id = n.id;
  e.attributes = {{"name", n.name}, {"type", n.driver}};
  engine.events().Publish(std::move(e));
}

// ---- handlers ------------------------------------------------------------------------------

void ListNetworks(Engine& engine, Request& req, Response& res) {
  Filters f = ParseFilters(req.Query("filters"));
  ValidateFilters(f, {"dangling", "driver", "id", "label", "name", "scope", "type"});
  if (auto it = f.find("type"); it != f.end()) {
    for (const std::string& t : it->second)
      if (t != "custom" && t != "builtin")
        throw HttpError(400, "invalid filter: 'type'='" + t + "' (use custom or builtin)");
  }
  std::optional<bool> dangling;
  if (auto it = f.find("dangling"); it != f.end()) {
    for (const std::string& d : it->second) {
      if (d == "true" || d == "1") {
        dangling = true;
      } else if (d == "false" || d == "0") {
        dangling = false;
      } else {
        throw HttpError(400, "invalid filter 'dangling=" + d + "' (use true or false)");
      }
    }
  }
  std::vector<ContainerSummary> containers;
  if (dangling) containers = engine.ContainerSummaries();
  json out = json::array();
  for (const NetView& n : AllNetworks(engine)) {
    if (!MatchAny(f, "name", n.name) || !MatchAny(f, "id", n.id) ||
        !ExactAny(f, "driver", n.driver) || !ExactAny(f, "scope", "local") ||
        !ExactAny(f, "type", n.predefined ? "builtin" : "custom") ||
        !MatchLabels(f, "label", n.labels)) {
      continue;
    }
    if (dangling) {
      bool used =
          n.predefined || std::any_of(containers.begin(), containers.end(),
                                      [&](const ContainerSummary& c) { return OnNetwork(c, n); });
      if (used == *dangling) continue;
    }
    out.push_back(NetworkJson(n, nullptr));
  }
  SendJson(res, 200, Dump(out));
}

void InspectNetwork(Engine& engine, Request& req, Response& res) {
  NetView n = FindNetwork(engine, req.Param("id"));
  std::string scope = req.Query("scope");
  if (!scope.empty() && scope != "local")
    throw HttpError(404, "network " + req.Param("id") + " not found");
  std::vector<ContainerSummary> eps = Endpoints(engine, n);
  SendJson(res, 200, Dump(NetworkJson(n, &eps)));
}

const json* Field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

bool BoolField(const json& body, const char* name) {
  const json* v = Field(body, name);
  if (v == nullptr) return false;
  if (!v->is_boolean()) throw HttpError(400, std::string(name) + " must be a boolean");
  return v->get<bool>();
}

std::string StringField(const json& body, const char* name) {
  const json* v = Field(body, name);
  if (v == nullptr) return "";
  if (!v->is_string()) throw HttpError(400, std::string(name) + " must be a string");
  return v->get<std::string>();
}

void CreateNetwork(Engine& engine, Request& req, Response& res) {
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::exception& e) {
    throw HttpError(400, std::string("invalid network create body: ") + e.what());
  }
  if (!body.is_object()) throw HttpError(400, "invalid network create body: expected an object");
  const std::string name = StringField(body, "Name");
  if (name.empty()) throw HttpError(400, "network name is required (Name)");
  if (IsPredefined(name)) {
    throw HttpError(403, "operation is not permitted on predefined " + name + " network");
  }
  const std::string driver = StringField(body, "Driver");
  if (!driver.empty() && driver != "bridge") {
    throw HttpError(501, "lcd-engine does not implement the network driver \"" + driver +
                             "\": only bridge networks can be created");
  }
  if (BoolField(body, "Internal")) {
    throw HttpError(501, "lcd-engine does not implement internal networks (--internal)");
  }
  if (BoolField(body, "EnableIPv6")) {
    throw HttpError(501, "lcd-engine does not implement IPv6 networks (--ipv6)");
  }
  if (BoolField(body, "Ingress")) {
    throw HttpError(501, "lcd-engine does not implement swarm ingress networks (--ingress)");
  }
  if (BoolField(body, "ConfigOnly") || Field(body, "ConfigFrom") != nullptr) {
    const json* from = Field(body, "ConfigFrom");
    if (BoolField(body, "ConfigOnly") ||
        (from != nullptr && from->is_object() && !StringField(*from, "Network").empty())) {
      throw HttpError(501,
                      "lcd-engine does not implement configuration-only networks "
                      "(--config-only, --config-from)");
    }
  }
  const std::string scope = StringField(body, "Scope");
  if (!scope.empty() && scope != "local") {
    throw HttpError(501, "lcd-engine does not implement networks of scope \"" + scope +
                             "\": only local networks");
  }

  lnet::NetworkCreateOptions o;
  if (const json* opts = Field(body, "Options")) {
    if (!opts->is_object()) throw HttpError(400, "Options must be an object of strings");
    for (auto it = opts->begin(); it != opts->end(); ++it) {
      if (it.key() == "com.docker.network.bridge.name" && it.value().is_string()) {
        o.bridge = it.value().get<std::string>();
      } else {
        throw HttpError(501, "lcd-engine does not implement the network option \"" + it.key() +
                                 "\" (supported: com.docker.network.bridge.name)");
      }
    }
  }
  if (const json* ipam = Field(body, "IPAM")) {
    if (!ipam->is_object()) throw HttpError(400, "IPAM must be an object");
    const std::string ipam_driver = StringField(*ipam, "Driver");
    if (!ipam_driver.empty() && ipam_driver != "default") {
      throw HttpError(501, "lcd-engine does not implement the IPAM driver \"" + ipam_driver +
                               "\" (--ipam-driver): only default");
    }
    if (const json* io = Field(*ipam, "Options"); io != nullptr && !io->empty()) {
      throw HttpError(501, "lcd-engine does not implement IPAM options (--ipam-opt)");
    }
    if (const json* configs = Field(*ipam, "Config")) {
      if (!configs->is_array()) throw HttpError(400, "IPAM.Config must be a list");
      if (configs->size() > 1) {
        throw HttpError(501,
                        "lcd-engine does not implement networks with more than one subnet: "
                        "give one --subnet");
      }
      if (configs->size() == 1) {
        const json& c = (*configs)[0];
        if (!c.is_object()) throw HttpError(400, "IPAM.Config[0] must be an object");
        o.subnet = StringField(c, "Subnet");
        o.gateway = StringField(c, "Gateway");
        if (!StringField(c, "IPRange").empty()) {
          throw HttpError(501,
                          "lcd-engine does not implement --ip-range: the whole subnet is "
                          "used");
        }
        if (const json* aux = Field(c, "AuxiliaryAddresses"); aux != nullptr && !aux->empty()) {
          throw HttpError(501, "lcd-engine does not implement --aux-address");
        }
        if (o.subnet.find(':') != std::string::npos || o.gateway.find(':') != std::string::npos) {
          throw HttpError(
              501, "lcd-engine does not implement IPv6 networks (--subnet " + o.subnet + ")");
        }
        if (o.subnet.empty() && !o.gateway.empty()) {
          throw HttpError(400, "--gateway " + o.gateway + " needs a --subnet");
        }
      }
    }
  }
  if (const json* labels = Field(body, "Labels")) {
    if (!labels->is_object()) throw HttpError(400, "Labels must be an object of strings");
    for (auto it = labels->begin(); it != labels->end(); ++it) {
      if (!it.value().is_string()) {
        throw HttpError(400, "label " + it.key() + " must have a string value");
      }
      o.labels[it.key()] = it.value().get<std::string>();
    }
  }

  lnet::Network made;
  try {
    made = engine.net().CreateNetwork(name, o);
  } catch (const libcontainerd::Error& e) {
    if (e.kind() == libcontainerd::ErrorKind::kAlreadyExists) {
      throw HttpError(409, "network with name " + name + " already exists");
    }
    if (e.kind() == libcontainerd::ErrorKind::kFailedPrecondition) {
      throw HttpError(403, e.message());  // docker: overlapping pools are Forbidden
    }
    if (e.kind() == libcontainerd::ErrorKind::kInvalidArgument) {
      throw HttpError(400, e.message());
    }
    throw;
  }
  NetView v = FromManager(made, engine);
  PublishNetworkEvent(engine, "create", v);
  json out = json::object();
  out["Id"] = v.id;
  out["Warning"] = "";
  SendJson(res, 201, Dump(out));
}

// Removes one custom network; throws docker's errors.
void RemoveOne(Engine& engine, const NetView& n) {
  if (n.predefined) {
    throw HttpError(403, n.name + " is a pre-defined network and cannot be removed");
  }
  const std::vector<ContainerSummary> all = engine.ContainerSummaries();
  const bool used = std::any_of(all.begin(), all.end(),
                                [&](const ContainerSummary& c) { return OnNetwork(c, n); });
  const std::string busy =
      "error while removing network: network " + n.name + " id " + n.id + " has active endpoints";
  if (used) throw HttpError(403, busy);
  try {
    engine.net().RemoveNetwork(n.name);
  } catch (const libcontainerd::Error& e) {
    if (e.kind() == libcontainerd::ErrorKind::kFailedPrecondition) {
      throw HttpError(403, busy + " (" + e.message() + ")");
    }
    if (e.kind() == libcontainerd::ErrorKind::kNotFound) {
      throw HttpError(404, "network " + n.name + " not found");
    }
    throw;
  }
  PublishNetworkEvent(engine, "destroy", n);
}

void RemoveNetwork(Engine& engine, Request& req, Response& res) {
  RemoveOne(engine, FindNetwork(engine, req.Param("id")));
  SendNoContent(res, 204);
}

void PruneNetworks(Engine& engine, Request& req, Response& res) {
  Filters f = ParseFilters(req.Query("filters"));
  ValidateFilters(f, {"until", "label", "label!"});
  int64_t until = 0;
  if (auto it = f.find("until"); it != f.end()) {
    if (it->second.size() != 1) throw HttpError(400, "give at most one until filter");
    until = ParseDockerTime(it->second[0]);
  }
  const std::vector<ContainerSummary> containers = engine.ContainerSummaries();
  json deleted = json::array();
  for (const NetView& n : AllNetworks(engine)) {
    if (n.predefined) continue;
    if (std::any_of(containers.begin(), containers.end(),
                    [&](const ContainerSummary& c) { return OnNetwork(c, n); })) {
      continue;
    }
    if (!MatchLabels(f, "label", n.labels)) continue;
    if (auto it = f.find("label!"); it != f.end()) {
      bool any = false;
      for (const std::string& l : it->second) {
        if (MatchLabels(Filters{{"label", {l}}}, "label", n.labels)) any = true;
      }
      if (any) continue;
    }
    if (until != 0) {
      // Created is ours (RFC 3339); compare through the parser.
      if (ParseDockerTime(n.created) >= until) continue;
    }
    try {
      RemoveOne(engine, n);
      deleted.push_back(n.name);
    } catch (const std::exception&) {
      // In use meanwhile: docker's prune leaves such networks.
    }
  }
  json out = json::object();
  out["NetworksDeleted"] = std::move(deleted);
  SendJson(res, 200, Dump(out));
}

void RefuseConnect(Request&, Response&) {
  throw HttpError(501,
                  "lcd-engine does not implement network connect/disconnect (docker network "
                  "connect): give the network at create time with --network");
}

}  // namespace

void RegisterNetworkRoutes(Router& router, Engine& engine) {
  Engine* e = &engine;
  router.Add("GET", "/networks", [e](Request& q, Response& r) { ListNetworks(*e, q, r); });
  router.Add("POST", "/networks/create", [e](Request& q, Response& r) { CreateNetwork(*e, q, r); });
  router.Add("POST", "/networks/prune", [e](Request& q, Response& r) { PruneNetworks(*e, q, r); });
  router.Add("GET", "/networks/{id}", [e](Request& q, Response& r) { InspectNetwork(*e, q, r); });
  router.Add("DELETE", "/networks/{id}", [e](Request& q, Response& r) { RemoveNetwork(*e, q, r); });
  router.Add("POST", "/networks/{id}/connect", RefuseConnect);
  router.Add("POST", "/networks/{id}/disconnect", RefuseConnect);
}

}  // namespace lcde
