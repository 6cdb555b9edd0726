// IPv4 subnets: parsing, overlap, /proc/net/route, and the choice of a free /24.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "libcontainerd/errors.h"
#include "net/subnet.h"

namespace {
using libcontainerd::Error;
using libcontainerd::ErrorKind;
using namespace libcontainerd::net;
using ::testing::HasSubstr;

Ipv4Net N(const char* text) { return ParseSubnet(text); }

std::string SubnetError(std::string_view text) {
  try {
    ParseSubnet(text, "--subnet");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    return e.message();
  }
  ADD_FAILURE() << "parsed: " << text;
  return "";
}

TEST(NetSubnet, ParseAndFormat) {
  EXPECT_EQ(N("10.88.0.0/16"), (Ipv4Net{0x0a580000u, 16}));
  EXPECT_EQ(N("0.0.0.0/0"), (Ipv4Net{0, 0}));
  EXPECT_EQ(N("192.168.1.7/32"), (Ipv4Net{0xc0a80107u, 32}));
  EXPECT_EQ(FormatSubnet(N("172.16.4.0/22")), "172.16.4.0/22");
  EXPECT_EQ(ParseIpv4("10.88.0.1"), 0x0a580001u);
  EXPECT_EQ(FormatIpv4(0xffffffffu), "255.255.255.255");
  EXPECT_EQ(FormatIpv4(0x0a580001u), "10.88.0.1");
}

TEST(NetSubnet, BadSubnetsAreNamed) {
  EXPECT_EQ(SubnetError("10.88.0.1/16"),
            "--subnet 10.88.0.1/16: host bits set (did you mean 10.88.0.0/16?)");
  EXPECT_THAT(SubnetError("10.88.0.0"), HasSubstr("not a CIDR subnet"));
  EXPECT_THAT(SubnetError("10.88.0.0/33"), HasSubstr("prefix length \"33\" is not a number 0-32"));
  EXPECT_THAT(SubnetError("10.88.0.0/"), HasSubstr("prefix length \"\""));
  EXPECT_THAT(SubnetError("10.88.0.0/-1"), HasSubstr("prefix length \"-1\""));
  EXPECT_THAT(SubnetError("10.88.0.0/1x"), HasSubstr("prefix length \"1x\""));
  EXPECT_THAT(SubnetError("10.88.0/16"), HasSubstr("address \"10.88.0\" is not an IPv4 address"));
  EXPECT_THAT(SubnetError("fd00::/64"), HasSubstr("is not an IPv4 address"));
  EXPECT_EQ(SubnetError("").find("--subnet"), 0u);
  try {
    ParseIpv4("010.1.1.1x", "gateway");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_THAT(e.message(), HasSubstr("gateway 010.1.1.1x: not an IPv4 address"));
  }
}

TEST(NetSubnet, OverlapMath) {
  EXPECT_TRUE(Overlaps(N("10.88.0.0/16"), N("10.88.5.0/24")));
  EXPECT_TRUE(Overlaps(N("10.88.5.0/24"), N("10.88.0.0/16")));
  EXPECT_TRUE(Overlaps(N("10.88.5.0/24"), N("10.88.5.0/24")));
  EXPECT_TRUE(Overlaps(N("0.0.0.0/0"), N("192.168.0.0/24")));
  EXPECT_TRUE(Overlaps(N("10.88.5.7/32"), N("10.88.5.0/24")));
  EXPECT_FALSE(Overlaps(N("10.88.5.0/24"), N("10.88.6.0/24")));
  EXPECT_FALSE(Overlaps(N("10.88.0.0/16"), N("10.89.0.0/16")));
  EXPECT_FALSE(Overlaps(N("10.88.0.0/23"), N("10.88.2.0/24")));
  EXPECT_TRUE(Overlaps(N("10.88.0.0/23"), N("10.88.1.0/24")));
  EXPECT_TRUE(Contains(N("10.88.0.0/16"), ParseIpv4("10.88.255.255")));
  EXPECT_FALSE(Contains(N("10.88.0.0/16"), ParseIpv4("10.89.0.0")));
  EXPECT_TRUE(Contains(N("0.0.0.0/0"), ParseIpv4("1.2.3.4")));
}

TEST(NetSubnet, ProcNetRouteIsLittleEndianHexAndSkipsTheDefault) {
  const char* text =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
      "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
      "lcd0\t0000580A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "tun0\t0102A8C0\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n"
      "bad\tZZZZZZZZ\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "odd\t0000580A\t00000000\t0001\t0\t0\t0\t00FF00FF\t0\t0\t0\n"
      "short\t0000580A\n";
  auto routes = ParseProcNetRoute(text);
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(FormatSubnet(routes[0]), "172.17.0.0/16");
  EXPECT_EQ(FormatSubnet(routes[1]), "10.88.0.0/24");
  EXPECT_EQ(FormatSubnet(routes[2]), "192.168.2.1/32");
  EXPECT_TRUE(ParseProcNetRoute("").empty());
}

TEST(NetSubnet, HostRoutesIncludeTheLoopbackAddressAndNoDefault) {
  auto routes = HostRoutes();
  bool loopback = false;
  for (const auto& r : routes) {
    EXPECT_GT(r.prefix, 0) << FormatSubnet(r);
    loopback = loopback || Contains(r, ParseIpv4("127.0.0.1"));
  }
  EXPECT_TRUE(loopback) << "lo's 127.0.0.1/8 comes from the interface addresses";
}

TEST(NetSubnet, ChooseSubnetTakesTheFirstFree24) {
  EXPECT_EQ(FormatSubnet(ChooseSubnet({})), "10.88.0.0/24");
  EXPECT_EQ(FormatSubnet(ChooseSubnet({N("10.88.0.0/24")})), "10.88.1.0/24");
  EXPECT_EQ(FormatSubnet(ChooseSubnet({N("10.88.0.0/24"), N("10.88.1.0/24"), N("10.88.3.0/24")})),
            "10.88.2.0/24");
  EXPECT_EQ(FormatSubnet(ChooseSubnet({N("10.88.0.0/16")})), "10.89.0.0/24");
  EXPECT_EQ(FormatSubnet(ChooseSubnet({N("10.88.0.7/32")})), "10.88.1.0/24");
  EXPECT_EQ(FormatSubnet(ChooseSubnet({N("10.88.0.0/15"), N("10.90.0.0/24")})), "10.90.1.0/24");
  // Routes elsewhere do not matter.
  EXPECT_EQ(FormatSubnet(ChooseSubnet({N("192.168.0.0/16"), N("10.0.0.0/16")})), "10.88.0.0/24");
  EXPECT_EQ(FormatSubnet(ChooseSubnet(
                {N("10.88.0.0/13"), N("10.96.0.0/15"), N("10.98.0.0/16"), N("10.99.0.0/17"),
                 N("10.99.128.0/18"), N("10.99.192.0/19"), N("10.99.224.0/20"), N("10.99.240.0/21"),
                 N("10.99.248.0/22"), N("10.99.252.0/23"), N("10.99.254.0/24")})),
            "10.99.255.0/24");
}

TEST(NetSubnet, ChooseSubnetExhausted) {
  for (auto taken : {std::vector<Ipv4Net>{N("10.0.0.0/8")},
                     {N("0.0.0.0/0")},
                     {N("10.88.0.0/13"), N("10.96.0.0/14")}}) {
    try {
      ChooseSubnet(taken);
      ADD_FAILURE() << "chose a subnet";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition);
      EXPECT_THAT(e.message(), HasSubstr("--subnet"));
      EXPECT_THAT(e.message(), HasSubstr("10.88.0.0/24 to 10.99.255.0/24"));
    }
  }
}

}  // namespace
