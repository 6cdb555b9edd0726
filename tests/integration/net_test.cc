// Networking through net::Manager and the containerd backend (issue 16), on the real kernel
// with the CNI plugins of /usr/lib/cni: a published busybox httpd, two networks isolated from
// each other, the none/host/container:ID modes, the DNS files inside, nothing left after a
// delete, a process SIGKILLed after Attach reconciled by the next Client, 20 containers attached
// in parallel, and bad input that leaves nothing behind. Needs root.
//
// Each test has its own ManagerOptions in a scratch directory (state_dir, config_dir), its own
// default bridge ("lcdt" + 6 hex) and subnets from 10.88.201.0/24 up (10.89. on the direct
// backend: a test and its "direct." twin may run at once), so it never meets another test's
// network; TearDown deletes every container and removes every network (bridge and
// isolation rules with it), on failure too. Traffic goes only to 127.0.0.1 and to the test's own
// containers on its own bridges.
#include "libcontainerd/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/cio.h"
#include "libcontainerd/containerd.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/defaults.h"
#include "net/iptables.h"
#include "test_util.h"

namespace {

using namespace libcontainerd;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using json = nlohmann::json;

bool Has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string RandomHex(int n) {
  static std::mt19937_64 rng{std::random_device{}()};
  const char* digits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) s += digits[rng() % 16];
  return s;
}

// A TCP port of the host that is free now (bound to port 0 of every address, then closed).
uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) ::close(fd);
  return port;
}

// One HTTP/1.0 GET of /index.html from ip:port; the whole response, or "" when the connection
// fails or stalls for a second.
std::string HttpGet(const std::string& ip, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return "";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  const int timeout_ms = static_cast<int>(lcdtest::Scaled(1000ms).count());
  std::string out;
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    rc = (::poll(&p, 1, timeout_ms) == 1 &&
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
             ? 0
             : -1;
  }
  if (rc == 0) {
    const std::string req = "GET /index.html HTTP/1.0\r\nHost: " + ip + "\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) break;
        char buf[4096];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  return out;
}

std::string IptablesSave() { return lcdtest::RunCommand("/usr/sbin/iptables-save 2>/dev/null"); }
int CountLinesWith(const std::string& text, const std::string& part) {
  std::istringstream in(text);
  int n = 0;
  for (std::string l; std::getline(in, l);) n += Has(l, part);
  return n;
}
// The per-container chains of the CNI plugins (CNI-<hash> of bridge's masquerade, CNI-DN-<hash>
// of portmap) that hold a rule mentioning `part`; not the shared chains (CNI-HOSTPORT-*,
// CNI-FORWARD, CNI-ADMIN) nor the built-in ones.
std::set<std::string> ChainsWith(const std::string& text, const std::string& part) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("-A CNI-", 0) != 0 || !Has(l, part)) continue;
    const std::string chain = l.substr(3, l.find(' ', 3) - 3);
    if (chain.rfind("CNI-HOSTPORT-", 0) != 0 && chain != "CNI-FORWARD" && chain != "CNI-ADMIN")
      out.insert(chain);
  }
  return out;
}

// The interfaces enslaved to a bridge (its veths).
int BridgePorts(const std::string& bridge) {
  return lcdtest::CountEntries("/sys/class/net/" + bridge + "/brif");
}

// A shell command that fetches /index.html from ip:80 with busybox nc, giving up after `seconds`
// (busybox wget -T crashes in Debian's static busybox 1.35).
std::string Fetch(const std::string& ip, double seconds) {
  return "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w " +
         lcdtest::ScaledSeconds(seconds) + " " + ip + " 80";
}

// The page httpd serves.
constexpr const char* kPage = "hello from a container of net_test\n";

// A started container and what it prints.
struct Running {
  std::shared_ptr<Container> container;
  std::shared_ptr<Task> task;
  std::shared_ptr<cio::Captured> cap;
  net::Attachment at;
};

class NetTest : public ::testing::Test {
 protected:
  // The first two octets of this test's addresses: its twin on the other backend may run at the
  // same time, and a subnet in use is refused. Each backend has its own /16s; the first whose
  // x.192.0/18 (the thirds these tests use) no route or address of the host meets.
  const std::string n_ = FreePrefix(lcdtest::IsDirectBackend() ? std::vector<int>{89, 93, 95}
                                                               : std::vector<int>{88, 92, 94});

  static std::string FreePrefix(const std::vector<int>& seconds) {
    const std::string routes = lcdtest::RunCommand("/usr/sbin/ip -4 route show table all 2>&1") +
                               lcdtest::RunCommand("/usr/sbin/ip -4 -o addr show 2>&1");
    for (int second : seconds) {
      const std::string prefix = "10." + std::to_string(second) + ".";
      bool used = false;
      for (int third = 192; third < 256 && !used; ++third)
        used = routes.find(" " + prefix + std::to_string(third) + ".") != std::string::npos ||
               routes.find("\n" + prefix + std::to_string(third) + ".") != std::string::npos ||
               routes.rfind(prefix + std::to_string(third) + ".", 0) == 0;
      if (!used) return prefix;
      std::cerr << "NetTest: " << prefix << "192.0/18 is in use on this host, not taken:\n"
                << routes;
    }
    return "10." + std::to_string(seconds.front()) + ".";
  }

  void SetUp() override {
    scratch_ = std::make_unique<lcdtest::ScratchDir>("lcd-net");
    opts_.state_dir = scratch_->path() + "/state";
    opts_.config_dir = scratch_->path() + "/conf";
    opts_.default_bridge = "lcdt" + RandomHex(6);
    opts_.host_resolv_conf = scratch_->path() + "/host-resolv.conf";
    WriteFile(opts_.host_resolv_conf,
              "# the host's\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example.org\n"
              "options ndots:2\n");
    ns_ = lcdtest::UniqueId("nett");
  }

  // Starts the Manager and the Client; `default_subnet` for the default network.
  void Start(const std::string& default_subnet) {
    opts_.default_subnet = default_subnet;
    manager_ = net::NewManager(opts_);
    client_ = lcdtest::NewTestClient(ns_, nullptr, manager_);
    www_ = scratch_->path() + "/www";
    fs::create_directories(www_);
    WriteFile(www_ + "/index.html", kPage);
  }

  void TearDown() override {
    if (client_) {
      std::string err = lcdtest::DeleteAllContainers(*client_);
      EXPECT_EQ(err, "");
    }
    client_.reset();
    if (manager_) {
      try {
        for (const auto& n : manager_->ListNetworks()) manager_->RemoveNetwork(n.name);
      } catch (const Error& e) {
        ADD_FAILURE() << "remove networks: " << e.what();
      }
    }
    // Whatever a failed test left: our bridges and their isolation rules.
    for (const auto& b : bridges_) {
      try {
        net::RemoveIsolation(b);
        net::DeleteLink(b);
      } catch (const Error& e) {
        ADD_FAILURE() << "cleanup of bridge " << b << ": " << e.what();
      }
    }
    manager_.reset();
    // The Manager made its netns directory a mount point of its own (shared propagation), as
    // `ip netns` does with /run/netns; a test's scratch directory must not keep it.
    const std::string netns_dir = opts_.state_dir + "/netns";
    for (int i = 0; i < 8 && ::umount2(netns_dir.c_str(), MNT_DETACH) == 0; ++i) {
    }
    scratch_.reset();
  }

  static void WriteFile(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
  }

  net::Network MakeNetwork(const std::string& name, const std::string& subnet,
                           std::map<std::string, std::string> labels = {}) {
    net::NetworkCreateOptions o;
    o.subnet = subnet;
    o.labels = std::move(labels);
    o.bridge = "lcdt" + RandomHex(6);
    bridges_.push_back(o.bridge);
    try {
      return manager_->CreateNetwork(name, o);
    } catch (const Error& e) {
      if (subnet.rfind(n_, 0) == 0 && e.message().find("route of the host") != std::string::npos)
        std::cerr << "who holds " << subnet << ": the routes and addresses now:\n"
                  << lcdtest::RunCommand("/usr/sbin/ip -4 route show table all 2>&1")
                  << lcdtest::RunCommand("/usr/sbin/ip -4 -br addr show 2>&1");
      throw;
    }
  }

  oci::Spec SpecFor(const std::string& id, std::vector<std::string> args) {
    oci::SpecOptions o;
    o.id = id;
    o.ns = ns_;
    o.args = std::move(args);
    o.rootfs = lcdtest::Rootfs();
    oci::Mount m;
    m.destination = "/mnt";
    m.type = "bind";
    m.source = www_;
    m.options = {"rbind", "ro"};
    o.mounts.push_back(m);
    return oci::DefaultSpec(o);
  }

  std::shared_ptr<Container> Create(const std::string& id, std::vector<std::string> args,
                                    const net::NetworkRequest& req) {
    ContainerOptions co;
    co.network = req;
    return client_->NewContainer(ctx_, id, SpecFor(id, std::move(args)), "", RuncOptions{}, co);
  }

  Running Run(const std::string& id, std::vector<std::string> args,
              const net::NetworkRequest& req) {
    Running r;
    r.container = Create(id, std::move(args), req);
    r.cap = std::make_shared<cio::Captured>();
    r.task = r.container->NewTask(ctx_, "", false, cio::Capture(r.cap));
    r.task->Start(ctx_);
    auto at = manager_->Inspect(ns_, id);
    if (at) r.at = *at;
    return r;
  }

  // Runs `args` to its end in a new container; its output (stdout + stderr) and exit code.
  std::pair<std::string, uint32_t> RunToEnd(const std::string& id, std::vector<std::string> args,
                                            const net::NetworkRequest& req) {
    Running r = Run(id, std::move(args), req);
    ExitStatus st = r.task->Wait(Context::WithTimeout(lcdtest::Scaled(20s)));
    r.task->Delete(ctx_);
    r.container->Delete(ctx_);
    return {r.cap->Out() + r.cap->Err(), st.exit_code};
  }

  // Runs `args` in the running task; output and exit code.
  std::pair<std::string, uint32_t> Exec(Task& task, std::vector<std::string> args) {
    auto cap = std::make_shared<cio::Captured>();
    auto p = task.Exec(ctx_, "x" + RandomHex(8), lcdtest::ExecSpec(std::move(args)), false,
                       cio::Capture(cap));
    ExitStatus st = p->Wait(Context::WithTimeout(lcdtest::Scaled(20s)));
    p->Delete(ctx_);
    return {cap->Out() + cap->Err(), st.exit_code};
  }

  void StopAndDelete(Running& r) {
    r.task->Kill(ctx_, SIGKILL);
    r.task->Wait(Context::WithTimeout(lcdtest::Scaled(20s)));
    r.task->Delete(ctx_);
    r.container->Delete(ctx_);
  }

  // Nothing of a failed NewContainer is left: container, record, namespace file, veth.
  void ExpectNothingLeft(const std::string& why) {
    EXPECT_TRUE(client_->ListContainers(ctx_).empty()) << why;
    EXPECT_TRUE(manager_->List(ns_).empty()) << why;
    EXPECT_EQ(lcdtest::CountEntries(opts_.state_dir + "/netns"), 0) << why;
    EXPECT_EQ(lcdtest::CountEntries(opts_.state_dir + "/containers/" + ns_), 0) << why;
    EXPECT_EQ(BridgePorts(opts_.default_bridge), 0) << why;
  }

  // Lease files of host-local for `network` (its dataDir holds one file per address in use,
  // plus last_reserved_ip.0 and lock).
  int Leases(const std::string& network) {
    int n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(opts_.state_dir + "/ipam/" + network, ec)) {
      const std::string f = e.path().filename().string();
      n += f != "lock" && f.rfind("last_reserved_ip", 0) != 0;
    }
    return n;
  }

  // Runs NetTestChild.AttachesThenKillsItself in a child process (fork + exec of this binary)
  // with `args`, and expects it to die of SIGKILL.
  static void RunKilledChild(const json& args) {
    const std::string env = "LCD_NET_TEST_CHILD=" + args.dump();
    pid_t pid = ::fork();
    if (pid == 0) {
      char arg1[] = "--gtest_filter=NetTestChild.AttachesThenKillsItself";
      char* argv[] = {const_cast<char*>("net_child"), arg1, nullptr};
      ::putenv(const_cast<char*>(env.c_str()));
      ::execv("/proc/self/exe", argv);
      ::_exit(127);
    }
    ASSERT_GT(pid, 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  }

  // A network's conflist as an earlier version of the Manager wrote it: the bridge plugin
  // masquerading per container (ipMasq), portmap, and the firewall plugin.
  json OldConflist(const std::string& name, const std::string& bridge, const std::string& subnet) {
    const std::string gateway = subnet.substr(0, subnet.rfind('.')) + ".1";
    json ipam = {
        {"type", "host-local"},
        {"dataDir", opts_.state_dir + "/ipam"},
        {"ranges", json::array({json::array({{{"subnet", subnet}, {"gateway", gateway}}})})},
        {"routes", json::array({{{"dst", "0.0.0.0/0"}}})}};
    return {{"cniVersion", "1.0.0"},
            {"name", name},
            {"libcontainerd", {{"labels", json::object()}, {"created_by", "libcontainerd"}}},
            {"plugins",
             json::array(
                 {{{"type", "bridge"},
                   {"bridge", bridge},
                   {"isGateway", true},
                   {"ipMasq", true},
                   {"hairpinMode", true},
                   {"ipam", ipam}},
                  {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}, {"snat", true}},
                  {{"type", "firewall"}}})}};
  }

  // The plugin types of the list a container's record keeps (the list its ADD ran).
  std::vector<std::string> RecordPlugins(const std::string& id) {
    json rec = json::parse(
        lcdtest::Slurp(opts_.state_dir + "/containers/" + ns_ + "/" + id + "/attachment.json"),
        nullptr, false);
    std::vector<std::string> out;
    if (!rec.is_object() || !rec["conflist"].is_object()) return out;
    for (const auto& p : rec["conflist"]["plugins"]) out.push_back(p.value("type", ""));
    return out;
  }

  static net::NetworkRequest Bridge(const std::string& network = "") {
    net::NetworkRequest r;
    r.mode = net::Mode::kBridge;
    r.network = network;
    return r;
  }

  std::unique_ptr<lcdtest::ScratchDir> scratch_;
  net::ManagerOptions opts_;
  std::shared_ptr<net::Manager> manager_;
  std::shared_ptr<Client> client_;
  std::string ns_;
  std::string www_;
  std::vector<std::string> bridges_;
  Context ctx_;
};

// (1) A busybox httpd on the default bridge with -p HOSTPORT:80: the page comes back through
// 127.0.0.1:HOSTPORT and through the container's own address.
TEST_F(NetTest, PublishedHttpdOnTheDefaultBridgeServesLoopbackAndItsOwnAddress) {
  Start(n_ + "201.0/24");
  bridges_.push_back(opts_.default_bridge);
  const uint16_t port = FreePort();
  ASSERT_NE(port, 0);
  net::NetworkRequest req = Bridge();
  req.ports.push_back(net::ParsePortMapping(std::to_string(port) + ":80"));
  Running web = Run(lcdtest::UniqueId("web"), {"httpd", "-f", "-p", "80", "-h", "/mnt"}, req);
  EXPECT_EQ(web.at.network, net::kDefaultNetwork);
  EXPECT_TRUE(web.at.ip_address.rfind(n_ + "201.", 0) == 0) << web.at.ip_address;
  EXPECT_EQ(web.at.prefix_length, 24);
  EXPECT_EQ(web.at.gateway, n_ + "201.1");
  EXPECT_EQ(web.at.interface, "eth0");
  const net::Network def = manager_->InspectNetwork(net::kDefaultNetwork);
  EXPECT_EQ(def.bridge, opts_.default_bridge);
  EXPECT_EQ(def.subnet, n_ + "201.0/24");

  std::string body;
  EXPECT_TRUE(lcdtest::Eventually(
      [&] {
        body = HttpGet("127.0.0.1", port);
        return Has(body, kPage);
      },
      lcdtest::Scaled(10s)))
      << "through 127.0.0.1:" << port << ": " << body << " httpd: " << web.cap->Err();
  body = HttpGet(web.at.ip_address, 80);
  EXPECT_TRUE(Has(body, kPage)) << "through " << web.at.ip_address << ":80: " << body;
  StopAndDelete(web);
  EXPECT_EQ(HttpGet("127.0.0.1", port), "") << "the port is still served after the delete";
}

// (2) Two containers on one named network reach each other by address; a container on another
// network does not reach them.
TEST_F(NetTest, ContainersReachEachOtherOnOneNetworkAndNotAcrossTwo) {
  Start(n_ + "202.0/24");
  const net::Network front = MakeNetwork("front", n_ + "203.0/24", {{"team", "web"}});
  MakeNetwork("back", n_ + "204.0/24");
  EXPECT_EQ(front.driver, "bridge");
  EXPECT_EQ(front.subnet, n_ + "203.0/24");
  EXPECT_EQ(front.gateway, n_ + "203.1");
  EXPECT_EQ(front.labels, (std::map<std::string, std::string>{{"team", "web"}}));
  EXPECT_EQ(front.config_path, opts_.config_dir + "/front.conflist");
  EXPECT_EQ(manager_->InspectNetwork("front"), front);
  EXPECT_EQ(manager_->ListNetworks().size(), 2u);
  Running web =
      Run(lcdtest::UniqueId("web"), {"httpd", "-f", "-p", "80", "-h", "/mnt"}, Bridge("front"));
  Running peer = Run(lcdtest::UniqueId("peer"), {"sleep", "120"}, Bridge("front"));
  Running stranger = Run(lcdtest::UniqueId("stranger"), {"sleep", "120"}, Bridge("back"));
  ASSERT_TRUE(web.at.ip_address.rfind(n_ + "203.", 0) == 0) << web.at.ip_address;
  ASSERT_TRUE(stranger.at.ip_address.rfind(n_ + "204.", 0) == 0) << stranger.at.ip_address;
  std::pair<std::string, uint32_t> got;
  EXPECT_TRUE(lcdtest::Eventually(
      [&] {
        got = Exec(*peer.task, {"sh", "-c", Fetch(web.at.ip_address, 2)});
        return got.second == 0 && Has(got.first, kPage);
      },
      lcdtest::Scaled(10s)))
      << "same network: " << got.first << " (exit " << got.second << ")";
  const auto t0 = std::chrono::steady_clock::now();
  got = Exec(*stranger.task, {"sh", "-c", Fetch(web.at.ip_address, 2)});
  EXPECT_NE(got.second, 0u) << "across networks: " << got.first;
  EXPECT_FALSE(Has(got.first, kPage)) << got.first;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, lcdtest::Scaled(15s));
  // And the other way round.
  got = Exec(*web.task, {"sh", "-c", Fetch(stranger.at.ip_address, 2)});
  EXPECT_NE(got.second, 0u) << got.first;
  // The isolation rules of both bridges exist while the networks do.
  const std::string rules = IptablesSave();
  for (const auto& name : {"front", "back"}) {
    const std::string br = manager_->InspectNetwork(name).bridge;
    EXPECT_EQ(CountLinesWith(rules, "-A LCD-ISOLATION-STAGE-2 -o " + br + " -j DROP"), 1) << rules;
  }
  StopAndDelete(web);
  StopAndDelete(peer);
  StopAndDelete(stranger);
  const std::string back_bridge = manager_->InspectNetwork("back").bridge;
  manager_->RemoveNetwork("back");
  EXPECT_EQ(CountLinesWith(IptablesSave(), " " + back_bridge + " "), 0)
      << "isolation rules of a removed network are left";
  EXPECT_FALSE(net::LinkExists(back_bridge));
}

// (3) none: only lo. host: the host's network namespace. container:ID: the other container's
// address.
TEST_F(NetTest, NoneHasOnlyLoHostIsTheHostsAndContainerModeSharesTheAddress) {
  Start(n_ + "205.0/24");
  bridges_.push_back(opts_.default_bridge);
  net::NetworkRequest none;
  none.mode = net::Mode::kNone;
  auto [links, code] = RunToEnd(lcdtest::UniqueId("none"), {"ip", "-o", "link"}, none);
  EXPECT_EQ(code, 0u) << links;
  EXPECT_EQ(CountLinesWith(links, ": "), 1) << links;
  EXPECT_TRUE(Has(links, ": lo:")) << links;
  EXPECT_TRUE(Has(links, "UP") || Has(links, "LOOPBACK,UP")) << links;

  net::NetworkRequest host;
  host.mode = net::Mode::kHost;
  auto [ns_link, code2] =
      RunToEnd(lcdtest::UniqueId("host"), {"readlink", "/proc/self/ns/net"}, host);
  EXPECT_EQ(code2, 0u) << ns_link;
  EXPECT_EQ(ns_link, fs::read_symlink("/proc/self/ns/net").string() + "\n");

  Running a = Run(lcdtest::UniqueId("owner"), {"sleep", "120"}, Bridge());
  net::NetworkRequest join;
  join.mode = net::Mode::kContainer;
  join.container = a.container->ID();
  Running b = Run(lcdtest::UniqueId("joiner"), {"sleep", "120"}, join);
  EXPECT_EQ(b.at.ip_address, a.at.ip_address);
  EXPECT_EQ(b.at.netns_path, a.at.netns_path);
  auto [addr, code3] = Exec(*b.task, {"ip", "-o", "-4", "addr", "show", "eth0"});
  EXPECT_EQ(code3, 0u) << addr;
  EXPECT_TRUE(Has(addr, " " + a.at.ip_address + "/24")) << addr;
  StopAndDelete(b);
  StopAndDelete(a);
}

// (4) /etc/hosts, /etc/resolv.conf and /etc/hostname inside.
TEST_F(NetTest, HostsResolvConfAndHostnameInsideFollowTheRules) {
  Start(n_ + "206.0/24");
  bridges_.push_back(opts_.default_bridge);
  net::NetworkRequest req = Bridge();
  req.extra_hosts.push_back(net::ParseHostEntry("db.test:10.1.2.3"));
  const std::string id = lcdtest::UniqueId("filesinside-long-id");
  Running r = Run(id, {"sleep", "120"}, req);
  const std::string hostname = id.substr(0, 12);
  EXPECT_EQ(r.at.hostname, hostname);
  auto [hosts, c1] = Exec(*r.task, {"cat", "/etc/hosts"});
  EXPECT_EQ(c1, 0u);
  EXPECT_EQ(hosts, lcdtest::Slurp(r.at.hosts_path));
  EXPECT_TRUE(Has(hosts, "127.0.0.1\tlocalhost") || Has(hosts, "127.0.0.1 localhost")) << hosts;
  EXPECT_TRUE(Has(hosts, "10.1.2.3\tdb.test") || Has(hosts, "10.1.2.3 db.test")) << hosts;
  EXPECT_TRUE(Has(hosts, r.at.ip_address + "\t" + hostname) ||
              Has(hosts, r.at.ip_address + " " + hostname))
      << hosts;
  auto [resolv, c2] = Exec(*r.task, {"cat", "/etc/resolv.conf"});
  EXPECT_EQ(c2, 0u);
  EXPECT_TRUE(Has(resolv, "nameserver 10.0.0.2")) << resolv;
  EXPECT_FALSE(Has(resolv, "127.0.0.53"))
      << "a loopback resolver of the host is inside: " << resolv;
  EXPECT_TRUE(Has(resolv, "search example.org")) << resolv;
  EXPECT_TRUE(Has(resolv, "ndots:2")) << resolv;
  auto [name_file, c3] = Exec(*r.task, {"cat", "/etc/hostname"});
  EXPECT_EQ(name_file, hostname + "\n");
  auto [name, c4] = Exec(*r.task, {"hostname"});
  EXPECT_EQ(name, hostname + "\n");
  EXPECT_EQ(c3 + c4, 0u);
  StopAndDelete(r);

  // The DNS options replace the host's; a hostname of the caller's.
  net::NetworkRequest own = Bridge();
  own.dns_servers = {"10.0.0.9"};
  own.dns_search = {"corp.test"};
  own.hostname = "myhost";
  auto [out, c5] = RunToEnd(lcdtest::UniqueId("dns"),
                            {"sh", "-c", "cat /etc/resolv.conf; hostname; cat /etc/hostname"}, own);
  EXPECT_EQ(c5, 0u) << out;
  EXPECT_TRUE(Has(out, "nameserver 10.0.0.9")) << out;
  EXPECT_FALSE(Has(out, "10.0.0.2")) << out;
  EXPECT_TRUE(Has(out, "search corp.test")) << out;
  EXPECT_FALSE(Has(out, "example.org")) << out;
  EXPECT_TRUE(Has(out, "myhost\nmyhost\n")) << out;
}

// (5) After the delete: no veth, no iptables rule of the container, no lease, no namespace file,
// no record.
TEST_F(NetTest, DeleteLeavesNoVethRuleLeaseNamespaceOrRecord) {
  Start(n_ + "207.0/24");
  bridges_.push_back(opts_.default_bridge);
  manager_->CreateNetwork(net::kDefaultNetwork,
                          {.subnet = n_ + "207.0/24", .bridge = opts_.default_bridge});
  const uint16_t port = FreePort();
  net::NetworkRequest req = Bridge();
  req.ports.push_back(net::ParsePortMapping("127.0.0.1:" + std::to_string(port) + ":80"));
  const std::string id = lcdtest::UniqueId("clean");
  Running r = Run(id, {"sleep", "120"}, req);
  const std::string ip = r.at.ip_address;
  ASSERT_FALSE(ip.empty());
  const std::string during = IptablesSave();
  EXPECT_GT(CountLinesWith(during, ip), 0) << "no rule names the container's address: " << during;
  EXPECT_EQ(BridgePorts(opts_.default_bridge), 1);
  EXPECT_EQ(Leases(net::kDefaultNetwork), 1);
  EXPECT_TRUE(fs::exists(r.at.netns_path));
  EXPECT_TRUE(fs::exists(opts_.state_dir + "/ipam/" + net::kDefaultNetwork + "/" + ip));
  StopAndDelete(r);

  const std::string after = IptablesSave();
  EXPECT_EQ(CountLinesWith(after, ip), 0) << after;
  EXPECT_EQ(CountLinesWith(after, id), 0) << after;
  // Only the network's own masquerade rule names its subnet (it stays while the network does).
  EXPECT_EQ(CountLinesWith(after, "-A LCD-POSTROUTING -s " + n_ + "207.0/24 "), 1) << after;
  EXPECT_EQ(CountLinesWith(after, n_ + "207."), 1) << after;
  // The chains of this container (portmap's DNAT chain: its rules name the container; the
  // network's masquerade rule is the network's, not a chain per container) are gone, not only
  // emptied; the shared chains (CNI-HOSTPORT-*, CNI-FORWARD, CNI-ADMIN) stay, as the plugins
  // leave them.
  auto own = ChainsWith(during, id);
  own.merge(ChainsWith(during, ip + ":"));
  EXPECT_GE(own.size(), 1u) << during;
  for (const auto& chain : own)
    EXPECT_EQ(CountLinesWith(after, ":" + chain + " "), 0) << chain << " is left: " << after;
  EXPECT_EQ(BridgePorts(opts_.default_bridge), 0) << "a veth is left on the bridge";
  EXPECT_EQ(Leases(net::kDefaultNetwork), 0) << "the IPAM lease is left";
  EXPECT_FALSE(fs::exists(r.at.netns_path));
  EXPECT_FALSE(manager_->Inspect(ns_, id).has_value());
  EXPECT_FALSE(fs::exists(opts_.state_dir + "/containers/" + ns_ + "/" + id));
}

// The child of the Killed* tests (a fresh process: this test binary executed again with
// LCD_NET_TEST_CHILD set, see NetTest::RunKilledChild): attaches a container's network with its
// own Manager, then SIGKILLs itself before any container is created (or is killed during the
// CNI ADD by a plugin of the test). Without the variable (a normal run) it has nothing to do.
TEST(NetTestChild, AttachesThenKillsItself) {
  const char* env = std::getenv("LCD_NET_TEST_CHILD");
  if (!env) return;
  json j = json::parse(env);
  net::ManagerOptions o;
  o.state_dir = j["state_dir"];
  o.config_dir = j["config_dir"];
  o.default_bridge = j["bridge"];
  o.default_subnet = j["subnet"];
  if (j.contains("plugin_dirs")) o.plugin_dirs = j["plugin_dirs"].get<std::vector<std::string>>();
  auto m = net::NewManager(o);
  net::NetworkRequest req;
  req.mode = net::Mode::kBridge;
  req.ports.push_back(net::ParsePortMapping(j["port"].get<std::string>()));
  oci::Spec spec;
  m->Attach(Context(), j["ns"], j["id"], req, spec);
  ::raise(SIGKILL);
}

// (6) A process SIGKILLed between CNI ADD and creating its container: the next Client with the
// same Manager options releases everything of that container.
TEST_F(NetTest, KilledAfterAttachIsReleasedByTheNextClientsReconcile) {
  Start(n_ + "208.0/24");
  bridges_.push_back(opts_.default_bridge);
  const std::string id = lcdtest::UniqueId("killed");
  const uint16_t port = FreePort();
  json j = {{"state_dir", opts_.state_dir},
            {"config_dir", opts_.config_dir},
            {"bridge", opts_.default_bridge},
            {"subnet", opts_.default_subnet},
            {"ns", ns_},
            {"id", id},
            {"port", "127.0.0.1:" + std::to_string(port) + ":80"}};
  ASSERT_NO_FATAL_FAILURE(RunKilledChild(j));

  // What the killed process left.
  auto left = manager_->Inspect(ns_, id);
  ASSERT_TRUE(left.has_value());
  const std::string ip = left->ip_address;
  ASSERT_FALSE(ip.empty());
  EXPECT_TRUE(fs::exists(left->netns_path));
  EXPECT_EQ(Leases(net::kDefaultNetwork), 1);
  EXPECT_EQ(BridgePorts(opts_.default_bridge), 1);
  const std::string during = IptablesSave();
  EXPECT_GT(CountLinesWith(during, ip), 0);
  auto own = ChainsWith(during, id);
  own.merge(ChainsWith(during, ip + ":"));
  EXPECT_GE(own.size(), 1u) << during;  // portmap's DNAT chain

  // A new Client (new Manager, same options) reconciles at its start.
  auto m2 = net::NewManager(opts_);
  auto c2 = lcdtest::NewTestClient(ns_, nullptr, m2);
  EXPECT_FALSE(m2->Inspect(ns_, id).has_value());
  EXPECT_FALSE(fs::exists(left->netns_path));
  EXPECT_EQ(Leases(net::kDefaultNetwork), 0);
  EXPECT_EQ(BridgePorts(opts_.default_bridge), 0);
  const std::string after = IptablesSave();
  EXPECT_EQ(CountLinesWith(after, ip), 0) << after;
  for (const auto& chain : own)
    EXPECT_EQ(CountLinesWith(after, ":" + chain + " "), 0) << chain << " is left: " << after;
  EXPECT_EQ(HttpGet("127.0.0.1", port), "");
}

// (6, during ADD) A process SIGKILLed in the middle of the CNI ADD (a "firewall" plugin of the
// test kills it after bridge and portmap have run): its record is left "adding", without the ADD
// result; the next Client releases the address, the veth, the port rules and the namespace.
TEST_F(NetTest, KilledDuringCniAddIsReleasedByTheNextClientsReconcile) {
  Start(n_ + "213.0/24");
  bridges_.push_back(opts_.default_bridge);
  const std::string killer = scratch_->path() + "/killer";
  fs::create_directories(killer);
  WriteFile(killer + "/firewall", "#!/bin/sh\nkill -KILL $PPID\nexit 1\n");
  fs::permissions(killer + "/firewall", fs::perms::owner_all);
  // The default network as an earlier version made it (bridge with ipMasq, portmap, firewall):
  // this version's lists have no firewall plugin.
  fs::create_directories(opts_.config_dir);
  WriteFile(opts_.config_dir + "/bridge.conflist",
            OldConflist(net::kDefaultNetwork, opts_.default_bridge, n_ + "213.0/24").dump(2));
  const std::string id = lcdtest::UniqueId("killedadd");
  const uint16_t port = FreePort();
  json j = {{"state_dir", opts_.state_dir},
            {"config_dir", opts_.config_dir},
            {"bridge", opts_.default_bridge},
            {"subnet", opts_.default_subnet},
            {"plugin_dirs", {killer, "/usr/lib/cni"}},
            {"ns", ns_},
            {"id", id},
            {"port", "127.0.0.1:" + std::to_string(port) + ":80"}};
  ASSERT_NO_FATAL_FAILURE(RunKilledChild(j));

  const std::string record = opts_.state_dir + "/containers/" + ns_ + "/" + id + "/attachment.json";
  json rec = json::parse(lcdtest::Slurp(record), nullptr, false);
  ASSERT_TRUE(rec.is_object()) << record;
  EXPECT_EQ(rec.value("state", ""), "adding");
  EXPECT_TRUE(rec["result"].is_null());
  EXPECT_EQ(Leases(net::kDefaultNetwork), 1);
  EXPECT_EQ(BridgePorts(opts_.default_bridge), 1);
  std::string ip;
  for (const auto& e : fs::directory_iterator(opts_.state_dir + "/ipam/" + net::kDefaultNetwork))
    if (e.path().filename().string().rfind(n_ + "213.", 0) == 0) ip = e.path().filename();
  ASSERT_FALSE(ip.empty());
  const std::string during = IptablesSave();
  auto own = ChainsWith(during, id);
  own.merge(ChainsWith(during, ip + ":"));
  EXPECT_GE(own.size(), 2u) << during;

  auto m2 = net::NewManager(opts_);
  auto c2 = lcdtest::NewTestClient(ns_, nullptr, m2);
  EXPECT_FALSE(m2->Inspect(ns_, id).has_value());
  EXPECT_FALSE(fs::exists(record));
  EXPECT_EQ(lcdtest::CountEntries(opts_.state_dir + "/netns"), 0);
  EXPECT_EQ(Leases(net::kDefaultNetwork), 0);
  EXPECT_EQ(BridgePorts(opts_.default_bridge), 0);
  const std::string after = IptablesSave();
  EXPECT_EQ(CountLinesWith(after, ip + ":"), 0) << after;
  EXPECT_EQ(CountLinesWith(after, id), 0) << after;
  for (const auto& chain : own)
    EXPECT_EQ(CountLinesWith(after, ":" + chain + " "), 0) << chain << " is left: " << after;
}

// (7) 20 containers created in parallel on one bridge: 20 distinct addresses, all released.
TEST_F(NetTest, TwentyContainersInParallelGetDistinctAddressesAllReleased) {
  Start(n_ + "209.0/24");
  bridges_.push_back(opts_.default_bridge);
  constexpr int kN = 20;
  std::vector<std::string> ids(kN);
  std::vector<std::string> errors(kN);
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i) {
    ids[i] = lcdtest::UniqueId("par");
    threads.emplace_back([&, i] {
      try {
        Create(ids[i], {"true"}, Bridge());
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> addresses;
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(errors[i], "") << ids[i];
    auto at = manager_->Inspect(ns_, ids[i]);
    if (!at) continue;
    EXPECT_TRUE(at->ip_address.rfind(n_ + "209.", 0) == 0) << at->ip_address;
    addresses.insert(at->ip_address);
  }
  EXPECT_EQ(addresses.size(), static_cast<size_t>(kN));
  EXPECT_EQ(Leases(net::kDefaultNetwork), kN);
  EXPECT_EQ(BridgePorts(opts_.default_bridge), kN);
  threads.clear();
  for (int i = 0; i < kN; ++i)
    threads.emplace_back([&, i] {
      try {
        client_->LoadContainer(ctx_, ids[i])->Delete(ctx_);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kN; ++i) EXPECT_EQ(errors[i], "") << ids[i];
  EXPECT_EQ(Leases(net::kDefaultNetwork), 0);
  EXPECT_EQ(BridgePorts(opts_.default_bridge), 0);
  EXPECT_EQ(lcdtest::CountEntries(opts_.state_dir + "/netns"), 0);
  EXPECT_TRUE(manager_->List(ns_).empty());
}

// Bad input: each a clear error, and nothing left behind.
TEST_F(NetTest, BadInputIsAClearErrorAndLeavesNothing) {
  Start(n_ + "210.0/24");
  bridges_.push_back(opts_.default_bridge);

  // A malformed -p.
  for (const char* bad : {"80", "abc:80", "8080:80/sctp", "70000:80", "1.2.3:80:80"}) {
    try {
      net::ParsePortMapping(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << bad;
      EXPECT_TRUE(Has(e.message(), bad)) << e.what();
    }
  }

  // A host port bound by another program.
  {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    const uint16_t port = ntohs(a.sin_port);
    net::NetworkRequest req = Bridge();
    req.ports.push_back(net::ParsePortMapping(std::to_string(port) + ":80"));
    try {
      Create(lcdtest::UniqueId("busyport"), {"true"}, req);
      ADD_FAILURE() << "a host port in use was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kAlreadyExists) << e.what();
      EXPECT_TRUE(Has(e.message(), std::to_string(port))) << e.what();
    }
    ::close(fd);
    ExpectNothingLeft("host port in use");
  }

  // A host port another container publishes.
  {
    const uint16_t port = FreePort();
    net::NetworkRequest req = Bridge();
    req.ports.push_back(net::ParsePortMapping("127.0.0.1:" + std::to_string(port) + ":80"));
    auto first = Create(lcdtest::UniqueId("first"), {"true"}, req);
    try {
      Create(lcdtest::UniqueId("second"), {"true"}, req);
      ADD_FAILURE() << "a published host port was published twice";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kAlreadyExists) << e.what();
      EXPECT_TRUE(Has(e.message(), std::to_string(port))) << e.what();
      EXPECT_TRUE(Has(e.message(), first->ID())) << e.what();
    }
    EXPECT_EQ(client_->ListContainers(ctx_).size(), 1u);
    EXPECT_EQ(manager_->List(ns_).size(), 1u);

    // Deleting a network in use.
    try {
      manager_->RemoveNetwork(net::kDefaultNetwork);
      ADD_FAILURE() << "a network in use was removed";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
      EXPECT_TRUE(Has(e.message(), first->ID())) << e.what();
    }
    EXPECT_TRUE(net::LinkExists(opts_.default_bridge));
    first->Delete(ctx_);
    ExpectNothingLeft("after the first container");
  }

  // An unknown network.
  try {
    Create(lcdtest::UniqueId("nonet"), {"true"}, Bridge("no-such-net"));
    ADD_FAILURE() << "an unknown network was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
    EXPECT_TRUE(Has(e.message(), "no-such-net")) << e.what();
    EXPECT_TRUE(Has(e.message(), "network ls")) << e.what();
  }
  ExpectNothingLeft("unknown network");

  // Ports with a mode other than bridge.
  {
    net::NetworkRequest req;
    req.mode = net::Mode::kNone;
    req.ports.push_back(net::ParsePortMapping("8080:80"));
    EXPECT_ERROR_KIND(Create(lcdtest::UniqueId("noneport"), {"true"}, req),
                      ErrorKind::kInvalidArgument);
    ExpectNothingLeft("ports with none");
  }

  // Subnets that overlap another network or a route of the host; bad names.
  MakeNetwork("taken", n_ + "211.0/24");
  try {
    MakeNetwork("overlap", n_ + "211.128/25");
    ADD_FAILURE() << "an overlapping subnet was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
    EXPECT_TRUE(Has(e.message(), "taken")) << e.what();
  }
  try {
    MakeNetwork("loopy", "127.0.0.0/24");
    ADD_FAILURE() << "a subnet overlapping the host's loopback route was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
    EXPECT_TRUE(Has(e.message(), "route")) << e.what();
  }
  EXPECT_ERROR_KIND(MakeNetwork("bad name!", n_ + "212.0/24"), ErrorKind::kInvalidArgument);
  EXPECT_ERROR_KIND(MakeNetwork("taken", n_ + "212.0/24"), ErrorKind::kAlreadyExists);
  EXPECT_ERROR_KIND(manager_->CreateNetwork("longbridge", {.subnet = n_ + "212.0/24",
                                                           .bridge = "a-very-long-bridge-name"}),
                    ErrorKind::kInvalidArgument);
  EXPECT_ERROR_KIND(manager_->RemoveNetwork("no-such-net"), ErrorKind::kNotFound);
  EXPECT_EQ(manager_->ListNetworks().size(), 2u);  // bridge, taken

  // A malformed conflist: the error names the file and the field.
  const std::string broken = opts_.config_dir + "/broken.conflist";
  WriteFile(broken,
            R"({"cniVersion": "1.0.0", "name": "broken", "plugins": [{"bridge": "lcdtx"}]})");
  try {
    Create(lcdtest::UniqueId("broken"), {"true"}, Bridge("broken"));
    ADD_FAILURE() << "a malformed conflist was used";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    EXPECT_TRUE(Has(e.what(), broken)) << e.what();
    EXPECT_TRUE(Has(e.what(), "plugins[0].type")) << e.what();
  }
  ::unlink(broken.c_str());
  ExpectNothingLeft("malformed conflist");

  // A missing plugin: names the plugin and the Debian package.
  {
    const std::string empty = scratch_->path() + "/no-plugins";
    fs::create_directories(empty);
    net::ManagerOptions o = opts_;
    o.plugin_dirs = {empty};
    auto m = net::NewManager(o);
    auto c = lcdtest::NewTestClient(ns_, nullptr, m);
    ContainerOptions copts;
    copts.network = Bridge();
    const std::string id = lcdtest::UniqueId("noplugin");
    try {
      c->NewContainer(ctx_, id, SpecFor(id, {"true"}), "", RuncOptions{}, copts);
      ADD_FAILURE() << "a missing plugin was not noticed";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
      EXPECT_TRUE(Has(e.message(), "bridge")) << e.what();
      EXPECT_TRUE(Has(e.message(), "containernetworking-plugins")) << e.what();
    }
    ExpectNothingLeft("missing plugin");
  }
}

// (8) A network of this version: its forward and masquerade rules are made once at create
// (no firewall plugin, no ipMasq in the list), a container without ports runs the list without
// portmap and leaves no rule of its own, and the network's outside traffic is masqueraded: a
// listener in a namespace of the test, reached from the host through a veth (the host's own
// 10.88.251.1/30, the namespace's .2, no route back to the bridge's subnet), sees the
// connection come from the host's address. No traffic leaves the host.
TEST_F(NetTest, NetworkRulesAreMadeOnceAndItsContainersAreMasqueraded) {
  Start(n_ + "214.0/24");
  const net::Network n = MakeNetwork("rules", n_ + "215.0/24");
  const json conf = json::parse(lcdtest::Slurp(n.config_path));
  std::vector<std::string> types;
  for (const auto& p : conf["plugins"]) types.push_back(p.value("type", ""));
  EXPECT_EQ(types, (std::vector<std::string>{"bridge", "portmap"})) << conf.dump();
  EXPECT_EQ(conf["plugins"][0]["ipMasq"], false) << conf.dump();
  const std::string br = n.bridge;
  const std::string masq =
      "-A LCD-POSTROUTING -s " + n_ + "215.0/24 ! -d 224.0.0.0/4 ! -o " + br + " -j MASQUERADE";
  const std::string fwd_in = "-A LCD-FORWARD -i " + br + " -j ACCEPT";
  const std::string fwd_back =
      "-A LCD-FORWARD -o " + br + " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT";
  std::string rules = IptablesSave();
  EXPECT_EQ(CountLinesWith(rules, masq), 1) << rules;
  EXPECT_EQ(CountLinesWith(rules, fwd_in), 1) << rules;
  EXPECT_EQ(CountLinesWith(rules, fwd_back), 1) << rules;
  EXPECT_EQ(CountLinesWith(rules, "-A FORWARD -j LCD-FORWARD"), 1) << rules;
  EXPECT_EQ(CountLinesWith(rules, "-A POSTROUTING -j LCD-POSTROUTING"), 1) << rules;
  // Ensuring again adds nothing; the isolation jump stays the first rule of FORWARD.
  net::EnsureNetworkRules({.bridge = br, .forward = true, .subnet = n_ + "215.0/24"});
  rules = IptablesSave();
  EXPECT_EQ(CountLinesWith(rules, masq), 1) << rules;
  EXPECT_EQ(CountLinesWith(rules, fwd_in), 1) << rules;
  EXPECT_EQ(CountLinesWith(rules, "-A LCD-ISOLATION-STAGE-2 -o " + br + " -j DROP"), 1) << rules;
  EXPECT_EQ(CountLinesWith(rules, "-A FORWARD -j LCD-FORWARD"), 1) << rules;
  EXPECT_TRUE(Has(lcdtest::RunCommand("/usr/sbin/iptables -S FORWARD 2>/dev/null"),
                  "-P FORWARD ACCEPT\n-A FORWARD -j LCD-ISOLATION-STAGE-1\n"));

  // The namespace "outside", through a veth of the host.
  const std::string suffix = RandomHex(6);
  const std::string outside = "lcdtout" + suffix, host_if = "lcdtoh" + suffix;
  struct Cleanup {
    std::string ns, link;
    ~Cleanup() {
      lcdtest::RunCommand(("/usr/sbin/ip link del " + link + " 2>/dev/null").c_str());
      lcdtest::RunCommand(("/usr/sbin/ip netns del " + ns + " 2>/dev/null").c_str());
    }
  } cleanup{outside, host_if};
  const std::string setup = "/usr/sbin/ip netns add " + outside + " && /usr/sbin/ip link add " +
                            host_if + " type veth peer name eth0 netns " + outside +
                            " && /usr/sbin/ip addr add " + n_ + "251.1/30 dev " + host_if +
                            " && /usr/sbin/ip link set " + host_if + " up && /usr/sbin/ip -n " +
                            outside + " addr add " + n_ + "251.2/30 dev eth0 && /usr/sbin/ip -n " +
                            outside + " link set eth0 up && echo ok";
  ASSERT_EQ(lcdtest::RunCommand((setup + " 2>&1").c_str()), "ok\n");
  // A listener in that namespace (a socket stays in the namespace it was made in).
  int listener = -1;
  std::thread([&] {
    int nsfd = ::open(("/run/netns/" + outside).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd >= 0 && ::setns(nsfd, CLONE_NEWNET) == 0) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(8080);
      if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
          ::listen(fd, 4) == 0)
        listener = fd;
      else if (fd >= 0)
        ::close(fd);
    }
    if (nsfd >= 0) ::close(nsfd);
  }).join();
  ASSERT_GE(listener, 0);

  const std::string id = lcdtest::UniqueId("masq");
  Running r = Run(id, {"sh", "-c", "echo hello-outside | nc -w 5 " + n_ + "251.2 8080; sleep 120"},
                  Bridge("rules"));
  ASSERT_TRUE(r.at.ip_address.rfind(n_ + "215.", 0) == 0) << r.at.ip_address;
  EXPECT_EQ(RecordPlugins(id), (std::vector<std::string>{"bridge"}));
  pollfd p{listener, POLLIN, 0};
  const int wait_ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(lcdtest::Scaled(15s)).count());
  ASSERT_EQ(::poll(&p, 1, wait_ms), 1)
      << "no connection from the container reached the namespace: " << r.cap->Out() << r.cap->Err();
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  int conn = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
  ASSERT_GE(conn, 0);
  char addr[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &peer.sin_addr, addr, sizeof addr);
  EXPECT_EQ(std::string(addr), n_ + "251.1") << "not masqueraded";
  std::string text;
  for (int i = 0; i < 10 && !Has(text, "\n"); ++i) {
    pollfd pc{conn, POLLIN, 0};
    if (::poll(&pc, 1, 1000) != 1) continue;
    char buf[64];
    ssize_t got = ::read(conn, buf, sizeof buf);
    if (got <= 0) break;
    text.append(buf, static_cast<size_t>(got));
  }
  EXPECT_EQ(text, "hello-outside\n");
  ::close(conn);
  ::close(listener);

  // The container has no rule of its own: nothing names its address or its id.
  rules = IptablesSave();
  EXPECT_EQ(CountLinesWith(rules, r.at.ip_address), 0) << rules;
  EXPECT_EQ(CountLinesWith(rules, id), 0) << rules;
  StopAndDelete(r);
  EXPECT_EQ(BridgePorts(br), 0);
  EXPECT_EQ(Leases("rules"), 0);
  manager_->RemoveNetwork("rules");
  rules = IptablesSave();
  EXPECT_EQ(CountLinesWith(rules, " " + br + " "), 0) << rules;
  EXPECT_EQ(CountLinesWith(rules, n_ + "215.0/24"), 0) << rules;
  EXPECT_FALSE(net::LinkExists(br));
}

// (9) A network an earlier version made (bridge with ipMasq, portmap, firewall in its conflist)
// still works as before: its published port answers on 127.0.0.1, its containers reach each
// other, a container without ports runs without portmap, and the delete leaves no rule, chain,
// veth or lease.
TEST_F(NetTest, ANetworkOfAnEarlierVersionStillAttachesAndDetaches) {
  Start(n_ + "216.0/24");
  const std::string br = "lcdt" + RandomHex(6);
  bridges_.push_back(br);
  fs::create_directories(opts_.config_dir);
  WriteFile(opts_.config_dir + "/legacy.conflist",
            OldConflist("legacy", br, n_ + "217.0/24").dump(2));
  const uint16_t port = FreePort();
  ASSERT_NE(port, 0);
  net::NetworkRequest req = Bridge("legacy");
  req.ports.push_back(net::ParsePortMapping(std::to_string(port) + ":80"));
  const std::string web_id = lcdtest::UniqueId("oldweb");
  const std::string peer_id = lcdtest::UniqueId("oldpeer");
  Running web = Run(web_id, {"httpd", "-f", "-p", "80", "-h", "/mnt"}, req);
  Running peer = Run(peer_id, {"sleep", "120"}, Bridge("legacy"));
  ASSERT_TRUE(web.at.ip_address.rfind(n_ + "217.", 0) == 0) << web.at.ip_address;
  EXPECT_EQ(RecordPlugins(web_id), (std::vector<std::string>{"bridge", "portmap", "firewall"}));
  EXPECT_EQ(RecordPlugins(peer_id), (std::vector<std::string>{"bridge", "firewall"}));
  std::string body;
  EXPECT_TRUE(lcdtest::Eventually(
      [&] {
        body = HttpGet("127.0.0.1", port);
        return Has(body, kPage);
      },
      lcdtest::Scaled(10s)))
      << "through 127.0.0.1:" << port << ": " << body;
  std::pair<std::string, uint32_t> got;
  EXPECT_TRUE(lcdtest::Eventually(
      [&] {
        got = Exec(*peer.task, {"sh", "-c", Fetch(web.at.ip_address, 2)});
        return got.second == 0 && Has(got.first, kPage);
      },
      lcdtest::Scaled(10s)))
      << got.first;
  const std::string during = IptablesSave();
  EXPECT_EQ(CountLinesWith(during, "-A LCD-ISOLATION-STAGE-2 -o " + br + " -j DROP"), 1) << during;
  // The isolation jump is first in FORWARD, above the firewall plugin's.
  EXPECT_TRUE(Has(lcdtest::RunCommand("/usr/sbin/iptables -S FORWARD 2>/dev/null"),
                  "-P FORWARD ACCEPT\n-A FORWARD -j LCD-ISOLATION-STAGE-1\n"));
  std::set<std::string> own;
  for (const Running* r : {&web, &peer}) {
    own.merge(ChainsWith(during, r->container->ID()));
    own.merge(ChainsWith(during, r->at.ip_address + ":"));
    EXPECT_GT(CountLinesWith(during, r->at.ip_address), 0) << during;  // ipMasq, firewall
  }
  EXPECT_GE(own.size(), 3u) << during;  // two masquerade chains, portmap's DNAT chain
  const std::string web_ip = web.at.ip_address, peer_ip = peer.at.ip_address;
  StopAndDelete(web);
  StopAndDelete(peer);
  const std::string after = IptablesSave();
  EXPECT_EQ(CountLinesWith(after, web_ip), 0) << after;
  EXPECT_EQ(CountLinesWith(after, peer_ip), 0) << after;
  for (const auto& chain : own)
    EXPECT_EQ(CountLinesWith(after, ":" + chain + " "), 0) << chain << " is left: " << after;
  EXPECT_EQ(BridgePorts(br), 0);
  EXPECT_EQ(Leases("legacy"), 0);
  EXPECT_EQ(HttpGet("127.0.0.1", port), "");
  manager_->RemoveNetwork("legacy");
  EXPECT_EQ(CountLinesWith(IptablesSave(), " " + br + " "), 0);
  EXPECT_FALSE(net::LinkExists(br));
}

}  // namespace
