// Unit tests of the image objects: JSON decoding and encoding, digests, chain IDs, platforms.
#include <gtest/gtest.h>

#include "images/descriptor.h"
#include "libcontainerd/errors.h"

namespace libcontainerd::images {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

ErrorKind KindOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no error";
  return ErrorKind::kUnknown;
}

TEST(ImagesDescriptor, Sha256KnownAnswer) {
  EXPECT_EQ(Sha256Digest("hello"),
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  Sha256 h;
  h.Update("hel");
  h.Update("lo");
  EXPECT_EQ(h.Digest(), Sha256Digest("hello"));
}

TEST(ImagesDescriptor, ChainIDsFollowTheImageSpecFormula) {
  // Expected values computed with Python's hashlib from the image spec's formula.
  auto ids = ChainIDs({kA, kB, kC});
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], kA);
  EXPECT_EQ(ids[1], "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c");
  EXPECT_EQ(ids[2], "sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588");
  EXPECT_TRUE(ChainIDs({}).empty());
}

TEST(ImagesDescriptor, ManifestRoundTrip) {
  Manifest m;
  m.media_type = std::string(media::kOciManifest);
  m.config = {std::string(media::kOciConfig), kA, 10, {}, {}, {}};
  m.layers.push_back({std::string(media::kOciLayerGzip), kB, 20, {{"k", "v"}}, {}, {}});
  m.layers.push_back({std::string(media::kOciLayerZstd), kC, 30, {}, {}, {}});
  std::string json = EncodeManifest(m);
  EXPECT_EQ(SniffMediaType(json), media::kOciManifest);
  Manifest back = ParseManifest(json, "manifest");
  EXPECT_EQ(back.media_type, m.media_type);
  EXPECT_EQ(back.config.digest, kA);
  ASSERT_EQ(back.layers.size(), 2u);
  EXPECT_EQ(back.layers[0].annotations.at("k"), "v");
  EXPECT_EQ(back.layers[1].size, 30);
  EXPECT_TRUE(IsLayerType(back.layers[1].media_type));
}

TEST(ImagesDescriptor, IndexWithPlatforms) {
  Index idx;
  idx.media_type = std::string(media::kOciIndex);
  idx.manifests.push_back(
      {std::string(media::kOciManifest), kA, 1, {}, Platform{"linux", "amd64", ""}, {}});
  idx.manifests.push_back(
      {std::string(media::kOciManifest), kB, 2, {}, Platform{"linux", "arm64", "v8"}, {}});
  Index back = ParseIndex(EncodeIndex(idx), "index");
  ASSERT_EQ(back.manifests.size(), 2u);
  ASSERT_TRUE(back.manifests[1].platform);
  EXPECT_EQ(back.manifests[1].platform->variant, "v8");
  EXPECT_TRUE(IsIndexType(SniffMediaType(EncodeIndex(idx))));
}

TEST(ImagesDescriptor, SniffsOciDocumentsWithoutMediaTypeAndSchema1) {
  EXPECT_EQ(SniffMediaType(R"({"schemaVersion":2,"manifests":[]})"), media::kOciIndex);
  EXPECT_EQ(SniffMediaType(R"({"schemaVersion":2,"config":{},"layers":[]})"), media::kOciManifest);
  EXPECT_EQ(SniffMediaType(R"({"schemaVersion":1,"fsLayers":[]})"), media::kDockerSchema1);
  EXPECT_EQ(KindOf([] { ParseManifest(R"({"schemaVersion":1,"fsLayers":[]})", "m"); }),
            ErrorKind::kInvalidArgument);
}

TEST(ImagesDescriptor, MalformedDocumentsNameTheField) {
  try {
    ParseManifest(R"({"config":{"digest":"sha256:xyz","size":1},"layers":[]})",
                  "manifest sha256:1234");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("config.digest"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("manifest sha256:1234"), std::string::npos) << e.what();
  }
  EXPECT_EQ(KindOf([] { ParseManifest("not json", "m"); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(
      KindOf([&] { ParseManifest(R"({"config":{"digest":")" + kA + R"(","size":-1}})", "m"); }),
      ErrorKind::kInvalidArgument);
  EXPECT_EQ(KindOf([] { ParseIndex(R"({"manifests":{}})", "i"); }), ErrorKind::kInvalidArgument);
}

TEST(ImagesDescriptor, ConfigFields) {
  std::string json = R"({"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z",
    "config":{"Entrypoint":["/bin/sh","-c"],"Cmd":["echo hi"],"Env":["PATH=/bin","A=1"],
      "WorkingDir":"/w","User":"app","Labels":{"l":"v"},"ExposedPorts":{"80/tcp":{}},
      "Volumes":{"/data":{}},"StopSignal":"SIGINT"},
    "rootfs":{"type":"layers","diff_ids":[")" +
                     kA + R"("]},
    "history":[{"created_by":"x","empty_layer":true}]})";
  ConfigFile f = ParseConfig(json, "config");
  EXPECT_EQ(f.platform, (Platform{"linux", "amd64", ""}));
  EXPECT_EQ(f.config.entrypoint, (std::vector<std::string>{"/bin/sh", "-c"}));
  EXPECT_EQ(f.config.cmd, (std::vector<std::string>{"echo hi"}));
  EXPECT_EQ(f.config.working_dir, "/w");
  EXPECT_EQ(f.config.user, "app");
  EXPECT_EQ(f.config.labels.at("l"), "v");
  EXPECT_EQ(f.config.exposed_ports, (std::vector<std::string>{"80/tcp"}));
  EXPECT_EQ(f.config.volumes, (std::vector<std::string>{"/data"}));
  EXPECT_EQ(f.config.stop_signal, "SIGINT");
  EXPECT_EQ(f.diff_ids, (std::vector<std::string>{kA}));
  ASSERT_EQ(f.history.size(), 1u);
  EXPECT_TRUE(f.history[0].empty_layer);
}

TEST(ImagesDescriptor, PlatformMatching) {
  EXPECT_TRUE(PlatformMatches({"linux", "amd64", ""}, {"linux", "amd64", ""}));
  EXPECT_FALSE(PlatformMatches({"linux", "amd64", ""}, {"linux", "arm64", ""}));
  EXPECT_TRUE(PlatformMatches({"linux", "arm64", "v8"}, {"linux", "arm64", ""}));
  EXPECT_FALSE(PlatformMatches({"linux", "arm", "v7"}, {"linux", "arm", "v6"}));
  EXPECT_TRUE(PlatformMatches({"linux", "arm", ""}, {"linux", "arm", "v6"}));
}

TEST(ImagesDescriptor, DigestValidationAndShortForm) {
  EXPECT_NO_THROW(ValidateDigest(kA, "x"));
  EXPECT_EQ(KindOf([] { ValidateDigest("sha256:ABC", "x"); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(KindOf([] { ValidateDigest("md5:" + std::string(64, 'a'), "x"); }),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(ShortDigest(kB), std::string(12, 'b'));
}

}  // namespace
}  // namespace libcontainerd::images
