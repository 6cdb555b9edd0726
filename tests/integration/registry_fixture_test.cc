// The registry fixture's own checks: what the image tiers rely on holds for the real
// docker-registry, skopeo and the fixture's token service.
#include "registry_fixture.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace lcdtest {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A scratch directory removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/lcd-regtest-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

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

}  // namespace
}  // namespace lcdtest
