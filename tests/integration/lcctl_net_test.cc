// Drives lcctl's networking end to end against the fixture's containerd (-a, a namespace per
// test), with lcctl's network state (--root) and networks (--net-config-dir) in a temp dir:
// network create/ls/inspect/rm, run on a named network (an address in its subnet), a busybox
// httpd published on 127.0.0.1 and fetched from here, --net none (lo only), the DNS files and
// the host name, a network in use refused, and bad input that leaves no container. Traffic goes
// only to 127.0.0.1 and to the test's own containers; every network, bridge and container made
// here is removed in TearDown, on failure too.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"
#include "run_program.h"
#include "test_util.h"

#ifndef LCCTL_PATH
#error "LCCTL_PATH must name the lcctl binary"
#endif

namespace {

using json = nlohmann::json;
using lcdtest::Describe;
using lcdtest::Result;

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool Has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A TCP port of 127.0.0.1 that is free now (bound to port 0 and closed).
int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) ::close(fd);
  return port;
}

// One HTTP/1.0 GET of / from 127.0.0.1:port; the whole response, or "" when the connection
// fails or nothing comes within a second.
std::string HttpGet(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(lcdtest::Scaled(std::chrono::seconds(1)).count())) <= 0)
          break;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  return out;
}

std::string RandomHex(int digits) {
  static std::mt19937_64 rng(std::random_device{}());
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < digits; ++i) s += hex[rng() % 16];
  return s;
}

struct TestNetwork {
  std::string name;
  std::string bridge;
  std::string prefix;  // "10.88.233." (the subnet is PREFIX0/24)
};

class LcctlNet : public ::testing::Test {
 protected:
  lcdtest::ScratchDir dir_{"lcctlnet"};
  std::string ns_ = lcdtest::UniqueId("lcctlnet");
  std::vector<TestNetwork> networks_;

  std::vector<std::string> Argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{LCCTL_PATH,
                                  "-a",
                                  lcdtest::DaemonAddress(),
                                  "-n",
                                  ns_,
                                  "--root",
                                  dir_.path() + "/root",
                                  "--net-config-dir",
                                  dir_.path() + "/netconf"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  Result Run(const std::vector<std::string>& args) {
    return lcdtest::Collect(lcdtest::Spawn(Argv(args), nullptr, {}),
                            std::chrono::duration_cast<std::chrono::seconds>(
                                lcdtest::Scaled(std::chrono::seconds(120))));
  }
  Result Ok(const std::vector<std::string>& args) {
    Result r = Run(args);
    EXPECT_EQ(r.code, 0) << Describe(Argv(args), r);
    return r;
  }
  // Expects exit 125 and exactly one line on stderr starting "lcctl: ".
  Result Fails(const std::vector<std::string>& args) {
    Result r = Run(args);
    EXPECT_EQ(r.code, 125) << Describe(Argv(args), r);
    EXPECT_EQ(r.err.rfind("lcctl: ", 0), 0u) << Describe(Argv(args), r);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << Describe(Argv(args), r);
    return r;
  }
  json Json(const Result& r) {
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }
  std::string Id(const char* p) { return lcdtest::UniqueId(p); }

  // A network with its own bridge ("lcdn" + 6 hex) and a /24 of 10.91.0.0/16 that no other
  // network or route has, tried in turn from one that depends on this process: the tests run in
  // parallel, and a network's route appears only with its first container.
  TestNetwork CreateNetwork(const std::vector<std::string>& extra = {}) {
    TestNetwork n;
    n.name = "lcdnet-" + RandomHex(8);
    n.bridge = "lcdn" + RandomHex(6);
    const int first = 0, count = 250;
    const int start = static_cast<int>(::getpid() % 25) * 10;
    Result last;
    for (int i = 0; i < count; ++i) {
      n.prefix = "10.91." + std::to_string(first + (start + i) % count) + ".";
      std::vector<std::string> args{"network",         "create",   "--subnet",
                                    n.prefix + "0/24", "--bridge", n.bridge};
      args.insert(args.end(), extra.begin(), extra.end());
      args.push_back(n.name);
      last = Run(args);
      if (last.code == 0) {
        networks_.push_back(n);
        EXPECT_EQ(last.out, n.name + "\n");
        return n;
      }
    }
    ADD_FAILURE() << "no free /24 in 10.91.0.0/16: " << last.err;
    return n;
  }

  void TearDown() override {
    for (const auto& id : Lines(Run({"container", "ls", "-q"}).out))
      Run({"container", "rm", "-f", id});
    for (const auto& n : networks_) {
      Run({"network", "rm", n.name});
      std::string del = "ip link del " + n.bridge + " 2>/dev/null";
      lcdtest::RunCommand(del.c_str());
    }
    auto images = Lines(Run({"image", "ls", "-q"}).out);
    if (!images.empty()) {
      std::vector<std::string> rm{"image", "rm", "-f", "--sync"};
      rm.insert(rm.end(), images.begin(), images.end());
      Run(rm);
    }
    lcdtest::Exec({"ctr", "-a", lcdtest::DaemonAddress(), "namespaces", "rm", ns_});
    // The library keeps its namespace directory a (shared) mount point, as `ip netns` does
    // /run/netns: it goes with this test's --root.
    const std::string netns = dir_.path() + "/root/net/netns";
    while (::umount2(netns.c_str(), MNT_DETACH) == 0) {
    }
  }
};

TEST_F(LcctlNet, NetworkCreateLsInspectRm) {
  TestNetwork n = CreateNetwork({"--label", "team=net"});
  ASSERT_FALSE(networks_.empty());

  Result ls = Ok({"network", "ls"});
  auto rows = Lines(ls.out);
  ASSERT_FALSE(rows.empty());
  EXPECT_TRUE(Has(rows[0], "NAME") && Has(rows[0], "SUBNET") && Has(rows[0], "BRIDGE")) << ls.out;
  bool listed = false;
  for (const auto& r : rows)
    listed |= r.rfind(n.name + " ", 0) == 0 && Has(r, n.prefix + "0/24") && Has(r, n.bridge);
  EXPECT_TRUE(listed) << ls.out;
  // Aliases: `network list`, the group alias `net`.
  EXPECT_EQ(Ok({"network", "list"}).out, ls.out);
  EXPECT_EQ(Ok({"net", "ls"}).out, ls.out);

  json arr = Json(Ok({"network", "ls", "--json"}));
  ASSERT_TRUE(arr.is_array());
  bool in_json = false;
  for (const auto& j : arr) in_json |= j.value("name", "") == n.name;
  EXPECT_TRUE(in_json) << arr.dump();

  json j = Json(Ok({"network", "inspect", n.name}));
  EXPECT_EQ(j["name"], n.name);
  EXPECT_EQ(j["driver"], "bridge");
  EXPECT_EQ(j["bridge"], n.bridge);
  EXPECT_EQ(j["subnet"], n.prefix + "0/24");
  EXPECT_EQ(j["gateway"], n.prefix + "1");  // the subnet's first address by default
  EXPECT_EQ(j["labels"]["team"], "net");
  EXPECT_TRUE(j["containers"].empty()) << j.dump();

  // The same name again: the library's error, nothing changed.
  Result again = Fails({"network", "create", "--subnet", n.prefix + "0/24", n.name});
  EXPECT_TRUE(Has(again.err, n.name)) << again.err;

  EXPECT_EQ(Ok({"network", "rm", n.name}).out, n.name + "\n");
  EXPECT_FALSE(Has(Ok({"network", "ls", "-q"}).out, n.name));
  Result gone = Fails({"network", "inspect", n.name});
  EXPECT_TRUE(Has(gone.err, "network " + n.name + " not found")) << gone.err;
  Result rm_gone = Fails({"network", "rm", n.name});
  EXPECT_TRUE(Has(rm_gone.err, n.name)) << rm_gone.err;
}

TEST_F(LcctlNet, NetworkHelpHasAnExample) {
  for (const char* sub : {"create", "ls", "inspect", "rm"}) {
    Result r = Ok({"network", sub, "--help"});
    EXPECT_TRUE(Has(r.out, "Usage: lcctl network ")) << r.out;
    EXPECT_TRUE(Has(r.out, "Example:\n  lcctl ")) << r.out;
  }
  EXPECT_TRUE(Has(Ok({"network", "--help"}).out, "inspect")) << "group help";
  Result run = Ok({"run", "--help"});
  for (const char* flag : {"--net ", "--network ", "--publish ", "--dns ", "--dns-search ",
                           "--dns-option ", "--add-host ", "--hostname "})
    EXPECT_TRUE(Has(run.out, flag)) << flag;
}

TEST_F(LcctlNet, RunOnANamedNetworkHasAnAddressInItsSubnet) {
  TestNetwork n = CreateNetwork();
  ASSERT_FALSE(networks_.empty());
  Result r = Ok({"run", "--rm", "--net", n.name, Id("addr"), "ip", "-o", "-4", "addr"});
  EXPECT_TRUE(Has(r.out, "inet " + n.prefix)) << r.out;
  EXPECT_TRUE(Has(r.out, "eth0")) << r.out;
  EXPECT_TRUE(Has(r.out, "inet 127.0.0.1")) << r.out;
  // --network is the same flag; --rm left no container behind.
  Result r2 = Ok({"run", "--rm", "--network", n.name, Id("addr2"), "ip", "-o", "-4", "addr"});
  EXPECT_TRUE(Has(r2.out, "inet " + n.prefix)) << r2.out;
  EXPECT_EQ(Ok({"container", "ls", "-q"}).out, "");
}

TEST_F(LcctlNet, PublishedPortServesAnHttpdOnLoopback) {
  TestNetwork n = CreateNetwork();
  ASSERT_FALSE(networks_.empty());
  const int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  const std::string id = Id("web");
  const std::string published = "127.0.0.1:" + std::to_string(port) + ":80";
  Ok({"run", "-d", "--net", n.name, "-p", published, id, "sh", "-c",
      "mkdir -p /www && echo hello-from-lcctl-net > /www/index.html && exec httpd -f -p 80 -h "
      "/www"});

  std::string body;
  EXPECT_TRUE(lcdtest::Eventually(
      [&] {
        body = HttpGet(port);
        return Has(body, "hello-from-lcctl-net");
      },
      lcdtest::Scaled(std::chrono::seconds(20))))
      << "last response: " << body;
  EXPECT_TRUE(Has(body, "200")) << body;

  json info = Json(Ok({"container", "info", id}));
  ASSERT_TRUE(info["network"].is_object()) << info.dump();
  EXPECT_EQ(info["network"]["mode"], "bridge");
  EXPECT_EQ(info["network"]["network"], n.name);
  EXPECT_EQ(info["network"]["address"].get<std::string>().rfind(n.prefix, 0), 0u)
      << info["network"].dump();
  EXPECT_EQ(info["network"]["ports"], json::array({published + "/tcp"})) << info["network"];

  // network inspect lists the container.
  json ni = Json(Ok({"network", "inspect", n.name}));
  EXPECT_TRUE(ni["containers"].contains(id)) << ni.dump();

  Ok({"container", "rm", "-f", id});
  // The mapping went with the container: nothing answers there any more.
  EXPECT_TRUE(lcdtest::Eventually([&] { return HttpGet(port).empty(); },
                                  lcdtest::Scaled(std::chrono::seconds(5))));
}

TEST_F(LcctlNet, NetContainerJoinsTheOtherContainersAddress) {
  TestNetwork n = CreateNetwork();
  ASSERT_FALSE(networks_.empty());
  const std::string first = Id("first");
  Ok({"run", "-d", "--net", n.name, first, "sleep", lcdtest::ScaledSeconds(60)});
  json info = Json(Ok({"container", "info", first}));
  const std::string address = info["network"].value("ip_address", "");
  ASSERT_EQ(address.rfind(n.prefix, 0), 0u) << info["network"];
  Result r =
      Ok({"run", "--rm", "--net", "container:" + first, Id("joiner"), "ip", "-o", "-4", "addr"});
  EXPECT_TRUE(Has(r.out, "inet " + address + "/")) << r.out;
  // An unknown container to join: the library's error, nothing left.
  const std::string missing = "missing-" + RandomHex(6);
  Result bad = Fails({"run", "--rm", "--net", "container:" + missing, Id("joiner"), "true"});
  EXPECT_TRUE(Has(bad.err, missing)) << bad.err;
  Ok({"container", "rm", "-f", first});
  EXPECT_EQ(Ok({"container", "ls", "-q"}).out, "");
}

TEST_F(LcctlNet, NetNoneAndNoNetHaveOnlyLoopback) {
  for (std::vector<std::string> net : {std::vector<std::string>{"--net", "none"}, {}}) {
    std::vector<std::string> args{"run", "--rm"};
    args.insert(args.end(), net.begin(), net.end());
    args.insert(args.end(), {Id("none"), "ip", "-o", "link"});
    Result r = Ok(args);
    auto links = Lines(r.out);
    ASSERT_EQ(links.size(), 1u) << Describe(Argv(args), r);
    EXPECT_TRUE(Has(links[0], ": lo:")) << r.out;
  }
  // --net none is the library's namespace: container info shows it; without --net, no network.
  const std::string with = Id("withnone"), without = Id("without");
  Ok({"container", "create", "--net", "none", with, "true"});
  Ok({"container", "create", without, "true"});
  json a = Json(Ok({"container", "info", with}));
  EXPECT_EQ(a["network"]["mode"], "none") << a["network"];
  EXPECT_TRUE(Json(Ok({"container", "info", without}))["network"].is_null());
}

TEST_F(LcctlNet, DnsSearchAddHostAndHostnameAreSeenInside) {
  TestNetwork n = CreateNetwork();
  ASSERT_FALSE(networks_.empty());
  Result r = Ok({"run", "--rm", "--net", n.name, "--dns", "10.0.0.53", "--dns-search",
                 "example.test", "--dns-option", "ndots:2", "--add-host", "db:10.1.2.3",
                 "--hostname", "web", Id("dns"), "sh", "-c",
                 "cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; hostname; cat "
                 "/etc/hostname"});
  std::vector<std::string> parts;
  std::string cur;
  for (const auto& l : Lines(r.out)) {
    if (l == "---") {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += l + "\n";
    }
  }
  parts.push_back(cur);
  ASSERT_EQ(parts.size(), 3u) << r.out;
  const std::string& resolv = parts[0];
  const std::string& hosts = parts[1];
  EXPECT_TRUE(Has(resolv, "nameserver 10.0.0.53")) << resolv;
  EXPECT_FALSE(Has(resolv, "nameserver 127.")) << resolv;
  EXPECT_TRUE(Has(resolv, "search example.test")) << resolv;
  EXPECT_TRUE(Has(resolv, "ndots:2")) << resolv;
  bool db = false, self = false, localhost = false;
  for (const auto& l : Lines(hosts)) {
    std::istringstream in(l);
    std::vector<std::string> w;
    for (std::string x; in >> x;) w.push_back(x);
    if (w.size() < 2) continue;
    db |= w[0] == "10.1.2.3" && std::find(w.begin(), w.end(), "db") != w.end();
    self |= w[0].rfind(n.prefix, 0) == 0 && std::find(w.begin(), w.end(), "web") != w.end();
    localhost |= w[0] == "127.0.0.1" && std::find(w.begin(), w.end(), "localhost") != w.end();
  }
  EXPECT_TRUE(db) << hosts;
  EXPECT_TRUE(self) << hosts;
  EXPECT_TRUE(localhost) << hosts;
  EXPECT_EQ(parts[2], "web\nweb\n") << r.out;
}

TEST_F(LcctlNet, RemovingANetworkInUseFailsAndNamesTheContainer) {
  TestNetwork n = CreateNetwork();
  ASSERT_FALSE(networks_.empty());
  const std::string id = Id("user");
  Ok({"container", "create", "--net", n.name, id, "true"});
  Result r = Fails({"network", "rm", n.name});
  EXPECT_TRUE(Has(r.err, id)) << r.err;
  EXPECT_TRUE(Has(Ok({"network", "ls", "-q"}).out, n.name));
  Ok({"container", "rm", id});
  Ok({"network", "rm", n.name});
}

TEST_F(LcctlNet, BadNetworkInputFailsClearlyAndLeavesNoContainer) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::string unknown = "lcdnet-missing-" + RandomHex(6);
  for (const Case& c : std::vector<Case>{
           {{"-p", "99999:80"}, "invalid --publish \"99999:80\""},
           {{"-p", "80"}, "invalid --publish \"80\""},
           {{"-p", "8080:80/sctp"}, "invalid --publish"},
           {{"--net", "none", "-p", "8080:80"}, "--publish needs --net bridge"},
           {{"--add-host", "nocolon"}, "invalid --add-host \"nocolon\""},
           {{"--net", "container:"}, "invalid --net"},
           {{"--net", ""}, "empty value for --net"},
           {{"--dns", "1.2.3.4 5.6.7.8"}, "invalid --dns"},
           {{"--net", unknown}, unknown},
       }) {
    for (const char* cmd : {"run", "create"}) {
      std::vector<std::string> args;
      if (std::string(cmd) == "run")
        args = {"run", "--rm"};
      else
        args = {"container", "create"};
      args.insert(args.end(), c.args.begin(), c.args.end());
      args.insert(args.end(), {Id("bad"), "true"});
      Result r = Fails(args);
      EXPECT_TRUE(Has(r.err, c.says)) << Describe(Argv(args), r);
    }
  }
  EXPECT_EQ(Ok({"container", "ls", "-q"}).out, "");
}

}  // namespace
