// The CNI runtime (src/net/cni.h) with Debian's real plugins (bridge + host-local, portmap,
// firewall) on a namespace made with `ip netns add`. No traffic is sent.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "libcontainerd/errors.h"
#include "net/cni.h"
#include "test_util.h"

namespace {

using libcontainerd::Context;
using libcontainerd::Error;
using libcontainerd::ErrorKind;
using namespace libcontainerd::net::cni;

std::string Sh(const std::string& cmd) { return lcdtest::RunCommand(cmd.c_str()); }

int Count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// A namespace, a bridge name, a subnet and a host-local data dir of this test; all removed at
// the end whatever happened.
class CniReal : public ::testing::Test {
 protected:
  void SetUp() override {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%06x", static_cast<unsigned>(::getpid()) & 0xffffff);
    bridge_ = std::string("lcdt") + hex;
    netns_name_ = "lcdtest-" + std::string(hex) + "-" + std::to_string(++counter_);
    netns_ = "/var/run/netns/" + netns_name_;
    subnet_third_ = static_cast<int>(::getpid() % 250);  // 10.90.x: no other test uses it
    container_ = "lcdcni" + std::string(hex) + std::to_string(counter_);
    ASSERT_EQ(std::system(("ip netns add " + netns_name_).c_str()), 0);
  }
  void TearDown() override {
    if (added_) {  // a failed assertion between ADD and DEL: DEL, so no rule or lease stays
      try {
        runtime_.Del(Context(), List(Subnet()), Rt(), json());
      } catch (const Error&) {
      }
    }
    std::system(("ip netns del " + netns_name_ + " 2>/dev/null").c_str());
    std::system(("ip link del " + bridge_ + " 2>/dev/null").c_str());
  }
  std::string Subnet() const { return "10.90." + std::to_string(subnet_third_) + ".0/24"; }
  ConfigList List(const std::string& subnet) {
    json conf = {{"cniVersion", "1.0.0"},
                 {"name", "lcdtest-" + bridge_},
                 {"plugins",
                  {{{"type", "bridge"},
                    {"bridge", bridge_},
                    {"isGateway", true},
                    {"ipMasq", true},
                    {"ipam",
                     {{"type", "host-local"},
                      {"dataDir", data_.path()},
                      {"ranges", {{{{"subnet", subnet}}}}}}}},
                   {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}},
                   {{"type", "firewall"}}}}};
    return ParseConfigList(conf.dump(), "test.conflist");
  }
  RuntimeConf Rt() {
    RuntimeConf rt;
    rt.container_id = container_;
    rt.netns = netns_;
    rt.capability_args = {
        {"portMappings",
         {{{"hostPort", 10000 + ::getpid() % 10000}, {"containerPort", 80}, {"protocol", "tcp"}}}}};
    return rt;
  }
  int LeaseFiles() {
    int n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(data_.path(), ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      n += it->path().filename().string().starts_with("10.90.");
    return n;
  }
  std::string VethsOfBridge() { return Sh("ip -o link show master " + bridge_ + " 2>/dev/null"); }

  bool added_ = false;
  static inline int counter_ = 0;
  lcdtest::ScratchDir data_{"lcd-cni-ipam"};
  std::string bridge_, netns_name_, netns_, container_;
  int subnet_third_ = 200;
  Runtime runtime_{{"/usr/lib/cni"}};
};

TEST_F(CniReal, AddCheckDelWithBridgePortmapFirewallLeavesNothingOfTheContainer) {
  int rules_before = Count(Sh("iptables-save"), container_);
  Result r = runtime_.Add(Context(), List(Subnet()), Rt());
  added_ = true;
  ASSERT_FALSE(r.ips.empty());
  EXPECT_EQ(r.ips[0].address.rfind("10.90." + std::to_string(subnet_third_) + ".", 0), 0u)
      << r.ips[0].address;
  bool sandboxed = false;
  for (const auto& i : r.interfaces) sandboxed |= i.name == "eth0" && i.sandbox == netns_;
  EXPECT_TRUE(sandboxed) << r.raw.dump();
  EXPECT_NE(Sh("ip netns exec " + netns_name_ + " ip -o addr show eth0")
                .find(r.ips[0].address.substr(0, r.ips[0].address.find('/'))),
            std::string::npos);
  EXPECT_FALSE(VethsOfBridge().empty());
  EXPECT_EQ(LeaseFiles(), 1);
  EXPECT_GT(Count(Sh("iptables-save"), container_), rules_before);

  // portmap 1.1.1's CHECK looks for an IPv6 DNAT chain it never made (no IPv6 here) and fails:
  // a plugin bug, so CHECK runs over the list without portmap.
  ConfigList no_portmap = List(Subnet());
  no_portmap.plugins.erase(no_portmap.plugins.begin() + 1);
  runtime_.Check(Context(), no_portmap, Rt(), r.raw);

  runtime_.Del(Context(), List(Subnet()), Rt(), r.raw);
  EXPECT_TRUE(VethsOfBridge().empty()) << VethsOfBridge();
  EXPECT_EQ(LeaseFiles(), 0);
  EXPECT_EQ(Count(Sh("iptables-save"), container_), rules_before);
  // firewall's rules name the address, not the container.
  const std::string ip = r.ips[0].address.substr(0, r.ips[0].address.find('/'));
  EXPECT_EQ(Count(Sh("iptables-save"), " " + ip + "/32 "), 0);
  // A second DEL: what is gone is not an error.
  runtime_.Del(Context(), List(Subnet()), Rt(), r.raw);
}

TEST_F(CniReal, AFailingPluginGivesItsMessageAndCodeAndLeavesNothing) {
  int rules_before = Count(Sh("iptables-save"), container_);
  try {
    runtime_.Add(Context(), List("10.90.300.0/24"), Rt());
    ADD_FAILURE() << "ADD with an invalid subnet succeeded";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("\"host-local\"") == std::string::npos &&
                  e.message().find("\"bridge\"") == std::string::npos,
              true)
        << e.message();
    EXPECT_NE(e.message().find("(CNI code"), std::string::npos) << e.message();
  }
  EXPECT_TRUE(VethsOfBridge().empty()) << VethsOfBridge();
  EXPECT_EQ(LeaseFiles(), 0);
  EXPECT_EQ(Count(Sh("iptables-save"), container_), rules_before);
}

TEST_F(CniReal, AMissingPluginNamesThePluginAndThePackage) {
  ConfigList l = ParseConfigList(
      R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "no-such-plugin-lcd"}]})", "t");
  try {
    runtime_.Add(Context(), l, Rt());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(e.message().find("no-such-plugin-lcd"), std::string::npos);
    EXPECT_NE(e.message().find("containernetworking-plugins"), std::string::npos);
  }
}

}  // namespace
