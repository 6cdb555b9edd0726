// -p and --add-host parsing (include/libcontainerd/net.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "libcontainerd/errors.h"
#include "libcontainerd/net.h"

namespace {
using libcontainerd::Error;
using libcontainerd::ErrorKind;
using libcontainerd::net::FormatPortMapping;
using libcontainerd::net::HostEntry;
using libcontainerd::net::ParseHostEntry;
using libcontainerd::net::ParsePortMapping;
using libcontainerd::net::PortMapping;
using ::testing::HasSubstr;

// The message of the kInvalidArgument error ParsePortMapping throws ("" when it does not).
std::string PortError(std::string_view text) {
  try {
    ParsePortMapping(text);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    return e.message();
  }
  ADD_FAILURE() << "parsed: " << text;
  return "";
}

std::string HostError(std::string_view text) {
  try {
    ParseHostEntry(text);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    return e.message();
  }
  ADD_FAILURE() << "parsed: " << text;
  return "";
}

TEST(NetPorts, DockerFormsParse) {
  EXPECT_EQ(ParsePortMapping("8080:80"), (PortMapping{"", 8080, 80, "tcp"}));
  EXPECT_EQ(ParsePortMapping("8080:80/udp"), (PortMapping{"", 8080, 80, "udp"}));
  EXPECT_EQ(ParsePortMapping("8080:80/tcp"), (PortMapping{"", 8080, 80, "tcp"}));
  EXPECT_EQ(ParsePortMapping("127.0.0.1:8080:80"), (PortMapping{"127.0.0.1", 8080, 80, "tcp"}));
  EXPECT_EQ(ParsePortMapping("[::1]:8080:80/tcp"), (PortMapping{"::1", 8080, 80, "tcp"}));
  EXPECT_EQ(ParsePortMapping("[fd00::2]:53:53/udp"), (PortMapping{"fd00::2", 53, 53, "udp"}));
  EXPECT_EQ(ParsePortMapping("1:65535"), (PortMapping{"", 1, 65535, "tcp"}));
}

TEST(NetPorts, FormatRoundTrips) {
  for (const char* text : {"8080:80", "8080:80/udp", "127.0.0.1:8080:80", "[::1]:8080:80/tcp",
                           "0.0.0.0:1:65535/udp"}) {
    PortMapping p = ParsePortMapping(text);
    EXPECT_EQ(ParsePortMapping(FormatPortMapping(p)), p) << text;
  }
  EXPECT_EQ(FormatPortMapping({"", 8080, 80, "tcp"}), "8080:80/tcp");
  EXPECT_EQ(FormatPortMapping({"::1", 8080, 80, "udp"}), "[::1]:8080:80/udp");
  EXPECT_EQ(FormatPortMapping({"127.0.0.1", 1, 2, "tcp"}), "127.0.0.1:1:2/tcp");
}

TEST(NetPorts, BadContainerPortIsNamed) {
  EXPECT_THAT(PortError("8080:http"),
              HasSubstr("-p 8080:http: container port \"http\" is not a number 1-65535"));
  EXPECT_THAT(PortError("8080:0"), HasSubstr("container port \"0\" is not a number 1-65535"));
  EXPECT_THAT(PortError("8080:65536"), HasSubstr("container port \"65536\""));
  EXPECT_THAT(PortError("8080:"), HasSubstr("container port \"\""));
  EXPECT_THAT(PortError("8080:-1"), HasSubstr("container port \"-1\" is not a number"));
  EXPECT_THAT(PortError("8080: 80"), HasSubstr("container port \" 80\""));
}

TEST(NetPorts, HostPortIsRequired) {
  EXPECT_THAT(PortError("80"), HasSubstr("a host port is required"));
  EXPECT_THAT(PortError("80/udp"), HasSubstr("a host port is required"));
  EXPECT_THAT(PortError(":80"), HasSubstr("a host port is required"));
  EXPECT_THAT(PortError("127.0.0.1::80"), HasSubstr("a host port is required"));
  EXPECT_THAT(PortError("127.0.0.1:80"), HasSubstr("a host port is required after the host IP"));
  EXPECT_THAT(PortError("0:80"), HasSubstr("host port \"0\": a host port 1-65535 is required"));
  EXPECT_THAT(PortError("[::1]:80"), HasSubstr("a host port is required"));
  EXPECT_THAT(PortError("70000:80"), HasSubstr("host port \"70000\" is not a number 1-65535"));
  EXPECT_THAT(PortError("x:80"), HasSubstr("host port \"x\" is not a number 1-65535"));
}

TEST(NetPorts, ProtocolIsTcpOrUdp) {
  EXPECT_THAT(PortError("8080:80/sctp"), HasSubstr("protocol \"sctp\" is not tcp or udp"));
  EXPECT_THAT(PortError("8080:80/"), HasSubstr("protocol \"\" is not tcp or udp"));
  EXPECT_THAT(PortError("8080:80/TCPX"), HasSubstr("protocol \"TCPX\""));
}

TEST(NetPorts, HostIpIsChecked) {
  EXPECT_THAT(PortError("1.2.3:8080:80"), HasSubstr("host IP \"1.2.3\" is not an IP address"));
  EXPECT_THAT(PortError("localhost:8080:80"), HasSubstr("host IP \"localhost\""));
  EXPECT_THAT(PortError("::1:8080:80"), HasSubstr("must be in brackets, e.g. [::1]:8080:80"));
  EXPECT_THAT(PortError("[::1:8080:80"), HasSubstr("never closed"));
  EXPECT_THAT(PortError("[127.0.0.1]:8080:80"), HasSubstr("brackets are for IPv6 only"));
  EXPECT_THAT(PortError("[::1]8080:80"), HasSubstr("followed by :HOSTPORT:CONTAINERPORT"));
  EXPECT_THAT(PortError("1:2:3:4"), HasSubstr("too many ':'"));
}

TEST(NetPorts, RangesAndEmptyAreRefusedClearly) {
  EXPECT_THAT(PortError("8000-8010:80"), HasSubstr("port ranges are not supported"));
  EXPECT_THAT(PortError(""), HasSubstr("empty"));
  // Control bytes of the input are escaped in the message.
  EXPECT_THAT(PortError("80\n:80"), HasSubstr("-p 80\\x0a:80"));
}

TEST(NetHosts, NameColonIp) {
  EXPECT_EQ(ParseHostEntry("db:10.0.0.5"), (HostEntry{"db", "10.0.0.5"}));
  EXPECT_EQ(ParseHostEntry("db.example.com:10.0.0.5"), (HostEntry{"db.example.com", "10.0.0.5"}));
  EXPECT_EQ(ParseHostEntry("v6:fd00::1"), (HostEntry{"v6", "fd00::1"}));
  EXPECT_EQ(ParseHostEntry("v6:::1"), (HostEntry{"v6", "::1"}));
  EXPECT_EQ(ParseHostEntry("v6:[fd00::1]"), (HostEntry{"v6", "fd00::1"}));
}

TEST(NetHosts, BadEntriesAreNamed) {
  EXPECT_THAT(HostError("db"), HasSubstr("--add-host db: no ':'"));
  EXPECT_THAT(HostError(":10.0.0.5"), HasSubstr("the name is empty"));
  EXPECT_THAT(HostError("db:"), HasSubstr("the IP is empty"));
  EXPECT_THAT(HostError("db:10.0.0"), HasSubstr("IP \"10.0.0\" is not an IPv4 or IPv6 address"));
  EXPECT_THAT(HostError("db:host-gateway"), HasSubstr("IP \"host-gateway\""));
  EXPECT_THAT(HostError("bad name:1.2.3.4"), HasSubstr("name \"bad name\" is not a host name"));
  EXPECT_THAT(HostError("-db:1.2.3.4"), HasSubstr("is not a host name"));
  EXPECT_THAT(HostError("a..b:1.2.3.4"), HasSubstr("is not a host name"));
  EXPECT_THAT(HostError(std::string(64, 'a') + ":1.2.3.4"), HasSubstr("is not a host name"));
  EXPECT_THAT(HostError("db\t:1.2.3.4"), HasSubstr("--add-host db\\x09:1.2.3.4"));
}

}  // namespace
