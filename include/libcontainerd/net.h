// libcontainerd: container networking through CNI (bridge, host, none, container:ID), published
// ports and the DNS files. Backend-neutral: the containerd backend uses it when
// ClientOptions::network is set, and a daemonless backend or an engine can use it directly.
// Public API only: no gRPC, protobuf or plugin type appears here. See docs/networking.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "libcontainerd/context.h"
#include "libcontainerd/export.h"

namespace libcontainerd::oci {
struct Spec;
}

namespace libcontainerd::net {

// How a container gets its network.
enum class Mode {
  kNone,       // a network namespace of its own with only `lo` up
  kHost,       // the host's network namespace (no namespace, no CNI)
  kBridge,     // a namespace attached to a network (`NetworkRequest::network`, "bridge" default)
  kContainer,  // the network namespace of another container (`NetworkRequest::container`)
};

// The name of the default network, created on first use.
inline constexpr const char* kDefaultNetwork = "bridge";

// A published port: [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp].
struct LCD_EXPORT PortMapping {
  std::string host_ip;  // empty: every address of the host
  uint16_t host_port = 0;
  uint16_t container_port = 0;
  std::string protocol = "tcp";  // "tcp" or "udp"
  bool operator==(const PortMapping&) const = default;
};

// Parses docker's -p syntax [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp] (an IPv6 host IP in
// brackets). Throws Error{kInvalidArgument} naming the part that is wrong.
LCD_EXPORT PortMapping ParsePortMapping(std::string_view text);
LCD_EXPORT std::string FormatPortMapping(const PortMapping& port);

// An extra /etc/hosts line (--add-host NAME:IP).
struct LCD_EXPORT HostEntry {
  std::string name;
  std::string ip;
  bool operator==(const HostEntry&) const = default;
};
// Parses NAME:IP (IPv6 allowed after the first colon). Throws Error{kInvalidArgument}.
LCD_EXPORT HostEntry ParseHostEntry(std::string_view text);

// What a container asks for.
struct LCD_EXPORT NetworkRequest {
  Mode mode = Mode::kNone;
  std::string network;    // kBridge: the network's name; empty: kDefaultNetwork
  std::string container;  // kContainer: the id of the container whose namespace to join
  // kContainer when the other container has no attachment of its own (its namespace was made
  // by the runtime): the path to join, e.g. /proc/PID/ns/net of its running task. The backend
  // fills this in; callers leave it empty.
  std::string container_netns_path;
  std::vector<PortMapping> ports;        // kBridge only
  std::vector<std::string> dns_servers;  // empty: the host's, without loopback resolvers
  std::vector<std::string> dns_search;
  std::vector<std::string> dns_options;
  std::vector<HostEntry> extra_hosts;
  std::string hostname;  // empty: the first 12 characters of the container id
  bool operator==(const NetworkRequest&) const = default;
};

// A network: a CNI network configuration list (.conflist) in ManagerOptions::config_dir.
struct LCD_EXPORT Network {
  std::string name;
  std::string driver;       // the first plugin's type ("bridge" for networks made here)
  std::string bridge;       // the Linux bridge's name ("" for other drivers)
  std::string subnet;       // CIDR ("" when the conflist names none)
  std::string gateway;      // ("" when the conflist names none)
  std::string config_path;  // the .conflist file
  std::map<std::string, std::string> labels;
  bool operator==(const Network&) const = default;
};

struct LCD_EXPORT NetworkCreateOptions {
  std::string subnet;   // CIDR; empty: the first free /24 of 10.88.0.0/16 .. 10.99.255.0/24
  std::string gateway;  // empty: the subnet's first address
  std::string bridge;   // Linux bridge name; empty: "lcd-" + 8 hex of the name's hash
  std::map<std::string, std::string> labels;
};

// A container's network, as set up by Manager::Attach.
struct LCD_EXPORT Attachment {
  std::string ns;  // the containerd (or backend) namespace of the container
  std::string container_id;
  Mode mode = Mode::kNone;
  std::string network;     // kBridge: the network's name
  std::string joined;      // kContainer: the id of the container joined
  std::string netns_path;  // the namespace file ("" for kHost)
  std::string interface;   // "eth0" for kBridge, "" otherwise
  std::string ip_address;  // "10.88.0.5" ("" without one)
  int prefix_length = 0;   // 24
  std::string gateway;
  std::string mac_address;
  std::vector<PortMapping> ports;
  std::string hostname;
  std::string hosts_path;        // the files bind-mounted at /etc/hosts, /etc/resolv.conf and
  std::string resolv_conf_path;  // /etc/hostname ("" when not written)
  std::string hostname_path;
};

struct LCD_EXPORT ManagerOptions {
  // Namespace files, per-container files and attachment records; created 0700.
  std::string state_dir = "/run/libcontainerd/net";
  // Where networks live as .conflist files (the user may add their own); created 0755.
  std::string config_dir = "/etc/libcontainerd/net";
  // Where CNI plugin binaries are looked for, in order.
  std::vector<std::string> plugin_dirs = {"/usr/lib/cni", "/opt/cni/bin"};
  // The default network, created on first use.
  std::string default_bridge = "lcd0";
  std::string default_subnet;  // empty: chosen as NetworkCreateOptions::subnet is
  // The host's resolver file (its loopback resolvers are left out inside containers).
  std::string host_resolv_conf = "/etc/resolv.conf";
};

// Thread-safety: every method may be called from many threads at once; attachments of one
// container are serialised, and so is the choice of subnets.
class LCD_EXPORT Manager {
 public:
  virtual ~Manager() = default;

  // Networks. Create throws kAlreadyExists for a taken name, kInvalidArgument for a bad name or
  // subnet, kFailedPrecondition for a subnet that overlaps another network or a host route.
  virtual Network CreateNetwork(const std::string& name, const NetworkCreateOptions& options) = 0;
  virtual std::vector<Network> ListNetworks() = 0;
  // Throws kNotFound for an unknown name.
  virtual Network InspectNetwork(const std::string& name) = 0;
  // Throws kNotFound for an unknown name, kFailedPrecondition while a container uses it.
  virtual void RemoveNetwork(const std::string& name) = 0;

  // Sets up the container's network (namespace, CNI ADD, ports, DNS files) and edits `spec`:
  // the network namespace in linux.namespaces, the bind mounts of /etc/hosts,
  // /etc/resolv.conf and /etc/hostname, the hostname. All or nothing: on failure everything set
  // up so far is undone before the error is thrown. Throws kAlreadyExists when the container
  // already has an attachment.
  virtual Attachment Attach(const Context& ctx, const std::string& ns,
                            const std::string& container_id, const NetworkRequest& request,
                            oci::Spec& spec) = 0;
  // Undoes Attach (CNI DEL in reverse order, namespace and files removed). What is already gone
  // is not an error; an unknown container is a no-op.
  virtual void Detach(const Context& ctx, const std::string& ns,
                      const std::string& container_id) = 0;
  virtual std::optional<Attachment> Inspect(const std::string& ns,
                                            const std::string& container_id) = 0;
  virtual std::vector<Attachment> List(const std::string& ns) = 0;
  // Detaches every attachment of `ns` whose container is not in `existing` (a program killed
  // between Attach and creating its container, a container deleted behind the library's back).
  // Returns the ids released.
  virtual std::vector<std::string> Reconcile(const Context& ctx, const std::string& ns,
                                             const std::set<std::string>& existing) = 0;
};

// Throws kInvalidArgument for unusable options, kFailedPrecondition when a directory cannot be
// made.
LCD_EXPORT std::shared_ptr<Manager> NewManager(const ManagerOptions& options);

}  // namespace libcontainerd::net
