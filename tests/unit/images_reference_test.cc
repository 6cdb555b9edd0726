// References as docker normalises them, platforms, and the progress vocabulary (images.h).
#include <gtest/gtest.h>

#include <string>

#include "libcontainerd/errors.h"
#include "libcontainerd/images.h"

using namespace libcontainerd;
using namespace libcontainerd::images;

namespace {
const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kDigest = "sha256:" + kHex;
}  // namespace

TEST(ParseReference, NormalisesAsDocker) {
  struct Case {
    std::string in, domain, path, tag, digest, full, familiar;
  };
  const Case cases[] = {
      {"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest",
       "busybox:latest"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "docker.io/library/busybox:1.36",
       "busybox:1.36"},
      {"user/app", "docker.io", "user/app", "latest", "", "docker.io/user/app:latest",
       "user/app:latest"},
      {"docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", "",
       "docker.io/library/busybox:latest", "busybox:latest"},
      {"index.docker.io/busybox", "docker.io", "library/busybox", "latest", "",
       "docker.io/library/busybox:latest", "busybox:latest"},
      {"docker.io/library/a/b", "docker.io", "library/a/b", "latest", "",
       "docker.io/library/a/b:latest", "library/a/b:latest"},
      {"127.0.0.1:5000/repo:tag", "127.0.0.1:5000", "repo", "tag", "", "127.0.0.1:5000/repo:tag",
       "127.0.0.1:5000/repo:tag"},
      {"localhost/x", "localhost", "x", "latest", "", "localhost/x:latest", "localhost/x:latest"},
      {"localhost:5000/a/b/c", "localhost:5000", "a/b/c", "latest", "",
       "localhost:5000/a/b/c:latest", "localhost:5000/a/b/c:latest"},
      {"ghcr.io/org/img:v1.2-rc_3", "ghcr.io", "org/img", "v1.2-rc_3", "",
       "ghcr.io/org/img:v1.2-rc_3", "ghcr.io/org/img:v1.2-rc_3"},
      {"Registry/x", "Registry", "x", "latest", "", "Registry/x:latest", "Registry/x:latest"},
      {"[::1]:5000/x", "[::1]:5000", "x", "latest", "", "[::1]:5000/x:latest",
       "[::1]:5000/x:latest"},
      {"repo@" + kDigest, "docker.io", "library/repo", "", kDigest,
       "docker.io/library/repo@" + kDigest, "repo@" + kDigest},
      {"repo:tag@" + kDigest, "docker.io", "library/repo", "tag", kDigest,
       "docker.io/library/repo:tag@" + kDigest, "repo:tag@" + kDigest},
      {"host:1/a.b_c__d-e--f:x@" + kDigest, "host:1", "a.b_c__d-e--f", "x", kDigest,
       "host:1/a.b_c__d-e--f:x@" + kDigest, "host:1/a.b_c__d-e--f:x@" + kDigest},
      {"a:" + std::string(128, 't'), "docker.io", "library/a", std::string(128, 't'), "",
       "docker.io/library/a:" + std::string(128, 't'), "a:" + std::string(128, 't')},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    Reference r = ParseReference(c.in);
    EXPECT_EQ(r.domain, c.domain);
    EXPECT_EQ(r.path, c.path);
    EXPECT_EQ(r.tag, c.tag);
    EXPECT_EQ(r.digest, c.digest);
    EXPECT_EQ(r.String(), c.full);
    EXPECT_EQ(r.Name(), c.domain + "/" + c.path);
    EXPECT_EQ(r.Familiar(), c.familiar);
    // The full form parses to the same reference.
    EXPECT_EQ(ParseReference(r.String()), r);
  }
}

TEST(ParseReference, ErrorsAreInvalidArgumentNamingThePart) {
  struct Case {
    std::string in, names;  // `names` must appear in the message
  };
  const Case cases[] = {
      {"", "empty"},
      {"Busybox", "lower case"},
      {"docker.io/Library/busybox", "lower case"},
      {"busybox:", "tag \"\""},
      {"busybox:-x", "tag \"-x\""},
      {"busybox:.x", "tag \".x\""},
      {"busybox:a+b", "tag \"a+b\""},
      {"busybox:" + std::string(129, 't'), "tag"},
      {"busybox@sha256:abc", "digest \"sha256:abc\""},
      {"busybox@sha256:" + std::string(64, 'A'), "digest"},
      {"busybox@md5:" + kHex, "only sha256"},
      {"busybox@", "digest"},
      {"bad_host.com:x/repo", "domain \"bad_host.com:x\""},
      {"-bad.com/repo", "domain \"-bad.com\""},
      {"bad..com/repo", "domain \"bad..com\""},
      {"host:99999999/repo", "domain \"host:99999999\""},
      {"host.com/", "repository path is empty"},
      {"a//b", "path component \"\""},
      {"a/-b", "path component \"-b\""},
      {"a/b_", "path component \"b_\""},
      {"a/b___c", "path component \"b___c\""},
      {":tag", "repository name is empty"},
      {"bus box", "white space"},
      {kHex, "image id"},
      {std::string(256, 'a'), "255"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    try {
      ParseReference(c.in);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(e.message().find(c.names), std::string::npos) << e.message();
      EXPECT_NE(e.message().find("invalid reference"), std::string::npos) << e.message();
    }
  }
}

TEST(ParseReference, HostWithPortAndNoPathIsATag) {
  // docker reads "localhost:5000" as repository "localhost" with tag "5000".
  Reference r = ParseReference("localhost:5000");
  EXPECT_EQ(r.domain, "docker.io");
  EXPECT_EQ(r.path, "library/localhost");
  EXPECT_EQ(r.tag, "5000");
}

TEST(Platform, StringAndParse) {
  EXPECT_EQ((Platform{"linux", "arm64", "v8"}.String()), "linux/arm64/v8");
  EXPECT_EQ((Platform{"linux", "amd64", ""}.String()), "linux/amd64");

  struct Case {
    std::string in;
    Platform want;
  };
  const Case cases[] = {
      {"linux/amd64", {"linux", "amd64", ""}},     {"linux/x86_64", {"linux", "amd64", ""}},
      {"amd64", {"linux", "amd64", ""}},           {"x86_64", {"linux", "amd64", ""}},
      {"linux/aarch64", {"linux", "arm64", ""}},   {"linux/arm64/v8", {"linux", "arm64", "v8"}},
      {"linux/arm64/8", {"linux", "arm64", "v8"}}, {"linux/arm", {"linux", "arm", "v7"}},
      {"linux/arm/v6", {"linux", "arm", "v6"}},    {"linux/armhf", {"linux", "arm", "v7"}},
      {"linux/i686", {"linux", "386", ""}},        {"Linux/AMD64", {"linux", "amd64", ""}},
      {"windows/amd64", {"windows", "amd64", ""}}, {"linux/ppc64le", {"linux", "ppc64le", ""}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(ParsePlatform(c.in), c.want);
  }
  // An OS alone takes this machine's architecture.
  Platform def = DefaultPlatform();
  EXPECT_EQ(ParsePlatform("linux"), def);

  for (const char* bad :
       {"", "linux/", "/amd64", "linux/amd64/v8/x", "linux/am d64", "plan8/amd64", "linux/linux"}) {
    SCOPED_TRACE(bad);
    try {
      ParsePlatform(bad);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(e.message().find("invalid platform \"" + std::string(bad) + "\""),
                std::string::npos)
          << e.message();
    }
  }
}

TEST(Platform, DefaultIsThisMachinesInGoNames) {
  Platform p = DefaultPlatform();
  EXPECT_EQ(p.os, "linux");
#if defined(__x86_64__)
  EXPECT_EQ(p.architecture, "amd64");
  EXPECT_EQ(p.variant, "");
#elif defined(__aarch64__)
  EXPECT_EQ(p.architecture, "arm64");
  EXPECT_EQ(p.variant, "v8");
#else
  EXPECT_FALSE(p.architecture.empty());
#endif
}

TEST(ProgressState, DockerVocabulary) {
  EXPECT_EQ(ToString(ProgressState::kResolving), "Resolving");
  EXPECT_EQ(ToString(ProgressState::kWaiting), "Waiting");
  EXPECT_EQ(ToString(ProgressState::kDownloading), "Downloading");
  EXPECT_EQ(ToString(ProgressState::kVerifying), "Verifying Checksum");
  EXPECT_EQ(ToString(ProgressState::kExtracting), "Extracting");
  EXPECT_EQ(ToString(ProgressState::kDone), "Done");
  EXPECT_EQ(ToString(ProgressState::kAlreadyExists), "Already exists");
}
