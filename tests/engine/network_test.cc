// Networking through lcd-engine with the docker CLI: a published port serving busybox httpd to
// 127.0.0.1, a second container refused the same host port (the first keeps serving), and a
// user network whose two containers reach each other by the addresses inspect shows.
// Traffic: 127.0.0.1 and the test's own containers only.
#include <gtest/gtest.h>
#include <unistd.h>

#include "engine_fixture.h"

namespace {

using namespace enginetest;

using EngineNetworkTest = EngineTest;

// A shell command serving `content` at / with busybox httpd on port 80, in the foreground.
std::string HttpdServing(const std::string& content) {
  return "mkdir -p /www && echo " + content + " > /www/index.html && exec httpd -f -p 80 -h /www";
}

// GET / on 127.0.0.1:port until the answer is 200 with content in its body (15 s).
bool Serves(int port, const std::string& content, std::string* last) {
  return WaitFor(
      [&] {
        *last = HttpTcp(port, "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", 3s);
        return HttpStatus(*last) == 200 && Contains(HttpBody(*last), content);
      },
      15s);
}

TEST_F(EngineNetworkTest, PublishedPortServesOnLoopback) {
  Cleanup c;
  std::string name = c.Container("web");
  int port = FreePort();
  ASSERT_GT(port, 0);
  auto r = D({"run", "-d", "--name", name, "-p", std::to_string(port) + ":80", Busybox(), "sh",
              "-c", HttpdServing("published-content")});
  ASSERT_EQ(r.code, 0) << r.why();
  std::string last;
  EXPECT_TRUE(Serves(port, "published-content", &last))
      << "GET http://127.0.0.1:" << port << "/ answered: '" << last << "'\n"
      << EngineLog();
  auto p = D({"port", name, "80/tcp"});
  EXPECT_EQ(p.code, 0) << p.why();
  EXPECT_TRUE(Contains(p.out, ":" + std::to_string(port))) << p.why();
}

TEST_F(EngineNetworkTest, SecondContainerOnAPublishedPortFailsFirstKeepsServing) {
  Cleanup c;
  std::string first = c.Container("port-first");
  std::string second = c.Container("port-second");
  int port = FreePort();
  ASSERT_GT(port, 0);
  std::string map = std::to_string(port) + ":80";
  auto r = D({"run", "-d", "--name", first, "-p", map, Busybox(), "sh", "-c",
              HttpdServing("first-content")});
  ASSERT_EQ(r.code, 0) << r.why();
  std::string last;
  ASSERT_TRUE(Serves(port, "first-content", &last)) << "answer: '" << last << "'";
  auto dup = D({"run", "-d", "--name", second, "-p", map, Busybox(), "sleep", "100"});
  EXPECT_NE(dup.code, 0) << "a second container got the same host port: " << dup.why();
  auto s = D({"inspect", "--format", "{{.State.Running}}", second});
  EXPECT_NE(Trim(s.out), "true") << "the second container runs: " << s.why();
  auto f = D({"inspect", "--format", "{{.State.Running}}", first});
  EXPECT_EQ(Trim(f.out), "true") << f.why();
  EXPECT_TRUE(Serves(port, "first-content", &last))
      << "the first container stopped serving: '" << last << "'";
}

TEST_F(EngineNetworkTest, ContainersOnAUserNetworkReachEachOther) {
  Cleanup c;
  std::string net = c.Network("pair");
  auto n = D({"network", "create", net});
  ASSERT_EQ(n.code, 0) << n.why();
  std::string server = c.Container("peer-server");
  std::string client = c.Container("peer-client");
  auto r1 = D({"run", "-d", "--network", net, "--name", server, Busybox(), "sh", "-c",
               HttpdServing("peer-content")});
  ASSERT_EQ(r1.code, 0) << r1.why();
  auto r2 = D({"run", "-d", "--network", net, "--name", client, Busybox(), "sleep", "100"});
  ASSERT_EQ(r2.code, 0) << r2.why();
  auto ip = D({"inspect", "--format",
               "{{(index .NetworkSettings.Networks \"" + net + "\").IPAddress}}", server});
  ASSERT_EQ(ip.code, 0) << ip.why();
  std::string addr = Trim(ip.out);
  ASSERT_FALSE(addr.empty()) << "no address on " << net << ": " << ip.why();
  auto lsn = D({"network", "inspect", "--format", "{{.Name}}", net});
  EXPECT_EQ(Trim(lsn.out), net) << lsn.why();
  // (busybox-static's wget -T crashes: the bound comes from busybox timeout instead.)
  DockerRun get;
  bool ok = WaitFor(
      [&] {
        get = D({"exec", client, "timeout", "3", "wget", "-q", "-O", "-", "http://" + addr + "/"});
        return get.code == 0 && Contains(get.out, "peer-content");
      },
      15s);
  EXPECT_TRUE(ok) << get.why();
  auto ping = D({"exec", client, "ping", "-c", "1", "-W", "2", addr});
  EXPECT_EQ(ping.code, 0) << ping.why();
}

}  // namespace
