// Images through the library against the real containerd and a real registry (docker-registry on
// 127.0.0.1): pull (layers, whiteouts, platforms, compressions, auth, interruption), containers
// from images, removal and GC, ctr interop, import/export through the service. Traffic: loopback.
#include "libcontainerd/images.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include "client_fixture.h"
#include "harness.h"
#include "libcontainerd/containerd.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/oci/image.h"
#include "libcontainerd/rootfs.h"
#include "registry_fixture.h"
#include "test_util.h"

using namespace libcontainerd;
using images::Image;
using lcdtest::KindOf;

namespace {
namespace fs = std::filesystem;

std::string Ctr(const std::string& ns, const std::string& args) {
  std::string out;
  lcdtest::Sh("ctr -a " + lcdtest::DaemonAddress() + " -n " + ns + " " + args + " 2>&1", &out);
  return out;
}

class ImagesTest : public lcdtest::ClientTest {
 protected:
  static void SetUpTestSuite() { registry_ = new lcdtest::LocalRegistry(); }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }
  void SetUp() override {
    ClientTest::SetUp();
    images_ = client_->Images();
  }
  void TearDown() override {
    if (client_) {
      CleanNamespace();
      for (const auto& img : images_->List(ctx_)) images_->Remove(ctx_, img.name, {.force = true});
    }
    ClientTest::TearDown();
  }

  // Builds an image in a fresh layout and pushes it as <registry>/<repo>:<tag>; returns the
  // reference.
  std::string PushImage(const std::string& repo, const std::vector<lcdtest::TestLayer>& layers,
                        const lcdtest::TestImageConfig& config = {},
                        std::string* manifest_digest = nullptr) {
    lcdtest::OciLayoutBuilder b(scratch_.path() + "/" + repo);
    std::string d = b.AddImage(layers, config, "v1");
    if (manifest_digest) *manifest_digest = d;
    std::string ref = registry_->host() + "/" + repo + ":v1";
    registry_->Push(b.dir(), "v1", repo + ":v1");
    return ref;
  }

  // Runs a container of image with overrides; returns stdout; *code gets the exit code.
  std::string RunImage(const std::string& image, const oci::ImageOverrides& o,
                       uint32_t* code = nullptr, const std::string& id_in = "") {
    std::string id = id_in.empty() ? lcdtest::UniqueId("img") : id_in;
    Image info = images_->Inspect(ctx_, image);
    oci::SpecOptions base;
    base.id = id;
    base.ns = ns_;
    oci::Spec spec;
    images_->WithRootfs(ctx_, image, [&](const std::string& dir) {
      spec = oci::SpecFromImage(info.config, o, base, dir);
    });
    auto c = client_->NewContainer(ctx_, id, spec, "", {}, {.image = info.name});
    auto out = std::make_shared<cio::Captured>();
    auto task = c->NewTask(ctx_, "", false, cio::Capture(out));
    task->Start(ctx_);
    auto st = task->Wait(ctx_);
    task->Delete(ctx_);
    if (code) *code = st.exit_code;
    if (id_in.empty()) c->Delete(ctx_);
    return out->Out();
  }

  static lcdtest::TestLayer Busybox(lcdtest::Compression c = lcdtest::Compression::kGzip) {
    return lcdtest::OciLayoutBuilder::BusyboxLayer(c);
  }

  static lcdtest::LocalRegistry* registry_;
  std::shared_ptr<images::ImageService> images_;
  lcdtest::ScratchDir scratch_{"lcd-imgtest"};
};
lcdtest::LocalRegistry* ImagesTest::registry_ = nullptr;

TEST_F(ImagesTest, PullThreeLayersWithWhiteoutsShowsExactlyTheFinalTree) {
  lcdtest::TestLayer l2;
  l2.files = {{"data/a", "A"}, {"data/b", "B"}, {"opq/old", "old"}};
  l2.dirs = {"data", "opq"};
  lcdtest::TestLayer l3;
  l3.whiteouts = {"data/a"};
  l3.opaque_dirs = {"opq"};
  l3.files = {{"opq/new", "new"}};
  std::string ref = PushImage("whiteouts", {Busybox(), l2, l3});
  Image img = images_->Pull(ctx_, ref, {});
  EXPECT_EQ(img.name, ref);
  EXPECT_EQ(img.diff_ids.size(), 3u);
  EXPECT_TRUE(img.unpacked);
  oci::ImageOverrides o;
  o.cmd = {"/bin/sh", "-c", "ls /data; echo --; ls /opq; cat /data/b"};
  uint32_t code = 99;
  EXPECT_EQ(RunImage(ref, o, &code), "b\n--\nnew\nB");
  EXPECT_EQ(code, 0u);
}

TEST_F(ImagesTest, IndexSelectsThisMachinesPlatformAndPlatformOptionTheOther) {
  lcdtest::OciLayoutBuilder b(scratch_.path() + "/multi");
  lcdtest::TestLayer amd, arm;
  amd.files = {{"which", "amd64"}};
  arm.files = {{"which", "arm64"}};
  lcdtest::TestImageConfig ca, cb;
  ca.cmd = cb.cmd = {"/bin/cat", "/which"};
  cb.architecture = "arm64";
  std::string ma = b.AddImage({Busybox(), amd}, ca, "");
  std::string mb = b.AddImage({Busybox(), arm}, cb, "");
  b.AddIndex({ma, mb}, "v1");
  registry_->Push(b.dir(), "v1", "multi:v1");
  std::string ref = registry_->host() + "/multi:v1";

  Image img = images_->Pull(ctx_, ref, {});
  ASSERT_EQ(images::DefaultPlatform().architecture, "amd64")
      << "this test expects an amd64 machine";
  EXPECT_EQ(img.platforms.size(), 2u);
  EXPECT_EQ(img.platform.architecture, "amd64");
  EXPECT_EQ(RunImage(ref, {}), "amd64");

  // The arm64 manifest is fetched with --platform (not run).
  Image arm_img = images_->Pull(
      ctx_, ref, {.platform = images::ParsePlatform("linux/arm64"), .snapshotter = ""});
  EXPECT_EQ(arm_img.digest, img.digest);  // same index
  EXPECT_NE(Ctr(ns_, "content ls").find(mb), std::string::npos) << "arm64 manifest not fetched";

  // No match: the error lists what the index offers.
  try {
    images_->Pull(ctx_, ref, {.platform = images::ParsePlatform("linux/s390x")});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    EXPECT_NE(e.message().find("linux/amd64"), std::string::npos) << e.what();
    EXPECT_NE(e.message().find("linux/arm64"), std::string::npos) << e.what();
  }
}

TEST_F(ImagesTest, GzipZstdAndUncompressedLayersPullAndRun) {
  for (auto c :
       {lcdtest::Compression::kGzip, lcdtest::Compression::kZstd, lcdtest::Compression::kNone}) {
    lcdtest::TestLayer extra;
    extra.files = {{"hello", "compressed " + std::to_string(static_cast<int>(c))}};
    extra.compression = c;
    std::string ref = PushImage("comp" + std::to_string(static_cast<int>(c)), {Busybox(c), extra});
    images_->Pull(ctx_, ref, {});
    oci::ImageOverrides o;
    o.cmd = {"/bin/cat", "/hello"};
    EXPECT_EQ(RunImage(ref, o), "compressed " + std::to_string(static_cast<int>(c)));
  }
}

TEST_F(ImagesTest, CtrSeesWhatTheLibraryPulledAndTheLibraryRunsWhatCtrPulled) {
  lcdtest::TestImageConfig cfg;
  cfg.cmd = {"/bin/echo", "from-image"};
  std::string ref = PushImage("interop", {Busybox()}, cfg);
  images_->Pull(ctx_, ref, {});
  EXPECT_NE(Ctr(ns_, "images ls -q").find(ref), std::string::npos);
  std::string out = Ctr(ns_, "run --rm " + ref + " " + lcdtest::UniqueId("ctr"));
  EXPECT_NE(out.find("from-image"), std::string::npos) << out;

  std::string ref2 = PushImage("interop2", {Busybox()}, cfg);
  std::string pulled = Ctr(ns_, "images pull --plain-http " + ref2);
  ASSERT_NE(Ctr(ns_, "images ls -q").find(ref2), std::string::npos) << pulled;
  EXPECT_EQ(RunImage(ref2, {}), "from-image\n");
}

TEST_F(ImagesTest, AContainerCreatedByCtrFromAnImageStartsThroughTheLibrary) {
  lcdtest::TestImageConfig cfg;
  cfg.cmd = {"/bin/echo", "made-by-ctr"};
  std::string ref = PushImage("ctrmade", {Busybox()}, cfg);
  images_->Pull(ctx_, ref, {});
  std::string id = lcdtest::UniqueId("ctrc");
  std::string out = Ctr(ns_, "containers create " + ref + " " + id);
  auto c = client_->LoadContainer(ctx_, id);
  EXPECT_EQ(c->Image(ctx_), ref) << out;
  auto captured = std::make_shared<cio::Captured>();
  auto task = c->NewTask(ctx_, "", false, cio::Capture(captured));
  task->Start(ctx_);
  EXPECT_EQ(task->Wait(ctx_).exit_code, 0u);
  task->Delete(ctx_);
  EXPECT_EQ(captured->Out(), "made-by-ctr\n");
  c->Delete(ctx_);
  EXPECT_EQ(Ctr(ns_, "snapshots ls").find(id), std::string::npos)
      << "the container's snapshot was left";
}

TEST_F(ImagesTest, RunFromImageAppliesItsConfigAndOverridesWin) {
  lcdtest::TestImageConfig cfg;
  cfg.entrypoint = {"/bin/sh", "-c"};
  cfg.cmd = {"echo \"$GREETING $(pwd) $(id -u):$(id -g)\""};
  cfg.env = {"PATH=/bin", "GREETING=hello"};
  cfg.working_dir = "/tmp";
  cfg.user = "app";
  std::string ref = PushImage("config", {Busybox()}, cfg);
  images_->Pull(ctx_, ref, {});
  EXPECT_EQ(RunImage(ref, {}), "hello /tmp 1000:1000\n");
  oci::ImageOverrides o;
  o.cmd = {"echo \"$GREETING $(pwd) $(id -u)\""};
  o.env = {"GREETING=bye"};
  o.working_dir = "/";
  o.user = "0";
  EXPECT_EQ(RunImage(ref, o), "bye / 0\n");

  // The container's snapshot exists while it does and goes with Delete.
  std::string id = lcdtest::UniqueId("snap");
  RunImage(ref, {}, nullptr, id);
  EXPECT_NE(Ctr(ns_, "snapshots ls").find(id), std::string::npos);
  EXPECT_EQ(client_->LoadContainer(ctx_, id)->Image(ctx_), ref);
  EXPECT_NE(Ctr(ns_, "containers ls").find(ref), std::string::npos);
  client_->LoadContainer(ctx_, id)->Delete(ctx_);
  EXPECT_EQ(Ctr(ns_, "snapshots ls").find(id), std::string::npos);
}

TEST_F(ImagesTest, RemoveRefusedWhileInUseThenGarbageCollected) {
  std::string manifest;
  lcdtest::TestLayer unique;
  unique.files = {{"unique", lcdtest::UniqueId("u")}};
  std::string ref = PushImage("removal", {Busybox(), unique}, {}, &manifest);
  images_->Pull(ctx_, ref, {});
  std::string id = lcdtest::UniqueId("user");
  oci::ImageOverrides o;
  o.cmd = {"true"};
  RunImage(ref, o, nullptr, id);
  try {
    images_->Remove(ctx_, ref);
    FAIL() << "removed an image in use";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition);
    EXPECT_NE(e.message().find(id), std::string::npos) << e.what();
  }
  client_->LoadContainer(ctx_, id)->Delete(ctx_);
  images_->Remove(ctx_, ref, {.sync = true});
  EXPECT_EQ(KindOf([&] { images_->Inspect(ctx_, ref); }), ErrorKind::kNotFound);
  EXPECT_TRUE(lcdtest::Eventually(
      [&] { return Ctr(ns_, "content ls").find(manifest) == std::string::npos; },
      lcdtest::Scaled(std::chrono::seconds(10))))
      << Ctr(ns_, "content ls");
  EXPECT_TRUE(lcdtest::Eventually(
      [&] { return Ctr(ns_, "snapshots ls").find("sha256:") == std::string::npos; },
      lcdtest::Scaled(std::chrono::seconds(10))))
      << Ctr(ns_, "snapshots ls");
}

TEST_F(ImagesTest, UnknownTagOrRepositoryIsNotFoundNamingIt) {
  std::string ref = PushImage("known", {Busybox()});
  for (std::string bad :
       {registry_->host() + "/known:nope", registry_->host() + "/unknown-repo:v1"}) {
    try {
      images_->Pull(ctx_, bad, {});
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
      EXPECT_NE(std::string(e.what()).find(bad.substr(bad.find('/') + 1)), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(Ctr(ns_, "leases ls -q"), "");
}

TEST_F(ImagesTest, RegistryNotListeningIsUnavailableNamingIt) {
  try {
    images_->Pull(ctx_, "127.0.0.1:1/none:v1", {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Ctr(ns_, "leases ls -q"), "") << "a pull that fetched nothing kept its lease";
}

TEST_F(ImagesTest, TamperedBlobIsADigestMismatchAndNothingIsLeft) {
  lcdtest::TestLayer extra;
  extra.files = {{"f", "tamper-me " + lcdtest::UniqueId("t")}};
  extra.compression = lcdtest::Compression::kNone;
  lcdtest::OciLayoutBuilder b(scratch_.path() + "/tamper");
  std::string md = b.AddImage({extra}, {}, "v1");
  registry_->Push(b.dir(), "v1", "tamper:v1");
  // The manifest's last layer: change a byte of its stored data.
  std::ifstream mf(b.BlobPath(md));
  std::stringstream ms;
  ms << mf.rdbuf();
  std::string layer_digest = ms.str().substr(ms.str().rfind("sha256:"), 71);
  std::string data_path = registry_->BlobDataPath(layer_digest);
  {
    std::fstream f(data_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.put('X');
  }
  try {
    images_->Pull(ctx_, registry_->host() + "/tamper:v1", {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
    EXPECT_NE(std::string(e.what()).find(layer_digest), std::string::npos) << e.what();
  }
  EXPECT_EQ(Ctr(ns_, "content ls -q").find(layer_digest), std::string::npos);
  EXPECT_EQ(Ctr(ns_, "content active").find(layer_digest), std::string::npos)
      << "an ingest was left";
  EXPECT_EQ(Ctr(ns_, "leases ls -q"), "");
  EXPECT_EQ(KindOf([&] { images_->Inspect(ctx_, registry_->host() + "/tamper:v1"); }),
            ErrorKind::kNotFound);
}

TEST_F(ImagesTest, PullCutShortByTheRegistryResumesAndReusesFinishedBlobs) {
  lcdtest::LocalRegistry reg;
  lcdtest::TestLayer big;
  std::string noise;
  std::mt19937 rng(42);
  noise.resize(24 << 20);
  for (auto& ch : noise) ch = static_cast<char>(rng());
  big.files = {{"noise", noise}};
  big.compression = lcdtest::Compression::kNone;
  lcdtest::OciLayoutBuilder b(scratch_.path() + "/cut");
  b.AddImage({Busybox(), big}, {}, "v1");
  reg.Push(b.dir(), "v1", "cut:v1");
  const std::string ref = reg.host() + "/cut:v1";

  std::atomic<bool> stopped{false};
  images::PullOptions o;
  o.max_concurrent_downloads = 1;  // busybox first, then the big layer
  o.progress = [&](const images::Progress& p) {
    if (p.kind == "layer" && p.state == images::ProgressState::kDownloading && p.current > 0 &&
        p.total > (16 << 20) && !stopped.exchange(true))
      reg.Stop();
  };
  try {
    images_->Pull(ctx_, ref, o);
    FAIL() << "pull survived the registry's stop";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find(reg.host()), std::string::npos) << e.what();
  }
  ASSERT_TRUE(stopped.load());
  reg.Start();
  std::mutex mu;
  std::vector<images::Progress> seen;
  o.progress = [&](const images::Progress& p) {
    std::lock_guard l(mu);
    seen.push_back(p);
  };
  Image img = images_->Pull(ctx_, ref, o);
  EXPECT_TRUE(img.unpacked);
  bool reused = false, resumed = false;
  for (const auto& p : seen) {
    if (p.kind == "layer" && p.state == images::ProgressState::kAlreadyExists) reused = true;
    if (p.kind == "layer" && p.state == images::ProgressState::kDownloading &&
        p.total > (16 << 20) && p.current > 0 && !resumed)
      resumed = true;
  }
  EXPECT_TRUE(reused) << "the busybox layer was fetched again";
  EXPECT_TRUE(resumed) << "the big layer started from 0";
}

TEST_F(ImagesTest, BasicAuthRefusesAWrongPasswordAndPullsWithTheRightOne) {
  lcdtest::LocalRegistry reg({.auth = lcdtest::RegistryAuth::kBasic});
  lcdtest::OciLayoutBuilder b(scratch_.path() + "/basic");
  b.AddImage({Busybox()}, {}, "v1");
  reg.Push(b.dir(), "v1", "basic:v1");
  const std::string ref = reg.host() + "/basic:v1";
  std::ofstream(scratch_.path() + "/none.json") << "{}";
  for (auto creds : {std::optional<images::Credentials>{},
                     std::optional<images::Credentials>{{"tester", "wrong"}}}) {
    try {
      images_->Pull(ctx_, ref,
                    {.credentials = creds, .docker_config = scratch_.path() + "/none.json"});
      FAIL() << "pulled without the right password";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
      EXPECT_NE(std::string(e.what()).find("authentication"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(images_->Pull(ctx_, ref, {.credentials = images::Credentials{"tester", "s3cret"}}).name,
            ref);
  // The same credentials from a docker config file.
  images_->Remove(ctx_, ref);
  std::string cfg = scratch_.path() + "/config.json";
  std::ofstream(cfg) << R"({"auths":{")" << reg.host() << R"(":{"auth":"dGVzdGVyOnMzY3JldA=="}}})";
  EXPECT_EQ(images_->Pull(ctx_, ref, {.docker_config = cfg}).name, ref);
}

TEST_F(ImagesTest, BearerTokensAnonymousAndWithCredentials) {
  lcdtest::LocalRegistry anon({.auth = lcdtest::RegistryAuth::kBearer});
  lcdtest::OciLayoutBuilder b(scratch_.path() + "/bearer");
  b.AddImage({Busybox()}, {}, "v1");
  anon.Push(b.dir(), "v1", "bearer:v1");
  EXPECT_NO_THROW(images_->Pull(ctx_, anon.host() + "/bearer:v1", {}));

  lcdtest::LocalRegistry closed({.auth = lcdtest::RegistryAuth::kBearer, .anonymous_pull = false});
  closed.Push(b.dir(), "v1", "bearer:v1");
  const std::string ref = closed.host() + "/bearer:v1";
  std::ofstream(scratch_.path() + "/none.json") << "{}";
  EXPECT_EQ(
      KindOf([&] { images_->Pull(ctx_, ref, {.docker_config = scratch_.path() + "/none.json"}); }),
      ErrorKind::kFailedPrecondition);
  EXPECT_NO_THROW(
      images_->Pull(ctx_, ref, {.credentials = images::Credentials{"tester", "s3cret"}}));
}

TEST_F(ImagesTest, ImportDockerArchiveAndOciArchiveExportRoundTrip) {
  lcdtest::TestImageConfig cfg;
  cfg.cmd = {"/bin/echo", "imported"};
  lcdtest::OciLayoutBuilder b(scratch_.path() + "/arch");
  b.AddImage({Busybox()}, cfg, "v1");
  std::string docker_tar = scratch_.path() + "/docker.tar", oci_tar = scratch_.path() + "/oci.tar";
  b.WriteDockerArchive("v1", docker_tar, "localhost/arch:v1");
  b.WriteOciArchive(oci_tar);

  auto imported = images_->Import(ctx_, docker_tar, {});
  ASSERT_EQ(imported.size(), 1u);
  EXPECT_EQ(imported[0].name, "localhost/arch:v1");
  EXPECT_EQ(RunImage("localhost/arch:v1", {}), "imported\n");
  auto from_oci = images_->Import(ctx_, oci_tar, {.unnamed_prefix = "localhost/oci-import"});
  ASSERT_EQ(from_oci.size(), 1u);

  std::string out_tar = scratch_.path() + "/export.tar";
  images_->Export(ctx_, {"localhost/arch:v1"}, out_tar);
  std::string inspect;
  EXPECT_EQ(lcdtest::Sh("skopeo inspect docker-archive:" + out_tar, &inspect), 0) << inspect;

  auto other = NewContainerdClient(lcdtest::TestClientOptions(ns_ + "x"));
  auto again = other->Images()->Import(ctx_, out_tar, {});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].name, "localhost/arch:v1");
  EXPECT_EQ(again[0].config_digest, imported[0].config_digest);
  EXPECT_EQ(again[0].diff_ids, imported[0].diff_ids);
  other->Images()->Remove(ctx_, "localhost/arch:v1");
}

TEST_F(ImagesTest, TagListInspectAndPrune) {
  lcdtest::TestImageConfig cfg;
  cfg.cmd = {"sh"};
  cfg.labels = {{"team", "x"}};
  std::string ref = PushImage("tagme", {Busybox()}, cfg);
  images_->Pull(ctx_, ref, {});
  Image t = images_->Tag(ctx_, ref, "localhost/renamed:v2");
  EXPECT_EQ(t.name, "localhost/renamed:v2");
  EXPECT_EQ(t.config.labels.at("team"), "x");
  std::set<std::string> names;
  for (const auto& i : images_->List(ctx_)) {
    names.insert(i.name);
    EXPECT_GT(i.size, 0);
  }
  EXPECT_TRUE(names.count(ref) && names.count("localhost/renamed:v2"));
  images_->Tag(ctx_, ref, "localhost/dangling@" + t.digest);
  auto pruned = images_->Prune(ctx_);
  EXPECT_EQ(pruned, std::vector<std::string>{"localhost/dangling@" + t.digest});
  EXPECT_NO_THROW(images_->Inspect(ctx_, ref));
}

TEST_F(ImagesTest, BuiltinBusyboxImageImportsAndRuns) {
  std::stringstream archive;
  WriteBusyboxImage(archive);
  auto imported = images_->Import(ctx_, archive, {});
  ASSERT_EQ(imported.size(), 1u);
  EXPECT_EQ(imported[0].name, kBusyboxImage);
  oci::ImageOverrides o;
  o.cmd = {"echo", "builtin"};
  EXPECT_EQ(RunImage(kBusyboxImage, o), "builtin\n");
}

}  // namespace
