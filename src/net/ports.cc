// The text forms of include/libcontainerd/net.h: published ports (-p) and extra hosts
// (--add-host).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <string>

#include "common/text.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/net.h"

namespace libcontainerd::net {
namespace {

[[noreturn]] void BadPort(std::string_view text, const std::string& why) {
  throw Error(ErrorKind::kInvalidArgument, "-p " + text::Escaped(text) + ": " + why +
                                               " (want [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp])");
}

// 1..65535 in decimal digits only (no sign, no spaces).
bool ParsePortNumber(std::string_view s, uint16_t& out) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 1 || v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

uint16_t Port(std::string_view text, std::string_view which, std::string_view s) {
  uint16_t port = 0;
  if (ParsePortNumber(s, port)) return port;
  std::string what = std::string(which) + " port " + text::Quoted(s);
  if (s.find('-') != std::string_view::npos && s.front() != '-')
    BadPort(text, what + ": port ranges are not supported; publish each port with its own -p");
  if (which == "host" && s.find_first_not_of('0') == std::string_view::npos)
    BadPort(text, what + ": a host port 1-65535 is required (no random host port is chosen)");
  BadPort(text, what + " is not a number 1-65535");
}

bool IsIpv4(const std::string& s) {
  in_addr a{};
  return ::inet_pton(AF_INET, s.c_str(), &a) == 1;
}
bool IsIpv6(const std::string& s) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

// RFC 1123 host name: dot-separated labels of letters, digits and '-' (not first or last),
// 1-63 characters each, 253 in all.
bool IsHostname(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

PortMapping ParsePortMapping(std::string_view text) {
  if (text.empty()) BadPort(text, "empty");
  PortMapping pm;
  std::string_view rest = text;
  // The protocol after the last '/': nothing else in the syntax contains one.
  if (auto slash = rest.rfind('/'); slash != std::string_view::npos) {
    std::string_view proto = rest.substr(slash + 1);
    if (proto != "tcp" && proto != "udp")
      BadPort(text, "protocol " + text::Quoted(proto) + " is not tcp or udp");
    pm.protocol = std::string(proto);
    rest = rest.substr(0, slash);
  }
  // An IPv6 host address in brackets.
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) BadPort(text, "'[' of the host IP is never closed");
    std::string ip(rest.substr(1, close - 1));
    if (!IsIpv6(ip))
      BadPort(text, "host IP " + text::Quoted(ip) +
                        " is not an IPv6 address (brackets are for IPv6 only)");
    pm.host_ip = ip;
    rest = rest.substr(close + 1);
    if (rest.empty() || rest.front() != ':')
      BadPort(text, "the host IP must be followed by :HOSTPORT:CONTAINERPORT");
    rest = rest.substr(1);
    if (rest.find(':') == std::string_view::npos)
      BadPort(text, "a host port is required after the host IP");
  }
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos)
    BadPort(text,
            "a host port is required: HOSTPORT:CONTAINERPORT (no random host port is "
            "chosen)");
  std::string_view container = rest.substr(colon + 1), front = rest.substr(0, colon);
  std::string_view host = front;
  if (pm.host_ip.empty()) {
    if (auto c2 = front.rfind(':'); c2 != std::string_view::npos) {
      std::string ip(front.substr(0, c2));
      host = front.substr(c2 + 1);
      if (ip.find(':') != std::string::npos) {
        BadPort(text, IsIpv6(ip) ? "an IPv6 host IP must be in brackets, e.g. [" + ip + "]:8080:80"
                                 : "too many ':' (want [IP:]HOSTPORT:CONTAINERPORT)");
      }
      if (!IsIpv4(ip)) BadPort(text, "host IP " + text::Quoted(ip) + " is not an IP address");
      pm.host_ip = ip;
    }
  }
  if (host.empty())
    BadPort(text,
            "a host port is required: HOSTPORT:CONTAINERPORT (no random host port is "
            "chosen)");
  if (pm.host_ip.empty() && IsIpv4(std::string(host)))
    BadPort(text, "a host port is required after the host IP: IP:HOSTPORT:CONTAINERPORT");
  pm.host_port = Port(text, "host", host);
  pm.container_port = Port(text, "container", container);
  return pm;
}

std::string FormatPortMapping(const PortMapping& port) {
  std::string s;
  if (!port.host_ip.empty()) {
    bool v6 = port.host_ip.find(':') != std::string::npos;
    s += v6 ? "[" + port.host_ip + "]:" : port.host_ip + ":";
  }
  s += std::to_string(port.host_port) + ":" + std::to_string(port.container_port) + "/" +
       port.protocol;
  return s;
}

HostEntry ParseHostEntry(std::string_view text) {
  auto bad = [&](const std::string& why) {
    throw Error(ErrorKind::kInvalidArgument,
                "--add-host " + text::Escaped(text) + ": " + why + " (want NAME:IP)");
  };
  auto colon = text.find(':');
  if (colon == std::string_view::npos) bad("no ':' between the name and the IP");
  std::string_view name = text.substr(0, colon);
  std::string ip(text.substr(colon + 1));
  if (name.empty()) bad("the name is empty");
  if (!IsHostname(name))
    bad("name " + text::Quoted(name) +
        " is not a host name (letters, digits, '-' and '.', labels of 1-63 characters)");
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (ip.empty()) bad("the IP is empty");
  if (!IsIpv4(ip) && !IsIpv6(ip)) bad("IP " + text::Quoted(ip) + " is not an IPv4 or IPv6 address");
  return {std::string(name), ip};
}

}  // namespace libcontainerd::net
