// The registry client's pure parts (challenges, docker config credentials, loopback hosts) and
// its HTTP behaviour against a scripted HTTP server on 127.0.0.1 (redirects, retries, resume,
// Range ignored, auth headers). The real registry is in tests/integration.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "images/registry.h"
#include "libcontainerd/errors.h"
#include "test_util.h"

using namespace libcontainerd;
using namespace libcontainerd::images;

// ---- ParseChallenges ---------------------------------------------------------------------------

TEST(ParseChallenges, BearerWithQuotedCommas) {
  auto chs =
      ParseChallenges(R"(Bearer realm="https://auth.example/token",service="registry.example",)"
                      R"(scope="repository:a/b:pull,push")");
  ASSERT_EQ(chs.size(), 1u);
  EXPECT_EQ(chs[0].scheme, "bearer");
  EXPECT_EQ(chs[0].params.at("realm"), "https://auth.example/token");
  EXPECT_EQ(chs[0].params.at("service"), "registry.example");
  EXPECT_EQ(chs[0].params.at("scope"), "repository:a/b:pull,push");
}

TEST(ParseChallenges, SeveralChallengesAndUnquotedValues) {
  auto chs = ParseChallenges(
      R"(Basic realm="Registry Realm", BEARER realm=http://127.0.0.1:1/t , service=s, )"
      R"(Negotiate)");
  ASSERT_EQ(chs.size(), 3u);
  EXPECT_EQ(chs[0].scheme, "basic");
  EXPECT_EQ(chs[0].params.at("realm"), "Registry Realm");
  EXPECT_EQ(chs[1].scheme, "bearer");
  EXPECT_EQ(chs[1].params.at("realm"), "http://127.0.0.1:1/t");
  EXPECT_EQ(chs[1].params.at("service"), "s");
  EXPECT_EQ(chs[2].scheme, "negotiate");
  EXPECT_TRUE(chs[2].params.empty());
}

TEST(ParseChallenges, EscapesAndEmpty) {
  auto chs = ParseChallenges(R"(Basic realm="a \"quoted\" \\ realm")");
  ASSERT_EQ(chs.size(), 1u);
  EXPECT_EQ(chs[0].params.at("realm"), R"(a "quoted" \ realm)");
  EXPECT_TRUE(ParseChallenges("").empty());
  EXPECT_TRUE(ParseChallenges("  ,  ").empty());
}

// ---- credentials from docker's config.json -----------------------------------------------------

TEST(CredentialsFromDockerConfig, AuthFieldIsBase64UserColonPassword) {
  // "alice:pa:ss" (a password may contain ':').
  const char* config = R"({"auths":{"127.0.0.1:5000":{"auth":"YWxpY2U6cGE6c3M="}}})";
  auto c = CredentialsFromDockerConfig(config, "127.0.0.1:5000");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "alice");
  EXPECT_EQ(c->password, "pa:ss");
  EXPECT_FALSE(CredentialsFromDockerConfig(config, "127.0.0.1:5001"));
}

TEST(CredentialsFromDockerConfig, UsernamePasswordAndSchemeKeys) {
  const char* config =
      R"({"auths":{"https://reg.example:443/v2/":{"username":"bob","password":"pw"}}})";
  auto c = CredentialsFromDockerConfig(config, "reg.example:443");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "bob");
  EXPECT_EQ(c->password, "pw");
}

TEST(CredentialsFromDockerConfig, DockerHubUsesTheIndexKey) {
  // "u:p"
  const char* config = R"({"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"}}})";
  for (const char* host : {"docker.io", "index.docker.io", "registry-1.docker.io"}) {
    auto c = CredentialsFromDockerConfig(config, host);
    ASSERT_TRUE(c) << host;
    EXPECT_EQ(c->username, "u");
    EXPECT_EQ(c->password, "p");
  }
  EXPECT_FALSE(CredentialsFromDockerConfig(config, "ghcr.io"));
}

TEST(CredentialsFromDockerConfig, IdentityTokenAndNone) {
  auto c = CredentialsFromDockerConfig(R"({"auths":{"h":{"identitytoken":"tok"}}})", "h");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->password, "tok");
  EXPECT_FALSE(CredentialsFromDockerConfig(R"({"auths":{"h":{}}})", "h"));
  EXPECT_FALSE(CredentialsFromDockerConfig(R"({"credsStore":"desktop"})", "h"));
  EXPECT_FALSE(CredentialsFromDockerConfig(R"({})", "h"));
}

TEST(CredentialsFromDockerConfig, MalformedIsInvalidArgument) {
  for (const char* bad : {"not json", "[1]", R"({"auths":{"h":{"auth":"!!!"}}})",
                          R"({"auths":{"h":{"auth":"bm9jb2xvbg=="}}})" /* "nocolon" */}) {
    SCOPED_TRACE(bad);
    try {
      CredentialsFromDockerConfig(bad, "h");
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(e.message().find("docker config"), std::string::npos) << e.message();
    }
  }
}

// ---- IsLoopbackHost ----------------------------------------------------------------------------

TEST(IsLoopbackHost, DockersRule) {
  for (const char* yes : {"127.0.0.1", "127.0.0.1:5000", "127.1.2.3:1", "localhost",
                          "localhost:5000", "LOCALHOST", "[::1]:5000", "::1", "[::ffff:127.0.0.1]"})
    EXPECT_TRUE(IsLoopbackHost(yes)) << yes;
  for (const char* no : {"128.0.0.1", "10.0.0.1:5000", "docker.io", "registry-1.docker.io:443",
                         "[::2]:5000", "localhost.example.com", "127.0.0.1.example.com", ""})
    EXPECT_FALSE(IsLoopbackHost(no)) << no;
}

// ---- HTTP behaviour against a scripted server on 127.0.0.1 -------------------------------------

namespace {

struct SeenRequest {
  std::string method, target;
  std::map<std::string, std::string> headers;  // lower-case names
};

// Answers each connection (one request, then close) with what the handler returns. A handler
// may return a response that is cut short (a Content-Length larger than the body sent).
class ScriptedServer {
 public:
  using Handler = std::function<std::string(const SeenRequest&)>;
  explicit ScriptedServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    EXPECT_EQ(listen(fd_, 16), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<SeenRequest> requests() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      while (in.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
      }
      SeenRequest req;
      size_t eol = in.find("\r\n");
      std::string first = in.substr(0, eol);
      size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
      if (sp1 != std::string::npos && sp2 > sp1) {
        req.method = first.substr(0, sp1);
        req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
      }
      size_t pos = eol + 2;
      while (pos < in.size()) {
        size_t e = in.find("\r\n", pos);
        if (e == std::string::npos || e == pos) break;
        std::string line = in.substr(pos, e - pos);
        size_t colon = line.find(':');
        if (colon != std::string::npos) {
          std::string name = line.substr(0, colon);
          for (char& ch : name)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          size_t v = line.find_first_not_of(' ', colon + 1);
          req.headers[name] = v == std::string::npos ? "" : line.substr(v);
        }
        pos = e + 2;
      }
      {
        std::lock_guard lock(mu_);
        seen_.push_back(req);
      }
      std::string out = handler_(req);
      size_t off = 0;
      while (off < out.size()) {
        ssize_t n = send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      close(c);
    }
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<SeenRequest> seen_;
};

std::string Response(int status, const std::string& body,
                     const std::vector<std::string>& headers = {}) {
  std::string s = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
  for (const auto& h : headers) s += h + "\r\n";
  s += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  return s + body;
}

std::string BlobBytes() {
  std::string s;
  for (int i = 0; i < 100000; ++i) s += static_cast<char>('a' + (i * 7) % 26);
  return s;
}

Descriptor BlobDesc(const std::string& data) {
  return Descriptor{.media_type = std::string(media::kOciLayerGzip),
                    .digest = Sha256Digest(data),
                    .size = static_cast<int64_t>(data.size())};
}

// An empty docker config, so that no test reads the user's own.
struct EmptyConfig {
  std::string path;
  EmptyConfig() {
    char tmpl[] = "/tmp/lcd-regtest-XXXXXX";
    int fd = mkstemp(tmpl);
    path = tmpl;
    (void)!write(fd, "{}", 2);
    close(fd);
  }
  ~EmptyConfig() { unlink(path.c_str()); }
};

RegistryOptions Fast(const EmptyConfig& cfg) {
  RegistryOptions o;
  o.plain_http = true;
  o.docker_config = cfg.path;
  return o;
}

}  // namespace

TEST(RegistryHttp, RedirectToAnotherHostDropsAuthorization) {
  const std::string data = BlobBytes();
  ScriptedServer storage([&](const SeenRequest&) { return Response(200, data); });
  ScriptedServer reg([&](const SeenRequest& r) {
    if (r.headers.count("authorization") == 0)
      return Response(401, "", {"WWW-Authenticate: Basic realm=\"r\""});
    if (r.target == "/v2/") return Response(200, "{}");
    return Response(307, "", {"Location: http://" + storage.host() + "/data/blob?sig=1"});
  });
  EmptyConfig cfg;
  RegistryOptions o = Fast(cfg);
  o.credentials = Credentials{"u", "p"};
  Registry registry(ParseReference(reg.host() + "/repo:t"), o);
  std::string got;
  registry.FetchBlob(Context(), BlobDesc(data), 0, [&](std::string_view b) { got += b; });
  EXPECT_EQ(got, data);
  EXPECT_EQ(registry.scheme(), "http");

  auto reg_seen = reg.requests();
  ASSERT_GE(reg_seen.size(), 2u);
  EXPECT_EQ(reg_seen.back().target, "/v2/repo/blobs/" + BlobDesc(data).digest);
  EXPECT_EQ(reg_seen.back().headers["authorization"], "Basic dTpw");  // "u:p"
  auto storage_seen = storage.requests();
  ASSERT_EQ(storage_seen.size(), 1u);
  EXPECT_EQ(storage_seen[0].target, "/data/blob?sig=1");
  EXPECT_EQ(storage_seen[0].headers.count("authorization"), 0u);
}

TEST(RegistryHttp, ResumesAfterACutConnectionAndRetries5xx) {
  const std::string data = BlobBytes();
  std::atomic<int> blob_calls{0};
  ScriptedServer reg([&](const SeenRequest& r) -> std::string {
    if (r.target == "/v2/") return Response(200, "{}");
    int n = blob_calls++;
    if (n == 0) return Response(503, "busy");
    if (n == 1) {  // promises all, sends 30000 bytes, closes
      return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(data.size()) +
             "\r\nConnection: close\r\n\r\n" + data.substr(0, 30000);
    }
    auto range = r.headers.find("range");
    if (range == r.headers.end()) return Response(200, data);
    int64_t from = std::stoll(range->second.substr(std::string("bytes=").size()));
    return Response(206, data.substr(static_cast<size_t>(from)),
                    {"Content-Range: bytes " + std::to_string(from) + "-" +
                     std::to_string(data.size() - 1) + "/" + std::to_string(data.size())});
  });
  EmptyConfig cfg;
  RegistryOptions o = Fast(cfg);
  Registry registry(ParseReference(reg.host() + "/repo:t"), o);
  std::string got;
  auto t0 = std::chrono::steady_clock::now();
  registry.FetchBlob(Context(), BlobDesc(data), 0, [&](std::string_view b) { got += b; });
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(got, data);
  EXPECT_EQ(blob_calls.load(), 3);
  auto seen = reg.requests();
  ASSERT_EQ(seen.size(), 4u);  // ping, 503, cut, resumed
  EXPECT_EQ(seen[2].headers.count("range"), 0u);
  EXPECT_EQ(seen[3].headers["range"], "bytes=30000-");
  // Back-off: 200 ms then 400 ms.
  EXPECT_GE(took, std::chrono::milliseconds(600));
}

TEST(RegistryHttp, OffsetWhenTheServerIgnoresRange) {
  const std::string data = BlobBytes();
  ScriptedServer reg([&](const SeenRequest& r) {
    if (r.target == "/v2/") return Response(200, "{}");
    return Response(200, data);  // whole blob whatever the Range
  });
  EmptyConfig cfg;
  RegistryOptions o = Fast(cfg);
  Registry registry(ParseReference(reg.host() + "/repo:t"), o);
  std::string got;
  registry.FetchBlob(Context(), BlobDesc(data), 12345, [&](std::string_view b) { got += b; });
  EXPECT_EQ(got, data.substr(12345));
  EXPECT_EQ(reg.requests().back().headers["range"], "bytes=12345-");
}

TEST(RegistryHttp, GivesUpAfterMaxRetriesWithUnavailable) {
  ScriptedServer reg([&](const SeenRequest& r) {
    if (r.target == "/v2/") return Response(200, "{}");
    return Response(502, "bad gateway");
  });
  EmptyConfig cfg;
  RegistryOptions o = Fast(cfg);
  o.max_retries = 1;
  Registry registry(ParseReference(reg.host() + "/repo:t"), o);
  try {
    registry.FetchBlob(Context(), BlobDesc("x"), 0, [](std::string_view) {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnavailable);
    EXPECT_NE(e.message().find(reg.host()), std::string::npos) << e.message();
  }
  EXPECT_EQ(reg.requests().size(), 3u);  // ping + 2 tries
}

TEST(RegistryHttp, ResolveWithoutDigestHeaderComputesIt) {
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":)"
      R"("sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},)"
      R"("layers":[]})";
  ScriptedServer reg([&](const SeenRequest& r) {
    if (r.target == "/v2/") return Response(200, "{}");
    if (r.method == "HEAD") return Response(200, "", {"Content-Type: application/json"});
    return Response(200, manifest, {"Content-Type: text/plain"});
  });
  EmptyConfig cfg;
  RegistryOptions o = Fast(cfg);
  Registry registry(ParseReference(reg.host() + "/repo:t"), o);
  Descriptor d = registry.Resolve(Context());
  EXPECT_EQ(d.digest, Sha256Digest(manifest));
  EXPECT_EQ(d.size, static_cast<int64_t>(manifest.size()));
  EXPECT_EQ(d.media_type, media::kOciManifest);
  auto seen = reg.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].method, "HEAD");
  EXPECT_EQ(seen[1].target, "/v2/repo/manifests/t");
  EXPECT_NE(seen[1].headers["accept"].find("application/vnd.oci.image.index.v1+json"),
            std::string::npos);
  EXPECT_NE(seen[1].headers["accept"].find("application/vnd.docker.distribution.manifest.v2+json"),
            std::string::npos);
  EXPECT_EQ(seen[2].method, "GET");
}

TEST(RegistryHttp, Schema1IsRefused) {
  ScriptedServer reg([&](const SeenRequest& r) {
    if (r.target == "/v2/") return Response(200, "{}");
    return Response(200, R"({"schemaVersion":1,"name":"repo","tag":"t","fsLayers":[]})",
                    {"Content-Type: application/vnd.docker.distribution.manifest.v1+prettyjws",
                     "Docker-Content-Digest: sha256:"
                     "1111111111111111111111111111111111111111111111111111111111111111"});
  });
  EmptyConfig cfg;
  RegistryOptions o = Fast(cfg);
  Registry registry(ParseReference(reg.host() + "/repo:t"), o);
  try {
    registry.Resolve(Context());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(e.message().find("schema 1 manifests are not supported: push the image again with "
                               "a current docker or skopeo"),
              std::string::npos)
        << e.message();
  }
}

TEST(RegistryHttp, FetchManifestVerifiesDigestAndSize) {
  const std::string manifest = R"({"schemaVersion":2,"manifests":[]})";
  ScriptedServer reg([&](const SeenRequest& r) {
    if (r.target == "/v2/") return Response(200, "{}");
    return Response(200, manifest, {"Content-Type: application/vnd.oci.image.index.v1+json"});
  });
  EmptyConfig cfg;
  RegistryOptions o = Fast(cfg);
  Registry registry(ParseReference(reg.host() + "/repo:t"), o);
  Descriptor good{.media_type = std::string(media::kOciIndex),
                  .digest = Sha256Digest(manifest),
                  .size = static_cast<int64_t>(manifest.size())};
  EXPECT_EQ(registry.FetchManifest(Context(), good), manifest);

  Descriptor wrong_digest = good;
  wrong_digest.digest = Sha256Digest("other");
  Descriptor wrong_size = good;
  wrong_size.size -= 1;
  for (const Descriptor& d : {wrong_digest, wrong_size}) {
    try {
      registry.FetchManifest(Context(), d);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition);
      EXPECT_NE(e.message().find(d.digest), std::string::npos) << e.message();
    }
  }
}

TEST(RegistryHttp, BearerTokenFromAccessTokenWithScopeAndBasicCredentials) {
  std::string realm;
  ScriptedServer tokens([&](const SeenRequest&) {
    return Response(200, R"({"access_token":"T0K","expires_in":300})");
  });
  realm = "http://" + tokens.host() + "/token";
  ScriptedServer reg([&](const SeenRequest& r) {
    if (r.headers.count("authorization") == 0 || r.headers.at("authorization") != "Bearer T0K")
      return Response(401,
                      R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})",
                      {"WWW-Authenticate: Bearer realm=\"" + realm + "\",service=\"svc one\""});
    if (r.target == "/v2/") return Response(200, "{}");
    return Response(200, "blob");
  });
  EmptyConfig cfg;
  RegistryOptions o = Fast(cfg);
  o.credentials = Credentials{"u", "p"};
  Registry registry(ParseReference(reg.host() + "/a/b:t"), o);
  std::string got;
  for (int i = 0; i < 2; ++i)
    registry.FetchBlob(Context(), BlobDesc("blob"), 0, [&](std::string_view b) { got += b; });
  EXPECT_EQ(got, "blobblob");
  auto seen = tokens.requests();
  ASSERT_EQ(seen.size(), 1u);  // cached for the second fetch
  EXPECT_EQ(seen[0].target, "/token?service=svc%20one&scope=repository%3Aa%2Fb%3Apull&account=u");
  EXPECT_EQ(seen[0].headers["authorization"], "Basic dTpw");
}

TEST(RegistryHttp, NotFoundNamesTheBlobAndRegistry) {
  ScriptedServer reg([&](const SeenRequest& r) {
    if (r.target == "/v2/") return Response(200, "{}");
    return Response(404, R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]})");
  });
  EmptyConfig cfg;
  RegistryOptions o = Fast(cfg);
  Registry registry(ParseReference(reg.host() + "/repo:t"), o);
  Descriptor d = BlobDesc("x");
  try {
    registry.FetchBlob(Context(), d, 0, [](std::string_view) {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(e.message().find(d.digest), std::string::npos) << e.message();
    EXPECT_NE(e.message().find(reg.host()), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("BLOB_UNKNOWN"), std::string::npos) << e.message();
  }
}

TEST(RegistryHttp, CancelledContextStopsAStalledTransfer) {
  std::atomic<bool> release{false}, stalled{false};
  ScriptedServer reg([&](const SeenRequest& r) -> std::string {
    if (r.target == "/v2/") return Response(200, "{}");
    // Headers and a little data, then a stall until the test ends.
    stalled = true;
    auto deadline = std::chrono::steady_clock::now() + lcdtest::Scaled(std::chrono::seconds(10));
    while (!release && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return Response(200, "late");
  });
  EmptyConfig cfg;
  RegistryOptions o = Fast(cfg);
  Registry registry(ParseReference(reg.host() + "/repo:t"), o);
  Context ctx = Context::Background();
  std::thread canceller([&] {
    // Handshake: the transfer is stalled in the server (was a fixed 300 ms sleep).
    lcdtest::Eventually([&] { return stalled.load(); }, lcdtest::Scaled(std::chrono::seconds(10)));
    ctx.Cancel();
  });
  auto t0 = std::chrono::steady_clock::now();
  try {
    registry.FetchBlob(ctx, BlobDesc("late"), 0, [](std::string_view) {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCancelled);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, lcdtest::Scaled(std::chrono::seconds(5)));
  release = true;
  canceller.join();
}

TEST(RegistryHttp, DeadlineStopsAStalledTransfer) {
  std::atomic<bool> release{false};
  ScriptedServer reg([&](const SeenRequest& r) -> std::string {
    if (r.target == "/v2/") return Response(200, "{}");
    auto deadline = std::chrono::steady_clock::now() + lcdtest::Scaled(std::chrono::seconds(10));
    while (!release && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return Response(200, "late");
  });
  EmptyConfig cfg;
  Registry registry(ParseReference(reg.host() + "/repo:t"), Fast(cfg));
  auto t0 = std::chrono::steady_clock::now();
  try {
    registry.FetchBlob(Context::WithTimeout(std::chrono::milliseconds(300)), BlobDesc("late"), 0,
                       [](std::string_view) {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDeadlineExceeded) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, lcdtest::Scaled(std::chrono::seconds(5)));
  release = true;
}
