// Internal: the runtime side of CNI 1.0 (https://www.cni.dev/docs/spec/): network configuration
// lists, plugin lookup, and ADD / CHECK / DEL through a list. Plugins are run as they are
// (Debian's containernetworking-plugins in /usr/lib/cni).
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libcontainerd/context.h"

namespace libcontainerd::net::cni {

using nlohmann::json;

// A network configuration list (.conflist), validated: cniVersion, name, and plugins each with a
// string "type".
struct ConfigList {
  std::string cni_version;
  std::string name;
  bool disable_check = false;
  std::vector<json> plugins;  // each plugin's configuration as written
  std::string source;         // the file it came from (or a label), for messages
  json raw;                   // the whole list as parsed
};

// Throws Error{kInvalidArgument} naming `source` and the field: "<source>: plugins[1].type:
// missing (each plugin needs a string type)".
ConfigList ParseConfigList(std::string_view text, const std::string& source);
ConfigList LoadConfigList(const std::string& path);
// Every *.conflist in `dir`, sorted by file name. A malformed file throws (naming the file).
// A missing directory gives an empty list.
std::vector<ConfigList> LoadConfigDir(const std::string& dir);

// The list without its idle portmap plugins, for a container that publishes no port: a portmap
// whose ports come only from the portMappings capability (no runtimeConfig.portMappings of its
// own). Its ADD would pass the previous result on unchanged, while its DEL still runs a dozen
// iptables commands looking for the container's chains. `raw` is changed alike. The list is
// returned as it is when it has no idle portmap or nothing else.
ConfigList WithoutIdlePortmap(const ConfigList& list);

// What the runtime passes to every plugin of a list for one container.
struct RuntimeConf {
  std::string container_id;
  std::string netns;                                      // the namespace file (absolute path)
  std::string ifname = "eth0";                            // the interface inside
  std::vector<std::pair<std::string, std::string>> args;  // CNI_ARGS (K=V;K=V)
  // runtimeConfig given to each plugin that declares the capability in "capabilities", e.g.
  // {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp",
  // "hostIP": ""}]}. The runtime removes "capabilities" from what the plugin reads.
  json capability_args = json::object();
};

// The parts of a CNI result (1.0) the library uses; `raw` is the result as the plugin wrote it.
struct Interface {
  std::string name;
  std::string mac;
  std::string sandbox;  // the netns path for interfaces inside the container
};
struct IpConfig {
  std::string address;  // CIDR, "10.88.0.5/24"
  std::string gateway;
  int interface = -1;  // index into interfaces, -1 when absent
};
struct Result {
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  json raw = json::object();
};
// Throws Error{kUnknown} naming the plugin when the result is malformed.
Result ParseResult(const json& raw, const std::string& plugin);

// One plugin execution: the seam unit tests replace.
struct Invocation {
  std::string binary;                        // absolute path of the plugin
  std::vector<std::string> env;              // "K=V", the whole environment
  std::string stdin_data;                    // the plugin's network configuration
  std::chrono::milliseconds timeout{60000};  // from the Context's deadline when shorter
};
struct Outcome {
  int exit_code = 0;  // -1 when killed by a signal or the timeout
  std::string stdout_data;
  std::string stderr_data;
  bool timed_out = false;  // killed because Invocation::timeout passed
};
using Executor = std::function<Outcome(const Context& ctx, const Invocation& inv)>;
// The real executor: fork/exec with the environment, stdin, stdout and stderr as pipes, killed
// (SIGKILL) and reaped when the Context ends or the timeout passes. The Context ending throws
// kCancelled / kDeadlineExceeded; the Invocation's timeout gives timed_out. A binary that cannot
// be run throws (kNotFound when it is missing, kFailedPrecondition when not executable).
Outcome ExecPlugin(const Context& ctx, const Invocation& inv);

class Runtime {
 public:
  // `plugin_dirs`: searched in order for a plugin's binary. `exec`: null means ExecPlugin.
  explicit Runtime(std::vector<std::string> plugin_dirs, Executor exec = nullptr);

  // The binary of plugin `type`. Throws Error{kNotFound} naming the plugin, the directories
  // searched and the Debian package (containernetworking-plugins).
  std::string FindPlugin(const std::string& type) const;

  // ADD through the list in order, each plugin getting the previous result as prevResult.
  // Returns the last result. On a plugin's failure the plugins already added are deleted again
  // (in reverse order, best effort, the failing one first as it may have half set up) and the
  // error is thrown: Error naming the plugin, with the
  // plugin's own msg, details and code (CNI codes 1-7 and 11 mapped to kinds as
  // docs/networking.md lists; others kUnknown).
  Result Add(const Context& ctx, const ConfigList& list, const RuntimeConf& rt);
  // CHECK through the list with the stored ADD result as prevResult (skipped when the list
  // sets disableCheck). Throws as Add does.
  void Check(const Context& ctx, const ConfigList& list, const RuntimeConf& rt,
             const json& prev_result);
  // DEL through the list in reverse order, each plugin given `prev_result` (the stored ADD
  // result; null when unknown). Every plugin is called even when one fails; what is already
  // gone is not an error. Throws the first failure after all were called.
  void Del(const Context& ctx, const ConfigList& list, const RuntimeConf& rt,
           const json& prev_result);

 private:
  std::vector<std::string> dirs_;
  Executor exec_;
};

}  // namespace libcontainerd::net::cni
