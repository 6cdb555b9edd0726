// Internal: the files docker writes for a container's network and bind-mounts inside:
// /etc/hosts, /etc/resolv.conf and /etc/hostname.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "libcontainerd/net.h"

namespace libcontainerd::net {

struct ResolvConf {
  std::vector<std::string> nameservers;
  std::vector<std::string> search;
  std::vector<std::string> options;
};

// Parses resolv.conf text (nameserver, search, domain, options; comments ignored).
ResolvConf ParseResolvConf(std::string_view text);

// Docker's rule: the host's file without loopback nameservers (127.0.0.0/8, ::1); when none is
// left, Google's public resolvers 8.8.8.8 and 8.8.4.4; `request.dns_servers`,
// `request.dns_search` and `request.dns_options` each replace the host's part when not empty.
// Throws Error{kInvalidArgument} for a dns server that is not an IP address, or a search domain
// or option that is not one word (a newline would add lines of its own).
std::string BuildResolvConf(std::string_view host_resolv_conf, const NetworkRequest& request);

// localhost lines (IPv4 and IPv6), then the extra hosts, then `ip hostname` when ip is not empty
// (docker's order).
std::string BuildHosts(const std::string& hostname, const std::string& ip,
                       const std::vector<HostEntry>& extra_hosts);

// The paths WriteContainerFiles wrote.
struct ContainerFiles {
  std::string hosts;
  std::string resolv_conf;
  std::string hostname;
};

// Writes hosts, resolv.conf and hostname (each 0644, atomically) into `dir` (created 0700 if
// missing). Throws Error{kUnknown} naming the file.
ContainerFiles WriteContainerFiles(const std::string& dir, const std::string& hosts,
                                   const std::string& resolv_conf, const std::string& hostname);

}  // namespace libcontainerd::net
