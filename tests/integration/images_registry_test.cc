// The registry client (src/images/registry.h) against a real docker-registry on 127.0.0.1
// (tests/support/registry_fixture.h): resolve, manifests, blobs whole and from an offset,
// errors, Basic auth and the Bearer flow through the fixture's token service.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "images/descriptor.h"
#include "images/registry.h"
#include "libcontainerd/errors.h"
#include "registry_fixture.h"
#include "test_util.h"

using namespace libcontainerd;
using namespace libcontainerd::images;

namespace {

namespace fs = std::filesystem;

// A scratch directory with an empty docker config: no test reads the user's own.
class Scratch : public lcdtest::ScratchDir {
 public:
  Scratch() : ScratchDir("lcd-imgreg") { std::ofstream(config()) << "{}"; }
  std::string config() const { return path() + "/config.json"; }
};

using lcdtest::Slurp;

// A small image with two files in one gzip layer; its manifest digest.
std::string SmallImage(lcdtest::OciLayoutBuilder& b, const std::string& tag) {
  lcdtest::TestLayer l;
  l.files["hello.txt"] = "hello " + tag + "\n";
  std::string big;
  for (int i = 0; i < 50000; ++i) big += std::to_string(i * 7919 % 100003) + "\n";
  l.files["numbers.txt"] = big;  // some size, so an offset lands inside
  return b.AddImage({l}, {}, tag);
}

RegistryOptions Options(const Scratch& s) {
  RegistryOptions o;
  o.docker_config = s.config();
  return o;
}

// The error f() throws (fails the test when none).
template <typename F>
Error ErrorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(ErrorKind::kUnknown, "no error");
}

// Resolves repo:tag, fetches its manifest and its layer whole and from the middle; checks all
// against the builder's files.
void PullAndCheck(Registry& registry, const lcdtest::OciLayoutBuilder& b,
                  const std::string& digest) {
  Context ctx;
  Descriptor d = registry.Resolve(ctx);
  EXPECT_EQ(d.digest, digest);
  EXPECT_EQ(d.media_type, media::kOciManifest);
  EXPECT_EQ(d.size, b.BlobSize(digest));

  std::string manifest = registry.FetchManifest(ctx, d);
  EXPECT_EQ(manifest, Slurp(b.BlobPath(digest)));
  Manifest m = ParseManifest(manifest, "manifest");
  ASSERT_EQ(m.layers.size(), 1u);
  const Descriptor& layer = m.layers[0];
  const std::string want = Slurp(b.BlobPath(layer.digest));
  ASSERT_GT(want.size(), 1000u);

  std::string whole;
  registry.FetchBlob(ctx, layer, 0, [&](std::string_view s) { whole += s; });
  EXPECT_EQ(whole, want);

  const int64_t offset = static_cast<int64_t>(want.size() / 2 + 3);
  std::string tail;
  registry.FetchBlob(ctx, layer, offset, [&](std::string_view s) { tail += s; });
  EXPECT_EQ(tail, want.substr(static_cast<size_t>(offset)));

  std::string config;
  registry.FetchBlob(ctx, m.config, 0, [&](std::string_view s) { config += s; });
  EXPECT_EQ(config, Slurp(b.BlobPath(m.config.digest)));
}

}  // namespace

TEST(ImagesRegistry, ResolvesFetchesManifestAndBlobsOfAPushedTag) {
  Scratch s;
  lcdtest::OciLayoutBuilder b(s.path() + "/layout");
  std::string digest = SmallImage(b, "v1");
  lcdtest::LocalRegistry reg;
  reg.Push(b.dir(), "v1", "team/app:v1");

  Registry registry(ParseReference(reg.host() + "/team/app:v1"), Options(s));
  PullAndCheck(registry, b, digest);
  // A loopback registry without TLS: https was tried, http kept.
  EXPECT_EQ(registry.scheme(), "http");
  EXPECT_EQ(registry.host(), reg.host());

  // By digest too.
  Registry by_digest(ParseReference(reg.host() + "/team/app@" + digest), Options(s));
  EXPECT_EQ(by_digest.Resolve(Context()).digest, digest);
}

TEST(ImagesRegistry, ResolvesAnIndex) {
  Scratch s;
  lcdtest::OciLayoutBuilder b(s.path() + "/layout");
  lcdtest::TestLayer l;
  l.files["a"] = "amd64\n";
  lcdtest::TestImageConfig amd;
  std::string m1 = b.AddImage({l}, amd, "");
  l.files["a"] = "arm64\n";
  lcdtest::TestImageConfig arm;
  arm.architecture = "arm64";
  arm.variant = "v8";
  std::string m2 = b.AddImage({l}, arm, "");
  std::string index = b.AddIndex({m1, m2}, "multi");
  lcdtest::LocalRegistry reg;
  reg.Push(b.dir(), "multi", "multi:latest");

  Registry registry(ParseReference(reg.host() + "/multi"), Options(s));
  Descriptor d = registry.Resolve(Context());
  EXPECT_EQ(d.digest, index);
  EXPECT_EQ(d.media_type, media::kOciIndex);
  EXPECT_EQ(registry.FetchManifest(Context(), d), Slurp(b.BlobPath(index)));
}

TEST(ImagesRegistry, UnknownTagIsNotFoundNamingRepoAndTag) {
  Scratch s;
  lcdtest::OciLayoutBuilder b(s.path() + "/layout");
  SmallImage(b, "v1");
  lcdtest::LocalRegistry reg;
  reg.Push(b.dir(), "v1", "app:v1");

  for (const std::string ref : {"app:nope", "missing:v1"}) {
    Registry registry(ParseReference(reg.host() + "/" + ref), Options(s));
    Error e = ErrorOf([&] { registry.Resolve(Context()); });
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
    EXPECT_NE(e.message().find(ref), std::string::npos) << e.message();
    EXPECT_NE(e.message().find(reg.host()), std::string::npos) << e.message();
  }
  // An unknown blob too.
  Registry registry(ParseReference(reg.host() + "/app:v1"), Options(s));
  Descriptor missing{.media_type = std::string(media::kOciLayerGzip),
                     .digest = Sha256Digest("not there"),
                     .size = 9};
  Error e = ErrorOf([&] { registry.FetchBlob(Context(), missing, 0, [](std::string_view) {}); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
  EXPECT_NE(e.message().find(missing.digest), std::string::npos) << e.message();
}

TEST(ImagesRegistry, StoppedRegistryIsUnavailableNamingIt) {
  Scratch s;
  lcdtest::OciLayoutBuilder b(s.path() + "/layout");
  std::string digest = SmallImage(b, "v1");
  lcdtest::LocalRegistry reg;
  reg.Push(b.dir(), "v1", "app:v1");
  Registry pinged(ParseReference(reg.host() + "/app:v1"), Options(s));
  Descriptor d = pinged.Resolve(Context());
  reg.Stop();

  // A fresh client (the ping fails) and one that had pinged (the request fails).
  Registry fresh(ParseReference(reg.host() + "/app:v1"), Options(s));
  for (Registry* r : {&fresh, &pinged}) {
    Error e = ErrorOf([&] { r->Resolve(Context()); });
    EXPECT_EQ(e.kind(), ErrorKind::kUnavailable) << e.what();
    EXPECT_NE(e.message().find(reg.host()), std::string::npos) << e.message();
    e = ErrorOf([&] { r->FetchManifest(Context(), d); });
    EXPECT_EQ(e.kind(), ErrorKind::kUnavailable) << e.what();
    EXPECT_NE(e.message().find(reg.host()), std::string::npos) << e.message();
  }

  // Back again: the same client works.
  reg.Start();
  EXPECT_EQ(pinged.Resolve(Context()).digest, digest);
}

TEST(ImagesRegistry, BasicAuthRefusesNoneAndWrongPasswordAcceptsTheRightOne) {
  Scratch s;
  lcdtest::OciLayoutBuilder b(s.path() + "/layout");
  std::string digest = SmallImage(b, "v1");
  lcdtest::RegistryConfig c;
  c.auth = lcdtest::RegistryAuth::kBasic;
  lcdtest::LocalRegistry reg(c);
  reg.Push(b.dir(), "v1", "private/app:v1");
  const Reference ref = ParseReference(reg.host() + "/private/app:v1");

  {
    Registry anonymous(ref, Options(s));
    Error e = ErrorOf([&] { anonymous.Resolve(Context()); });
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
    EXPECT_NE(e.message().find("authentication to " + reg.host() + " failed"), std::string::npos)
        << e.message();
    EXPECT_NE(e.message().find("none were given"), std::string::npos) << e.message();
  }
  {
    RegistryOptions o = Options(s);
    o.credentials = Credentials{c.user, "wrong"};
    Registry wrong(ref, o);
    Error e = ErrorOf([&] { wrong.Resolve(Context()); });
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
    EXPECT_NE(e.message().find("authentication to " + reg.host() + " failed"), std::string::npos)
        << e.message();
    EXPECT_NE(e.message().find("\"" + c.user + "\""), std::string::npos) << e.message();
  }
  {
    RegistryOptions o = Options(s);
    o.credentials = Credentials{c.user, c.password};
    Registry right(ref, o);
    PullAndCheck(right, b, digest);
  }
  {
    // From docker's config.json (auths.<host>.auth = base64 "user:password").
    std::string config = s.path() + "/docker.json";
    std::string userpass = c.user + ":" + c.password;
    std::string out;
    ASSERT_EQ(0, lcdtest::Sh("printf %s '" + userpass + "' | base64 -w0", &out));
    std::ofstream(config) << R"({"auths":{")" << reg.host() << R"(":{"auth":")" << out << R"("}}})";
    RegistryOptions o;
    o.docker_config = config;
    Registry from_config(ref, o);
    EXPECT_EQ(from_config.Resolve(Context()).digest, digest);
  }
}

TEST(ImagesRegistry, BearerAnonymousAndWithCredentials) {
  Scratch s;
  lcdtest::OciLayoutBuilder b(s.path() + "/layout");
  std::string digest = SmallImage(b, "v1");
  lcdtest::RegistryConfig c;
  c.auth = lcdtest::RegistryAuth::kBearer;
  lcdtest::LocalRegistry reg(c);
  reg.Push(b.dir(), "v1", "team/app:v1");
  const Reference ref = ParseReference(reg.host() + "/team/app:v1");

  int before = reg.token_requests();
  {
    Registry anonymous(ref, Options(s));
    PullAndCheck(anonymous, b, digest);
  }
  int after_anonymous = reg.token_requests();
  // One token for the scope, reused for every request of that client.
  EXPECT_EQ(after_anonymous - before, 1);
  {
    RegistryOptions o = Options(s);
    o.credentials = Credentials{c.user, c.password};
    Registry with_creds(ref, o);
    PullAndCheck(with_creds, b, digest);
  }
  EXPECT_EQ(reg.token_requests() - after_anonymous, 1);
  {
    RegistryOptions o = Options(s);
    o.credentials = Credentials{c.user, "wrong"};
    Registry wrong(ref, o);
    Error e = ErrorOf([&] { wrong.Resolve(Context()); });
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
    EXPECT_NE(e.message().find("authentication to " + reg.host() + " failed"), std::string::npos)
        << e.message();
  }
}

TEST(ImagesRegistry, BearerWithoutAnonymousPullNeedsCredentials) {
  Scratch s;
  lcdtest::OciLayoutBuilder b(s.path() + "/layout");
  std::string digest = SmallImage(b, "v1");
  lcdtest::RegistryConfig c;
  c.auth = lcdtest::RegistryAuth::kBearer;
  c.anonymous_pull = false;
  lcdtest::LocalRegistry reg(c);
  reg.Push(b.dir(), "v1", "app:v1");
  const Reference ref = ParseReference(reg.host() + "/app:v1");

  Registry anonymous(ref, Options(s));
  Error e = ErrorOf([&] { anonymous.Resolve(Context()); });
  EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
  EXPECT_NE(e.message().find("authentication to " + reg.host() + " failed"), std::string::npos)
      << e.message();

  RegistryOptions o = Options(s);
  o.credentials = Credentials{c.user, c.password};
  Registry with_creds(ref, o);
  EXPECT_EQ(with_creds.Resolve(Context()).digest, digest);
}
