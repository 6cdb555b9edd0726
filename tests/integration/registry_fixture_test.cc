// The registry fixture's own checks: what the image tiers rely on holds for the real
// docker-registry, skopeo and the fixture's token service.
#include "registry_fixture.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "test_util.h"

namespace lcdtest {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

json JsonBlob(const OciLayoutBuilder& b, const std::string& digest) {
  return json::parse(Slurp(b.BlobPath(digest)));
}

std::string HttpCode(const std::string& curl_args) {
  std::string out;
  Sh("curl -s -o /dev/null -w '%{http_code}' " + curl_args, &out);
  return out;
}

// Number of docker-registry processes serving this config (by its path on the command line).
int RegistryProcesses(const std::string& storage_dir) {
  std::string dir = fs::path(storage_dir).parent_path().string();
  std::string out;
  // "[d]" keeps the pattern from matching the shell that runs pgrep.
  Sh("pgrep -f -c -- '[d]ocker-registry serve " + dir + "/'", &out);
  return std::atoi(out.c_str());
}

TEST(RegistryFixture, BusyboxImagePushedIsSeenBySkopeoWithTheBuildersDigest) {
  ScratchDir scratch;
  OciLayoutBuilder b(scratch.path() + "/layout");
  TestImageConfig cfg;
  cfg.cmd = {"sh"};
  cfg.env = {"PATH=/bin"};
  cfg.labels = {{"lcd.test", "yes"}};
  std::string digest = b.AddImage({OciLayoutBuilder::BusyboxLayer()}, cfg, "latest");

  LocalRegistry reg;
  reg.Push(b.dir(), "latest", "busybox:latest");
  std::string out;
  ASSERT_EQ(0, Sh("skopeo inspect --tls-verify=false --no-creds docker://" + reg.host() +
                      "/busybox:latest",
                  &out))
      << out;
  json info = json::parse(out);
  EXPECT_EQ(digest, info["Digest"]);
  EXPECT_EQ("yes", info["Labels"]["lcd.test"]);
  // The layer blob is where BlobDataPath says, byte for byte the builder's.
  json manifest = JsonBlob(b, digest);
  std::string layer = manifest["layers"][0]["digest"];
  EXPECT_EQ("application/vnd.oci.image.layer.v1.tar+gzip", manifest["layers"][0]["mediaType"]);
  EXPECT_EQ(Slurp(b.BlobPath(layer)), Slurp(reg.BlobDataPath(layer)));
}

TEST(RegistryFixture, BusyboxLayerHasTheBinaryItsAppletsUsersAndAStickyTmp) {
  ScratchDir scratch;
  OciLayoutBuilder b(scratch.path() + "/layout");
  std::string digest =
      b.AddImage({OciLayoutBuilder::BusyboxLayer(Compression::kNone)}, {}, "latest");
  json manifest = JsonBlob(b, digest);
  std::string layer = manifest["layers"][0]["digest"];
  EXPECT_EQ("application/vnd.oci.image.layer.v1.tar", manifest["layers"][0]["mediaType"]);
  std::string root = scratch.path() + "/root";
  fs::create_directories(root);
  std::string out;
  ASSERT_EQ(0, Sh("tar -C " + root + " -xpf " + b.BlobPath(layer) + " 2>&1", &out)) << out;
  EXPECT_EQ(Slurp("/bin/busybox"), Slurp(root + "/bin/busybox"));
  EXPECT_TRUE(fs::is_symlink(root + "/bin/sh"));
  EXPECT_FALSE(fs::is_symlink(root + "/bin/busybox"));
  ASSERT_EQ(0, Sh(root + "/bin/sh -c 'echo ok'", &out));
  EXPECT_EQ("ok\n", out);
  EXPECT_NE(std::string::npos, Slurp(root + "/etc/passwd").find("app:x:1000:1000:"));
  EXPECT_NE(std::string::npos, Slurp(root + "/etc/group").find("app:x:1000:"));
  struct stat st {};
  ASSERT_EQ(0, ::stat((root + "/tmp").c_str(), &st));
  EXPECT_EQ(01777u, st.st_mode & 07777);
  // The diff ID of an uncompressed layer is its digest.
  json config = JsonBlob(b, manifest["config"]["digest"]);
  EXPECT_EQ(layer, config["rootfs"]["diff_ids"][0]);
}

TEST(RegistryFixture, StopAndStartKeepTheStorageAndThePort) {
  ScratchDir scratch;
  OciLayoutBuilder b(scratch.path() + "/layout");
  TestLayer l;
  l.files["hello.txt"] = "hello\n";
  b.AddImage({l}, {}, "v1");
  LocalRegistry reg;
  std::string host = reg.host();
  reg.Push(b.dir(), "v1", "small:v1");
  reg.Stop();
  EXPECT_FALSE(reg.running());
  EXPECT_EQ("000", HttpCode("http://" + host + "/v2/"));
  reg.Start();
  EXPECT_TRUE(reg.running());
  EXPECT_EQ(host, reg.host());
  EXPECT_EQ("200", HttpCode("http://" + host +
                            "/v2/small/manifests/v1 -H 'Accept: "
                            "application/vnd.oci.image.manifest.v1+json'"));
}

TEST(RegistryFixture, StartOnATakenPortThrowsWithTheLogAndLeavesNoProcess) {
  LocalRegistry reg;
  std::string storage = reg.storage_dir();
  int port = std::atoi(reg.host().substr(reg.host().find(':') + 1).c_str());
  reg.Stop();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(0, ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a));
  ASSERT_EQ(0, ::listen(fd, 1));
  try {
    reg.Start();
    ADD_FAILURE() << "Start succeeded on a taken port";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string::npos, std::string(e.what()).find("address already in use")) << e.what();
  }
  EXPECT_FALSE(reg.running());
  EXPECT_EQ(0, RegistryProcesses(storage));
  ::close(fd);
  reg.Start();
  EXPECT_TRUE(reg.running());
}

TEST(RegistryFixture, DestructorLeavesNoRegistryProcessAndNoDirectory) {
  std::string storage;
  {
    LocalRegistry reg;
    storage = reg.storage_dir();
    EXPECT_EQ(1, RegistryProcesses(storage));
  }
  EXPECT_EQ(0, RegistryProcesses(storage));
  EXPECT_FALSE(fs::exists(fs::path(storage).parent_path()));
}

// A one-file image in a fresh layout; its manifest digest.
std::string SmallImage(OciLayoutBuilder& b, const std::string& tag) {
  TestLayer l;
  l.files["hello.txt"] = "hello " + tag + "\n";
  return b.AddImage({l}, {}, tag);
}

TEST(RegistryFixture, BasicAuthRefusesAnonymousAndAcceptsTheUser) {
  ScratchDir scratch;
  OciLayoutBuilder b(scratch.path() + "/layout");
  std::string digest = SmallImage(b, "v1");
  RegistryConfig c;
  c.auth = RegistryAuth::kBasic;
  LocalRegistry reg(c);
  EXPECT_EQ("401", HttpCode("http://" + reg.host() + "/v2/"));
  EXPECT_EQ("401", HttpCode("-u tester:wrong http://" + reg.host() + "/v2/"));
  EXPECT_EQ("200", HttpCode("-u tester:s3cret http://" + reg.host() + "/v2/"));
  reg.Push(b.dir(), "v1", "small:v1");  // with the credentials
  std::string out;
  EXPECT_NE(0, Sh("skopeo inspect --tls-verify=false --no-creds docker://" + reg.host() +
                      "/small:v1 2>&1",
                  &out));
  ASSERT_EQ(0, Sh("skopeo inspect --tls-verify=false --creds tester:s3cret docker://" + reg.host() +
                      "/small:v1",
                  &out))
      << out;
  EXPECT_EQ(digest, json::parse(out)["Digest"]);
}

// GET url on the token service: {status, token}.
std::pair<std::string, std::string> GetToken(const std::string& url, const std::string& creds) {
  ScratchDir d;
  std::string body_path = d.path() + "/body";
  std::string code;
  Sh("curl -s -o " + body_path + " -w '%{http_code}' " +
         (creds.empty() ? std::string() : "-u " + creds + " ") + "'" + url + "'",
     &code);
  std::string token;
  if (code == "200") token = json::parse(Slurp(body_path)).value("token", "");
  return {code, token};
}

TEST(RegistryFixture, BearerTokenFromTheServiceLetsCurlListTags) {
  ScratchDir scratch;
  OciLayoutBuilder b(scratch.path() + "/layout");
  SmallImage(b, "v1");
  RegistryConfig c;
  c.auth = RegistryAuth::kBearer;
  LocalRegistry reg(c);
  // The challenge names the fixture's token service.
  std::string headers;
  Sh("curl -s -D - -o /dev/null http://" + reg.host() + "/v2/small/tags/list", &headers);
  ASSERT_NE(std::string::npos, headers.find("401")) << headers;
  auto realm_at = headers.find("realm=\"");
  ASSERT_NE(std::string::npos, realm_at) << headers;
  std::string realm = headers.substr(realm_at + 7, headers.find('"', realm_at + 7) - realm_at - 7);
  EXPECT_EQ(reg.token_realm(), realm);
  EXPECT_NE(std::string::npos, headers.find("scope=\"repository:small:pull\"")) << headers;

  reg.Push(b.dir(), "v1", "small:v1");  // skopeo through the token service, with push
  std::string pull_url = realm + "?service=lcd-test-registry&scope=repository:small:pull";
  auto [code, token] = GetToken(pull_url, "");  // anonymous pull
  ASSERT_EQ("200", code);
  std::string list;
  ASSERT_EQ(0, Sh("curl -s -f -H 'Authorization: Bearer " + token + "' http://" + reg.host() +
                      "/v2/small/tags/list",
                  &list));
  EXPECT_EQ(json::parse(R"({"name":"small","tags":["v1"]})"), json::parse(list));
  // Without a token, or with a tampered one, the registry refuses.
  EXPECT_EQ("401", HttpCode("http://" + reg.host() + "/v2/small/tags/list"));
  std::string bad = token;
  bad[bad.size() - 5] = bad[bad.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ("401",
            HttpCode("-H 'Authorization: Bearer " + bad + "' http://" + reg.host() + "/v2/"));
  // An anonymous token does not allow a push (the upload start is refused).
  EXPECT_EQ("401", HttpCode("-X POST -H 'Authorization: Bearer " + token + "' http://" +
                            reg.host() + "/v2/small/blobs/uploads/"));
  // Wrong credentials get no token; the right ones get push too.
  EXPECT_EQ("401", GetToken(pull_url, "tester:wrong").first);
  auto [push_code, push_token] = GetToken(
      realm + "?service=lcd-test-registry&scope=repository:small:pull,push", "tester:s3cret");
  ASSERT_EQ("200", push_code);
  EXPECT_EQ("202", HttpCode("-X POST -H 'Authorization: Bearer " + push_token + "' http://" +
                            reg.host() + "/v2/small/blobs/uploads/"));
  EXPECT_GT(reg.token_requests(), 0);
}

TEST(RegistryFixture, BearerWithoutAnonymousPullNeedsCredentials) {
  ScratchDir scratch;
  OciLayoutBuilder b(scratch.path() + "/layout");
  std::string digest = SmallImage(b, "v1");
  RegistryConfig c;
  c.auth = RegistryAuth::kBearer;
  c.anonymous_pull = false;
  LocalRegistry reg(c);
  reg.Push(b.dir(), "v1", "small:v1");
  std::string out;
  EXPECT_NE(0, Sh("skopeo inspect --tls-verify=false --no-creds docker://" + reg.host() +
                      "/small:v1 2>&1",
                  &out));
  ASSERT_EQ(0, Sh("skopeo inspect --tls-verify=false --creds tester:s3cret docker://" + reg.host() +
                      "/small:v1",
                  &out))
      << out;
  EXPECT_EQ(digest, json::parse(out)["Digest"]);
}

TEST(RegistryFixture, ZstdLayersWhiteoutsAndAnIndexArePushedAsWritten) {
  ScratchDir scratch;
  OciLayoutBuilder b(scratch.path() + "/layout");
  TestLayer lower;
  lower.files["etc/gone.conf"] = "x";
  lower.files["data/old.txt"] = "old";
  lower.compression = Compression::kZstd;
  TestLayer upper;
  upper.whiteouts = {"etc/gone.conf"};
  upper.opaque_dirs = {"data"};
  upper.files["data/new.txt"] = "new";
  upper.files["run.sh"] = "#!/bin/sh\necho hi\n";
  upper.compression = Compression::kZstd;
  TestImageConfig amd;
  amd.entrypoint = {"/run.sh"};
  TestImageConfig arm = amd;
  arm.architecture = "arm64";
  arm.variant = "v8";
  std::string m_amd = b.AddImage({lower, upper}, amd, "");
  std::string m_arm = b.AddImage({lower}, arm, "");
  std::string index = b.AddIndex({m_amd, m_arm}, "multi");

  json idx = JsonBlob(b, index);
  EXPECT_EQ("application/vnd.oci.image.index.v1+json", idx["mediaType"]);
  ASSERT_EQ(2u, idx["manifests"].size());
  EXPECT_EQ(m_amd, idx["manifests"][0]["digest"]);
  EXPECT_EQ(b.BlobSize(m_amd), idx["manifests"][0]["size"]);
  EXPECT_EQ(json::parse(R"({"architecture":"amd64","os":"linux"})"),
            idx["manifests"][0]["platform"]);
  EXPECT_EQ(json::parse(R"({"architecture":"arm64","os":"linux","variant":"v8"})"),
            idx["manifests"][1]["platform"]);
  json manifest = JsonBlob(b, m_amd);
  EXPECT_EQ("application/vnd.oci.image.layer.v1.tar+zstd", manifest["layers"][1]["mediaType"]);
  // The upper layer holds the whiteout, the opaque marker and an executable script.
  std::string listing;
  ASSERT_EQ(
      0, Sh("zstd -dc " + b.BlobPath(manifest["layers"][1]["digest"]) + " | tar -tvf -", &listing));
  EXPECT_NE(std::string::npos, listing.find("etc/.wh.gone.conf")) << listing;
  EXPECT_NE(std::string::npos, listing.find("data/.wh..wh..opq")) << listing;
  EXPECT_NE(std::string::npos, listing.find("-rwxr-xr-x 0/0")) << listing;
  // Diff IDs are the sha256 of the uncompressed tars.
  std::string diff;
  Sh("zstd -dc " + b.BlobPath(manifest["layers"][1]["digest"]) + " | sha256sum | cut -c1-64",
     &diff);
  json config = JsonBlob(b, manifest["config"]["digest"]);
  EXPECT_EQ("sha256:" + diff.substr(0, 64), config["rootfs"]["diff_ids"][1]);
  EXPECT_EQ(json::array({"/run.sh"}), config["config"]["Entrypoint"]);

  LocalRegistry reg;
  reg.Push(b.dir(), "multi", "multi:latest");
  std::string out;
  ASSERT_EQ(0, Sh("skopeo inspect --raw --tls-verify=false --no-creds docker://" + reg.host() +
                      "/multi:latest",
                  &out))
      << out;
  EXPECT_EQ(Slurp(b.BlobPath(index)), out);  // the index byte for byte
  EXPECT_EQ(Slurp(b.BlobPath(manifest["layers"][1]["digest"])),
            Slurp(reg.BlobDataPath(manifest["layers"][1]["digest"])));
}

TEST(RegistryFixture, OciAndDockerArchivesOfALayout) {
  ScratchDir scratch;
  OciLayoutBuilder b(scratch.path() + "/layout");
  std::string digest = SmallImage(b, "v1");
  std::string oci_tar = scratch.path() + "/oci.tar";
  b.WriteOciArchive(oci_tar);
  std::string listing;
  ASSERT_EQ(0, Sh("tar -tf " + oci_tar, &listing));
  EXPECT_NE(std::string::npos, listing.find("oci-layout\n"));
  EXPECT_NE(std::string::npos, listing.find("index.json\n"));
  EXPECT_NE(std::string::npos, listing.find("blobs/sha256/" + digest.substr(7)));
  std::string out;
  ASSERT_EQ(0, Sh("skopeo inspect --raw oci-archive:" + oci_tar + ":v1", &out)) << out;
  EXPECT_EQ(Slurp(b.BlobPath(digest)), out);

  std::string docker_tar = scratch.path() + "/docker.tar";
  b.WriteDockerArchive("v1", docker_tar, "small:v1");
  ASSERT_EQ(0, Sh("tar -xOf " + docker_tar + " manifest.json", &out));
  json m = json::parse(out);
  ASSERT_EQ(1u, m.size());
  EXPECT_EQ(json::array({"docker.io/library/small:v1"}), m[0]["RepoTags"]);  // skopeo's form
  EXPECT_EQ(1u, m[0]["Layers"].size());
}

TEST(RegistryFixture, PushAsDockerStoresDockerMediaTypes) {
  ScratchDir scratch;
  OciLayoutBuilder b(scratch.path() + "/layout");
  TestImageConfig arm;
  arm.architecture = "arm64";
  std::string m1 = SmallImage(b, "v1");
  TestLayer l;
  l.files["arm.txt"] = "arm\n";
  std::string m2 = b.AddImage({l}, arm, "");
  b.AddIndex({m1, m2}, "multi");
  LocalRegistry reg;
  std::string digest = reg.PushAsDocker(b.dir(), "v1", "small:v1");
  EXPECT_NE(m1, digest);
  std::string out;
  ASSERT_EQ(0, Sh("skopeo inspect --raw --tls-verify=false --no-creds docker://" + reg.host() +
                      "/small@" + digest,
                  &out))
      << out;
  json m = json::parse(out);
  EXPECT_EQ("application/vnd.docker.distribution.manifest.v2+json", m["mediaType"]);
  EXPECT_EQ("application/vnd.docker.image.rootfs.diff.tar.gzip", m["layers"][0]["mediaType"]);

  std::string list = reg.PushAsDocker(b.dir(), "multi", "multi:latest");
  ASSERT_EQ(0, Sh("skopeo inspect --raw --tls-verify=false --no-creds docker://" + reg.host() +
                      "/multi@" + list,
                  &out))
      << out;
  m = json::parse(out);
  EXPECT_EQ("application/vnd.docker.distribution.manifest.list.v2+json", m["mediaType"]);
  ASSERT_EQ(2u, m["manifests"].size());
  EXPECT_EQ("arm64", m["manifests"][1]["platform"]["architecture"]);
}

}  // namespace
}  // namespace lcdtest
