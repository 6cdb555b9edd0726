// /etc/resolv.conf, /etc/hosts and /etc/hostname for a container (src/net/dns_files).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "libcontainerd/errors.h"
#include "net/dns_files.h"
#include "test_util.h"

namespace {
using libcontainerd::Error;
using libcontainerd::ErrorKind;
using namespace libcontainerd::net;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(NetResolvConf, ParseKeepsServersSearchAndOptions) {
  auto rc = ParseResolvConf(
      "# generated\n"
      "; also a comment\n"
      "nameserver 192.168.1.1\n"
      "nameserver   fd00::53   # inline comment\n"
      "search a.example b.example\n"
      "options ndots:2\n"
      "options timeout:1 attempts:3\n"
      "nameserver\n"
      "sortlist 10.0.0.0\n");
  EXPECT_THAT(rc.nameservers, ElementsAre("192.168.1.1", "fd00::53"));
  EXPECT_THAT(rc.search, ElementsAre("a.example", "b.example"));
  EXPECT_THAT(rc.options, ElementsAre("ndots:2", "timeout:1", "attempts:3"));
}

TEST(NetResolvConf, DomainIsASearchListAndTheLastLineWins) {
  EXPECT_THAT(ParseResolvConf("search a b\ndomain corp.example\n").search,
              ElementsAre("corp.example"));
  EXPECT_THAT(ParseResolvConf("domain corp.example\nsearch a b\n").search, ElementsAre("a", "b"));
  EXPECT_THAT(ParseResolvConf("domain corp.example\n").search, ElementsAre("corp.example"));
}

TEST(NetResolvConf, LoopbackServersAreDropped) {
  NetworkRequest req;
  EXPECT_EQ(BuildResolvConf("nameserver 127.0.0.53\n"
                            "nameserver 10.0.0.2\n"
                            "nameserver 127.1.2.3\n"
                            "nameserver ::1\n"
                            "nameserver ::ffff:127.0.0.1\n"
                            "nameserver fd00::53\n"
                            "search lan\n"
                            "options edns0\n",
                            req),
            "nameserver 10.0.0.2\nnameserver fd00::53\nsearch lan\noptions edns0\n");
}

TEST(NetResolvConf, NoServerLeftFallsBackToGooglesResolvers) {
  NetworkRequest req;
  EXPECT_EQ(BuildResolvConf("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n", req),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch .\noptions edns0 trust-ad\n");
  EXPECT_EQ(BuildResolvConf("", req), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  EXPECT_EQ(BuildResolvConf("nameserver ::1\n", req), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
}

TEST(NetResolvConf, RequestOverridesEachPart) {
  const char* host = "nameserver 10.0.0.2\nsearch lan\noptions edns0\n";
  NetworkRequest req;
  req.dns_servers = {"1.1.1.1", "2606:4700::1111"};
  EXPECT_EQ(BuildResolvConf(host, req),
            "nameserver 1.1.1.1\nnameserver 2606:4700::1111\nsearch lan\noptions edns0\n");
  req = {};
  req.dns_search = {"svc.example", "example"};
  EXPECT_EQ(BuildResolvConf(host, req),
            "nameserver 10.0.0.2\nsearch svc.example example\noptions edns0\n");
  req = {};
  req.dns_options = {"ndots:1"};
  EXPECT_EQ(BuildResolvConf(host, req), "nameserver 10.0.0.2\nsearch lan\noptions ndots:1\n");
  // A loopback server the caller names explicitly is kept (the caller knows it is reachable).
  req = {};
  req.dns_servers = {"127.0.0.11"};
  EXPECT_EQ(BuildResolvConf(host, req), "nameserver 127.0.0.11\nsearch lan\noptions edns0\n");
}

TEST(NetResolvConf, BadOverridesAreRefused) {
  auto kind_and_text = [](NetworkRequest req) -> std::string {
    try {
      BuildResolvConf("nameserver 10.0.0.2\n", req);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      return e.message();
    }
    return "no error";
  };
  NetworkRequest req;
  req.dns_servers = {"dns.example"};
  EXPECT_THAT(kind_and_text(req), HasSubstr("--dns \"dns.example\": not an IPv4 or IPv6 address"));
  req = {};
  req.dns_search = {"a\nnameserver 6.6.6.6"};
  EXPECT_THAT(kind_and_text(req), HasSubstr("--dns-search \"a\\x0anameserver 6.6.6.6\""));
  req = {};
  req.dns_options = {"ndots:1 x"};
  EXPECT_THAT(kind_and_text(req), HasSubstr("--dns-option \"ndots:1 x\""));
}

TEST(NetHostsFile, DockersLinesThenExtrasThenTheContainer) {
  EXPECT_EQ(BuildHosts("web1", "10.88.0.5", {{"db", "10.88.0.9"}, {"v6", "fd00::1"}}),
            "127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\n"
            "ff00::0\tip6-mcastprefix\n"
            "ff02::1\tip6-allnodes\n"
            "ff02::2\tip6-allrouters\n"
            "10.88.0.9\tdb\n"
            "fd00::1\tv6\n"
            "10.88.0.5\tweb1\n");
}

TEST(NetHostsFile, NoAddressNoOwnLine) {
  std::string hosts = BuildHosts("web1", "", {});
  EXPECT_EQ(hosts.find("web1"), std::string::npos);
  EXPECT_EQ(hosts.rfind("ff02::2\tip6-allrouters\n"), hosts.size() - 23);
}

TEST(NetContainerFiles, WrittenAtomically0644InA0700Dir) {
  lcdtest::ScratchDir scratch("lcd-netfiles");
  std::string dir = scratch.path() + "/ns/c1";
  mode_t old_umask = ::umask(077);  // the files' mode must not depend on the umask
  auto files = WriteContainerFiles(dir, "H\n", "R\n", "web1");
  ::umask(old_umask);
  EXPECT_EQ(files.hosts, dir + "/hosts");
  EXPECT_EQ(files.resolv_conf, dir + "/resolv.conf");
  EXPECT_EQ(files.hostname, dir + "/hostname");
  EXPECT_EQ(lcdtest::Slurp(files.hosts), "H\n");
  EXPECT_EQ(lcdtest::Slurp(files.resolv_conf), "R\n");
  EXPECT_EQ(lcdtest::Slurp(files.hostname), "web1\n");
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  for (const auto& p : {files.hosts, files.resolv_conf, files.hostname}) {
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u) << p;
  }
  // Written again: replaced (a new inode, by rename), no temporary file left.
  ASSERT_EQ(::stat(files.hosts.c_str(), &st), 0);
  ino_t before = st.st_ino;
  WriteContainerFiles(dir, "H2\n", "R2\n", "web2");
  EXPECT_EQ(lcdtest::Slurp(files.hosts), "H2\n");
  EXPECT_EQ(lcdtest::Slurp(files.hostname), "web2\n");
  ASSERT_EQ(::stat(files.hosts.c_str(), &st), 0);
  EXPECT_NE(st.st_ino, before);
  EXPECT_EQ(lcdtest::CountEntries(dir), 3);
}

TEST(NetContainerFiles, FailureNamesTheFileAndLeavesNoTemporary) {
  lcdtest::ScratchDir scratch("lcd-netfiles");
  std::string dir = scratch.path() + "/c1";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  // A directory where resolv.conf should go: rename over it fails.
  ASSERT_EQ(::mkdir((dir + "/resolv.conf").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((dir + "/resolv.conf/x").c_str(), 0700), 0);
  try {
    WriteContainerFiles(dir, "H\n", "R\n", "web1");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnknown);
    EXPECT_THAT(e.message(), HasSubstr(dir + "/resolv.conf"));
    EXPECT_NE(e.context().sys_errno, 0);
  }
  EXPECT_EQ(lcdtest::CountEntries(dir), 2);  // hosts and the directory; no .tmp file
}

}  // namespace
