#include "net/subnet.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>

#include "common/text.h"
#include "libcontainerd/errors.h"

namespace libcontainerd::net {
namespace {

uint32_t MaskOf(int prefix) {
  return prefix == 0 ? 0 : static_cast<uint32_t>(0xffffffffu << (32 - prefix));
}

// The prefix length of a contiguous netmask (host order), or -1.
int PrefixOf(uint32_t mask) {
  int n = 0;
  while (n < 32 && (mask & (0x80000000u >> n))) ++n;
  return MaskOf(n) == mask ? n : -1;
}

[[noreturn]] void Invalid(std::string_view what, std::string_view text, const std::string& why) {
  throw Error(ErrorKind::kInvalidArgument,
              std::string(what) + " " + text::Escaped(text) + ": " + why);
}

}  // namespace

uint32_t ParseIpv4(std::string_view text, std::string_view what) {
  // inet_pton(AF_INET) accepts exactly four decimal octets: no octal, hex or short forms.
  in_addr a{};
  std::string s(text);
  if (s.size() > 15 || ::inet_pton(AF_INET, s.c_str(), &a) != 1)
    Invalid(what, text, "not an IPv4 address (want four decimal numbers 0-255, e.g. 10.88.0.1)");
  return ntohl(a.s_addr);
}

std::string FormatIpv4(uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

Ipv4Net ParseSubnet(std::string_view text, std::string_view what) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos)
    Invalid(what, text, "not a CIDR subnet (want ADDRESS/PREFIX, e.g. 10.88.0.0/16)");
  std::string_view addr = text.substr(0, slash), len = text.substr(slash + 1);
  in_addr a{};
  std::string s(addr);
  if (s.size() > 15 || ::inet_pton(AF_INET, s.c_str(), &a) != 1)
    Invalid(what, text, "address " + text::Quoted(addr) + " is not an IPv4 address");
  int prefix = -1;
  auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), prefix);
  if (len.empty() || len.size() > 2 || ec != std::errc() || end != len.data() + len.size() ||
      prefix < 0 || prefix > 32)
    Invalid(what, text, "prefix length " + text::Quoted(len) + " is not a number 0-32");
  Ipv4Net net{ntohl(a.s_addr), prefix};
  uint32_t masked = net.address & MaskOf(prefix);
  if (masked != net.address)
    Invalid(what, text, "host bits set (did you mean " + FormatSubnet({masked, prefix}) + "?)");
  return net;
}

std::string FormatSubnet(const Ipv4Net& net) {
  return FormatIpv4(net.address) + "/" + std::to_string(net.prefix);
}

bool Overlaps(const Ipv4Net& a, const Ipv4Net& b) {
  // Two prefixes overlap exactly when one contains the other: compare under the shorter mask.
  uint32_t mask = MaskOf(a.prefix < b.prefix ? a.prefix : b.prefix);
  return (a.address & mask) == (b.address & mask);
}

bool Contains(const Ipv4Net& net, uint32_t address) {
  uint32_t mask = MaskOf(net.prefix);
  return (address & mask) == (net.address & mask);
}

std::vector<Ipv4Net> ParseProcNetRoute(std::string_view text) {
  // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT. The kernel prints
  // each address as the 32-bit value of its network-order bytes (%08X), so on this
  // little-endian machine 10.88.0.0 reads "0000580A": parse the number, then ntohl.
  std::vector<Ipv4Net> out;
  std::istringstream in{std::string(text)};
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      if (line.rfind("Iface", 0) == 0) continue;
    }
    std::istringstream fields(line);
    std::string iface, dest, gw, flags, refcnt, use, metric, mask;
    if (!(fields >> iface >> dest >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
    auto hex = [](const std::string& s, uint32_t& v) {
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
      return s.size() == 8 && ec == std::errc() && end == s.data() + s.size();
    };
    uint32_t d = 0, m = 0;
    if (!hex(dest, d) || !hex(mask, m)) continue;
    int prefix = PrefixOf(ntohl(m));
    if (prefix < 0) continue;
    if (prefix == 0) continue;  // the default route (or any 0/0): not a destination of its own
    out.push_back({ntohl(d) & MaskOf(prefix), prefix});
  }
  return out;
}

std::vector<Ipv4Net> HostRoutes() {
  std::vector<Ipv4Net> out;
  {
    std::ifstream f("/proc/net/route");
    if (f) {
      std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      out = ParseProcNetRoute(text);
    }
  }
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0)
    ThrowErrno(ErrorKind::kUnknown, errno, "list the host's interface addresses (getifaddrs)");
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask) continue;
    uint32_t addr = ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr);
    int prefix = PrefixOf(ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_netmask)->sin_addr.s_addr));
    if (prefix <= 0) continue;
    Ipv4Net net{addr & MaskOf(prefix), prefix};
    bool seen = false;
    for (const auto& r : out) seen = seen || r == net;
    if (!seen) out.push_back(net);
  }
  ::freeifaddrs(list);
  return out;
}

Ipv4Net ChooseSubnet(const std::vector<Ipv4Net>& taken) {
  constexpr uint32_t kFirst = (10u << 24) | (88u << 16);               // 10.88.0.0
  constexpr uint32_t kLast = (10u << 24) | (99u << 16) | (255u << 8);  // 10.99.255.0
  uint64_t a = kFirst;
  while (a <= kLast) {
    Ipv4Net candidate{static_cast<uint32_t>(a), 24};
    uint64_t next = a + 256;
    bool free = true;
    for (const auto& t : taken) {
      if (!Overlaps(candidate, t)) continue;
      free = false;
      // Skip past the whole taken range when it is wider than a /24.
      uint64_t end = (t.address & MaskOf(t.prefix)) | ~MaskOf(t.prefix);
      if (end + 1 > next) next = end + 1;
    }
    if (free) return candidate;
    a = next;
  }
  throw Error(ErrorKind::kFailedPrecondition,
              "no free subnet: every /24 from 10.88.0.0/24 to 10.99.255.0/24 overlaps a network or "
              "a route of the host; name one with --subnet");
}

}  // namespace libcontainerd::net
