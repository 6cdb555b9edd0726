#include "net/dns_files.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <sstream>

#include "cio/fifo.h"
#include "common/text.h"
#include "libcontainerd/errors.h"

namespace libcontainerd::net {
namespace {

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string f;
  while (in >> f) {
    if (f[0] == '#' || f[0] == ';') break;  // the rest of the line is a comment
    out.push_back(f);
  }
  return out;
}

// 127.0.0.0/8, ::1 and the IPv4-mapped ::ffff:127.0.0.0/104.
bool IsLoopback(const std::string& server) {
  in_addr a4{};
  if (::inet_pton(AF_INET, server.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (::inet_pton(AF_INET6, server.c_str(), &a6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
  }
  return false;
}

bool IsIp(const std::string& s) {
  in_addr a4{};
  in6_addr a6{};
  return ::inet_pton(AF_INET, s.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

// One word of a resolv.conf line: no whitespace, no control byte, not a comment.
void CheckWord(const std::string& flag, const std::string& v) {
  bool ok = !v.empty() && v[0] != '#' && v[0] != ';';
  for (unsigned char c : v) ok = ok && c > 0x20 && c != 0x7f;
  if (!ok)
    throw Error(ErrorKind::kInvalidArgument,
                flag + " " + text::Quoted(v) + ": must be one word without spaces");
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

void WriteAtomically(const std::string& dir, const std::string& name, const std::string& content) {
  const std::string path = dir + "/" + name;
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    tmp = dir + "/." + name + ".tmp-" + std::to_string(rng() % 1000000000);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && (errno != EEXIST || attempt > 5))
      ThrowErrno(ErrorKind::kUnknown, errno, "write " + path + ": create temporary file",
                 {.path = tmp});
  }
  int err = 0;
  const char* what = "";
  if (::fchmod(fd, 0644) != 0) {  // not narrowed by the umask
    err = errno;
    what = "chmod";
  }
  for (size_t off = 0; !err && off < content.size();) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      what = "write";
    }
    off += n > 0 ? static_cast<size_t>(n) : 0;
  }
  if (::close(fd) != 0 && !err) {
    err = errno;
    what = "close";
  }
  if (!err && ::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    what = "rename";
  }
  if (err) {
    ::unlink(tmp.c_str());
    ThrowErrno(ErrorKind::kUnknown, err, "write " + path + ": " + what, {.path = path});
  }
}

}  // namespace

ResolvConf ParseResolvConf(std::string_view text) {
  ResolvConf rc;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    auto f = Fields(line);
    if (f.size() < 2) continue;
    if (f[0] == "nameserver") {
      rc.nameservers.push_back(f[1]);
    } else if (f[0] == "search" || f[0] == "domain") {
      // As glibc: the last search or domain line wins; domain is a one-entry search list.
      rc.search.assign(f.begin() + 1, f[0] == "domain" ? f.begin() + 2 : f.end());
    } else if (f[0] == "options") {
      rc.options.insert(rc.options.end(), f.begin() + 1, f.end());
    }
  }
  return rc;
}

std::string BuildResolvConf(std::string_view host_resolv_conf, const NetworkRequest& request) {
  ResolvConf host = ParseResolvConf(host_resolv_conf);
  std::vector<std::string> servers;
  if (!request.dns_servers.empty()) {
    for (const auto& s : request.dns_servers) {
      if (!IsIp(s))
        throw Error(ErrorKind::kInvalidArgument,
                    "--dns " + text::Quoted(s) + ": not an IPv4 or IPv6 address");
      servers.push_back(s);
    }
  } else {
    // A loopback resolver of the host (systemd-resolved's 127.0.0.53, a local dnsmasq) is not
    // reachable from the container's own namespace.
    for (const auto& s : host.nameservers)
      if (!IsLoopback(s)) servers.push_back(s);
    if (servers.empty()) servers = {"8.8.8.8", "8.8.4.4"};
  }
  std::vector<std::string> search = host.search, options = host.options;
  if (!request.dns_search.empty()) {
    for (const auto& s : request.dns_search) CheckWord("--dns-search", s);
    search = request.dns_search;
  }
  if (!request.dns_options.empty()) {
    for (const auto& s : request.dns_options) CheckWord("--dns-option", s);
    options = request.dns_options;
  }
  std::string out;
  for (const auto& s : servers) out += "nameserver " + s + "\n";
  if (!search.empty()) out += "search " + Join(search) + "\n";
  if (!options.empty()) out += "options " + Join(options) + "\n";
  return out;
}

std::string BuildHosts(const std::string& hostname, const std::string& ip,
                       const std::vector<HostEntry>& extra_hosts) {
  // Docker's order: the localhost lines, the --add-host entries, the container's own line.
  std::string out =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\n"
      "ff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n";
  for (const auto& h : extra_hosts) out += h.ip + "\t" + h.name + "\n";
  if (!ip.empty()) out += ip + "\t" + hostname + "\n";
  return out;
}

ContainerFiles WriteContainerFiles(const std::string& dir, const std::string& hosts,
                                   const std::string& resolv_conf, const std::string& hostname) {
  cio::MakePrivateDirs(dir);
  WriteAtomically(dir, "hosts", hosts);
  WriteAtomically(dir, "resolv.conf", resolv_conf);
  WriteAtomically(dir, "hostname", hostname + "\n");
  return {dir + "/hosts", dir + "/resolv.conf", dir + "/hostname"};
}

}  // namespace libcontainerd::net
