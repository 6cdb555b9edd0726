// Internal: IPv4 subnets for the networks the library creates: parsing, overlap, the host's
// routes, and the choice of a free subnet.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace libcontainerd::net {

struct Ipv4Net {
  uint32_t address = 0;  // host byte order, the network's first address
  int prefix = 0;        // 0..32
  bool operator==(const Ipv4Net&) const = default;
};

// "10.88.0.0/16" (host bits must be zero). Throws Error{kInvalidArgument} naming `what` and the
// text: "subnet 10.88.0.1/16: host bits set (did you mean 10.88.0.0/16?)".
Ipv4Net ParseSubnet(std::string_view text, std::string_view what = "subnet");
// "10.88.0.1" -> host-order address. Throws Error{kInvalidArgument} naming `what`.
uint32_t ParseIpv4(std::string_view text, std::string_view what = "address");
std::string FormatIpv4(uint32_t address);
std::string FormatSubnet(const Ipv4Net& net);
bool Overlaps(const Ipv4Net& a, const Ipv4Net& b);
bool Contains(const Ipv4Net& net, uint32_t address);

// The IPv4 destinations of the host's routes (all tables the kernel shows in /proc/net/route,
// default route excluded) and the subnets of its interface addresses.
std::vector<Ipv4Net> HostRoutes();
// The route destinations in the text of /proc/net/route (header line first; Destination and Mask
// columns in hex, as the kernel prints a network-order address), default route excluded.
// Malformed lines are skipped.
std::vector<Ipv4Net> ParseProcNetRoute(std::string_view text);

// The first /24 from 10.88.0.0 to 10.99.255.0 that overlaps none of `taken`. Throws
// Error{kFailedPrecondition} when there is none (name a --subnet).
Ipv4Net ChooseSubnet(const std::vector<Ipv4Net>& taken);

}  // namespace libcontainerd::net
