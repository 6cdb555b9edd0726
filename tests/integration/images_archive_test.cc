// Image archives against the real containerd: import of a docker-archive written by skopeo and of
// an OCI layout tar, export and import of the export into a fresh namespace, skopeo reading the
// export, and hostile or broken archives refused with kInvalidArgument naming the entry and no
// ingest left once the import's lease is released. Each test has its own namespace and lease.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "client_fixture.h"
#include "harness.h"
#include "images/archive.h"
#include "images/content.h"
#include "images/descriptor.h"
#include "registry_fixture.h"
#include "remote/connection.h"
#include "test_util.h"

namespace {

using namespace libcontainerd;
using namespace libcontainerd::images;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kGc = "containerd.io/gc.ref.content.";

using lcdtest::Slurp;

// A plain ustar writer, so that tests can make archives no well-behaved tool would write
// (absolute names, "..", links out of the archive).
class TarWriter {
 public:
  void File(const std::string& name, const std::string& data) {
    Header(name, '0', data.size(), "");
    out_ += data;
    out_.append((512 - data.size() % 512) % 512, '\0');
  }
  void Symlink(const std::string& name, const std::string& target) { Header(name, '2', 0, target); }
  void Hardlink(const std::string& name, const std::string& target) {
    Header(name, '1', 0, target);
  }
  std::string Finish() {
    out_.append(1024, '\0');
    return out_;
  }

 private:
  void Header(const std::string& name, char type, size_t size, const std::string& link) {
    std::string h(512, '\0');
    auto put = [&](size_t off, size_t len, const std::string& v) {
      ASSERT_LE(v.size(), len) << v;
      h.replace(off, v.size(), v);
    };
    auto octal = [](uint64_t v, int width) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%0*llo", width, static_cast<unsigned long long>(v));
      return std::string(buf);
    };
    put(0, 100, name);
    put(100, 8, octal(type == '5' ? 0755 : 0644, 7));
    put(108, 8, octal(0, 7));
    put(116, 8, octal(0, 7));
    put(124, 12, octal(size, 11));
    put(136, 12, octal(0, 11));
    h[156] = type;
    put(157, 100, link);
    put(257, 6, std::string("ustar\0", 6));
    put(263, 2, "00");
    h.replace(148, 8, 8, ' ');
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    put(148, 8, octal(sum, 6) + std::string("\0 ", 2));
    out_ += h;
  }
  std::string out_;
};

// A connection, lease and content store in a namespace of its own.
struct Space {
  explicit Space(const std::string& prefix)
      : ns(lcdtest::UniqueId(prefix)),
        conn(remote::Connect(lcdtest::TestClientOptions(ns))),
        lease(std::make_unique<Lease>(conn, Context())),
        content(std::make_unique<ContentStore>(conn, lease->id())),
        plain(std::make_unique<ContentStore>(conn)) {}

  // Refs of the namespace's ingests (Content.ListStatuses).
  std::vector<std::string> Ingests() const {
    Context ctx;
    remote::Rpc rpc(*conn, ctx, "Content.ListStatuses");
    ::containerd::services::content::v1::ListStatusesRequest req;
    ::containerd::services::content::v1::ListStatusesResponse resp;
    rpc.Check(conn->content().ListStatuses(rpc.get(), req, &resp), {});
    std::vector<std::string> refs;
    for (const auto& s : resp.statuses()) refs.push_back(s.ref());
    return refs;
  }

  std::string ns;
  std::shared_ptr<remote::Connection> conn;
  std::unique_ptr<Lease> lease;
  std::unique_ptr<ContentStore> content;
  std::unique_ptr<ContentStore> plain;  // no lease: for checks
};

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lcd-archive-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    a_ = std::make_unique<Space>("archive");
  }
  void TearDown() override {
    for (auto* s : {a_.get(), b_.get()})
      if (s) s->lease->Release(Context());
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::vector<ArchiveImage> ImportFile(Space& s, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << path;
    return ReadImageArchive(Context::WithTimeout(120s), in, *s.content);
  }

  // Imports bytes expecting kInvalidArgument whose message has `needle`; then releases the
  // lease and waits for containerd's GC to drop every ingest of the namespace, and the blobs
  // in `gone` (committed before the failure) with them. ingest_in_flight: the failure cut a
  // write short, whose ingest must exist until the lease goes.
  void ExpectRefused(const std::string& bytes, const std::string& needle,
                     const std::vector<std::string>& gone = {}, bool ingest_in_flight = false) {
    std::istringstream in(bytes);
    try {
      ReadImageArchive(Context::WithTimeout(60s), in, *a_->content);
      ADD_FAILURE() << "import of a bad archive succeeded; expected an error naming " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
      EXPECT_NE(e.message().find(needle), std::string::npos)
          << "message does not name " << needle << ": " << e.what();
    }
    // The check below means something: a write cut short leaves its ingest until the GC.
    if (ingest_in_flight) {
      EXPECT_EQ(a_->Ingests().size(), 1u);
    }
    a_->lease->Release(Context());
    EXPECT_TRUE(lcdtest::Eventually([&] { return a_->Ingests().empty(); }, 10s))
        << "ingests left: " << testing::PrintToString(a_->Ingests());
    for (const auto& d : gone)
      EXPECT_TRUE(lcdtest::Eventually([&] { return !a_->plain->Info(Context(), d); }, 10s))
          << d << " still in the content store after the lease was released";
  }

  // The builder's config of an image (parsed from its manifest blob).
  static ConfigFile BuilderConfig(const lcdtest::OciLayoutBuilder& b, const std::string& manifest) {
    Manifest m = ParseManifest(Slurp(b.BlobPath(manifest)), "builder manifest");
    return ParseConfig(Slurp(b.BlobPath(m.config.digest)), "builder config");
  }

  // Every blob of an OCI image (manifest or index) written by the builder is in `s` with its
  // size; returns their digests.
  std::set<std::string> ExpectBlobs(Space& s, const lcdtest::OciLayoutBuilder& b,
                                    const std::string& digest) {
    std::set<std::string> all{digest};
    std::string data = Slurp(b.BlobPath(digest));
    if (IsIndexType(SniffMediaType(data))) {
      for (const auto& m : ParseIndex(data, "builder index").manifests) {
        auto sub = ExpectBlobs(s, b, m.digest);
        all.insert(sub.begin(), sub.end());
      }
    } else {
      Manifest m = ParseManifest(data, "builder manifest");
      all.insert(m.config.digest);
      for (const auto& l : m.layers) all.insert(l.digest);
    }
    for (const auto& d : all) {
      auto info = s.plain->Info(Context(), d);
      EXPECT_TRUE(info) << d << " not in namespace " << s.ns;
      if (info) {
        EXPECT_EQ(info->size, b.BlobSize(d)) << d;
      }
    }
    return all;
  }

  // A builder with a manifest of three layers (gzip busybox, zstd, uncompressed) named by a
  // full reference, and an index of it and an arm64 manifest under the bare tag "multi".
  struct Built {
    std::unique_ptr<lcdtest::OciLayoutBuilder> b;
    std::string amd64, arm64, index;
  };
  Built BuildOci() {
    Built r;
    r.b = std::make_unique<lcdtest::OciLayoutBuilder>(dir_ + "/layout");
    lcdtest::TestLayer zstd;
    zstd.files["etc/zstd"] = "zstd layer\n";
    zstd.compression = lcdtest::Compression::kZstd;
    lcdtest::TestLayer plain;
    plain.files["etc/plain"] = "plain layer\n";
    plain.compression = lcdtest::Compression::kNone;
    lcdtest::TestImageConfig amd64;
    amd64.cmd = {"sh"};
    r.amd64 = r.b->AddImage({lcdtest::OciLayoutBuilder::BusyboxLayer(), zstd, plain}, amd64,
                            "example.com/team/app:v1");
    lcdtest::TestLayer arm;
    arm.files["etc/arch"] = "arm64\n";
    lcdtest::TestImageConfig arm64;
    arm64.architecture = "arm64";
    arm64.variant = "v8";
    r.arm64 = r.b->AddImage({arm}, arm64, "");
    r.index = r.b->AddIndex({r.amd64, r.arm64}, "multi");
    return r;
  }

  std::string dir_;
  std::unique_ptr<Space> a_;
  std::unique_ptr<Space> b_;
};

TEST_F(ArchiveTest, SkopeoDockerArchiveImportsAsSchema2ManifestOfItsBlobsNamedByRepoTags) {
  lcdtest::OciLayoutBuilder b(dir_ + "/layout");
  lcdtest::TestLayer extra;
  extra.files["etc/hello"] = "hello\n";
  lcdtest::TestImageConfig cfg;
  cfg.cmd = {"sh"};
  std::string manifest =
      b.AddImage({lcdtest::OciLayoutBuilder::BusyboxLayer(), extra}, cfg, "latest");
  std::string tar = dir_ + "/docker.tar";
  b.WriteDockerArchive("latest", tar, "busybox:latest");
  ConfigFile want = BuilderConfig(b, manifest);
  std::string want_config = ParseManifest(Slurp(b.BlobPath(manifest)), "m").config.digest;

  auto images = ImportFile(*a_, tar);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].name, "docker.io/library/busybox:latest");
  const Descriptor& t = images[0].target;
  EXPECT_EQ(t.media_type, media::kDockerManifest);
  std::string data = a_->plain->ReadAll(Context(), t.digest);
  EXPECT_EQ(Sha256Digest(data), t.digest);
  EXPECT_EQ(static_cast<int64_t>(data.size()), t.size);
  Manifest m = ParseManifest(data, "imported manifest");
  EXPECT_EQ(m.media_type, media::kDockerManifest);
  EXPECT_EQ(m.config.media_type, media::kDockerConfig);
  // skopeo keeps the config as it is and stores the layers uncompressed: their digests are the
  // diff IDs.
  EXPECT_EQ(m.config.digest, want_config);
  ASSERT_EQ(m.layers.size(), 2u);
  for (size_t i = 0; i < m.layers.size(); ++i) {
    EXPECT_EQ(m.layers[i].digest, want.diff_ids[i]);
    EXPECT_EQ(m.layers[i].media_type, media::kDockerLayer);
  }
  auto info = a_->plain->Info(Context(), t.digest);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->labels[std::string(kGc) + "config"], m.config.digest);
  EXPECT_EQ(info->labels[std::string(kGc) + "l.0"], m.layers[0].digest);
  EXPECT_EQ(info->labels[std::string(kGc) + "l.1"], m.layers[1].digest);
  for (const auto& d : {m.config, m.layers[0], m.layers[1]}) {
    auto i = a_->plain->Info(Context(), d.digest);
    ASSERT_TRUE(i) << d.digest;
    EXPECT_EQ(i->size, d.size);
  }
  // Everything committed: no ingest left behind by a successful import.
  EXPECT_TRUE(a_->Ingests().empty());
}

TEST_F(ArchiveTest, DockerArchiveLayersReachedThroughLinksGetMediaTypesFromTheirMagic) {
  const std::string gz = std::string("\x1f\x8b\x08", 3) + std::string(200, 'g');
  const std::string zst = std::string("\x28\xb5\x2f\xfd", 4) + std::string(200, 'z');
  const std::string tar = std::string(1024, '\0');
  std::string config =
      json({{"architecture", "amd64"},
            {"os", "linux"},
            {"rootfs",
             {{"type", "layers"},
              {"diff_ids", {Sha256Digest("1"), Sha256Digest("2"), Sha256Digest("3")}}}}})
          .dump();
  std::string hex = Sha256Digest(config).substr(7);
  TarWriter t;
  t.File("manifest.json", json::array({{{"Config", "./" + hex + ".json"},
                                        {"RepoTags", {"localhost:5000/a/b:t1", "c"}},
                                        {"Layers", {"s/layer.tar", "h/layer.tar", "p.tar"}}}})
                              .dump());
  t.File(hex + ".json", config);
  t.File("gz.tar", gz);
  t.Symlink("s/layer.tar", "../gz.tar");
  t.File("zst.tar", zst);
  t.Hardlink("h/layer.tar", "zst.tar");
  t.File("p.tar", tar);
  std::istringstream in(t.Finish());
  auto images = ReadImageArchive(Context(), in, *a_->content);
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0].name, "localhost:5000/a/b:t1");
  EXPECT_EQ(images[1].name, "docker.io/library/c:latest");
  EXPECT_EQ(images[0].target.digest, images[1].target.digest);
  Manifest m = ParseManifest(a_->plain->ReadAll(Context(), images[0].target.digest), "manifest");
  EXPECT_EQ(m.config.digest, "sha256:" + hex);
  ASSERT_EQ(m.layers.size(), 3u);
  EXPECT_EQ(m.layers[0].digest, Sha256Digest(gz));
  EXPECT_EQ(m.layers[0].media_type, media::kDockerLayerGzip);
  EXPECT_EQ(m.layers[1].digest, Sha256Digest(zst));
  EXPECT_EQ(m.layers[1].media_type, media::kOciLayerZstd);
  EXPECT_EQ(m.layers[2].digest, Sha256Digest(tar));
  EXPECT_EQ(m.layers[2].media_type, media::kDockerLayer);
  EXPECT_EQ(m.layers[2].size, 1024);
}

TEST_F(ArchiveTest, OciArchiveImportsEveryBlobWithItsDigestNamesAndGcLabels) {
  Built built = BuildOci();
  std::string tar = dir_ + "/oci.tar";
  built.b->WriteOciArchive(tar);

  auto images = ImportFile(*a_, tar);
  ASSERT_EQ(images.size(), 2u);
  // A full reference as ref.name names the image; a bare tag does not.
  EXPECT_EQ(images[0].name, "example.com/team/app:v1");
  EXPECT_EQ(images[0].target.digest, built.amd64);
  EXPECT_EQ(images[0].target.media_type, media::kOciManifest);
  EXPECT_EQ(images[1].name, "");
  EXPECT_EQ(images[1].target.digest, built.index);
  EXPECT_EQ(images[1].target.media_type, media::kOciIndex);
  ExpectBlobs(*a_, *built.b, built.amd64);
  ExpectBlobs(*a_, *built.b, built.index);

  Manifest m = ParseManifest(Slurp(built.b->BlobPath(built.amd64)), "m");
  auto mi = a_->plain->Info(Context(), built.amd64);
  ASSERT_TRUE(mi);
  EXPECT_EQ(mi->labels[std::string(kGc) + "config"], m.config.digest);
  for (size_t i = 0; i < m.layers.size(); ++i)
    EXPECT_EQ(mi->labels[std::string(kGc) + "l." + std::to_string(i)], m.layers[i].digest);
  auto ii = a_->plain->Info(Context(), built.index);
  ASSERT_TRUE(ii);
  EXPECT_EQ(ii->labels[std::string(kGc) + "m.0"], built.amd64);
  EXPECT_EQ(ii->labels[std::string(kGc) + "m.1"], built.arm64);
  EXPECT_TRUE(a_->Ingests().empty());
}

TEST_F(ArchiveTest, ExportImportedIntoAFreshNamespaceKeepsDigestsAndSkopeoReadsBothLayouts) {
  Built built = BuildOci();
  std::string tar = dir_ + "/oci.tar";
  built.b->WriteOciArchive(tar);
  auto images = ImportFile(*a_, tar);
  ASSERT_EQ(images.size(), 2u);

  std::vector<ExportImage> exports{{"example.com/team/app:v1", images[0].target},
                                   {"docker.io/library/multi:latest", images[1].target}};
  std::string out_path = dir_ + "/export.tar";
  {
    std::ofstream out(out_path, std::ios::binary);
    WriteImageArchive(Context::WithTimeout(120s), exports, *a_->content,
                      ParsePlatform("linux/amd64"), out);
    ASSERT_TRUE(out);
  }

  // Each blob once; the index is kept, the arm64 manifest (another platform) is not carried.
  std::string listing;
  ASSERT_EQ(lcdtest::Sh("tar -tf " + out_path, &listing), 0);
  std::istringstream lines(listing);
  std::multiset<std::string> entries;
  for (std::string l; std::getline(lines, l);) entries.insert(l);
  for (const auto& e : entries) EXPECT_EQ(entries.count(e), 1u) << e;
  auto has = [&](const std::string& digest) {
    return entries.count("blobs/sha256/" + digest.substr(7)) == 1;
  };
  EXPECT_TRUE(entries.count("oci-layout") && entries.count("index.json") &&
              entries.count("manifest.json"))
      << listing;
  EXPECT_TRUE(has(built.index));
  EXPECT_TRUE(has(built.amd64));
  EXPECT_FALSE(has(built.arm64));

  b_ = std::make_unique<Space>("archive-b");
  auto again = ImportFile(*b_, out_path);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].name, "example.com/team/app:v1");
  EXPECT_EQ(again[0].target.digest, built.amd64);
  EXPECT_EQ(again[1].name, "docker.io/library/multi:latest");
  EXPECT_EQ(again[1].target.digest, built.index);
  ExpectBlobs(*b_, *built.b, built.amd64);
  EXPECT_TRUE(b_->plain->Info(Context(), built.index));

  // docker's manifest.json: RepoTags in docker's familiar form, Config and Layers in blobs/.
  std::string mj;
  ASSERT_EQ(lcdtest::Sh("tar -xOf " + out_path + " manifest.json", &mj), 0);
  json docker = json::parse(mj);
  ASSERT_EQ(docker.size(), 1u) << mj;  // both images resolve to the same amd64 manifest
  Manifest m = ParseManifest(Slurp(built.b->BlobPath(built.amd64)), "m");
  EXPECT_EQ(docker[0]["Config"], "blobs/sha256/" + m.config.digest.substr(7));
  EXPECT_EQ(docker[0]["RepoTags"], json({"example.com/team/app:v1", "multi:latest"}));
  ASSERT_EQ(docker[0]["Layers"].size(), m.layers.size());

  // skopeo 1.9 reads both layouts of the export.
  std::string out;
  ASSERT_EQ(lcdtest::Sh("skopeo inspect docker-archive:" + out_path + ":multi:latest 2>&1", &out),
            0)
      << out;
  json inspected = json::parse(out);
  EXPECT_EQ(inspected["Architecture"], "amd64") << out;
  EXPECT_EQ(inspected["Layers"].size(), m.layers.size()) << out;
  out.clear();
  ASSERT_EQ(lcdtest::Sh("skopeo inspect oci-archive:" + out_path + ":v1 2>&1", &out), 0) << out;
  EXPECT_EQ(json::parse(out)["Digest"], built.amd64) << out;
  out.clear();
  ASSERT_EQ(lcdtest::Sh("skopeo inspect --override-os linux --override-arch amd64 oci-archive:" +
                            out_path + ":latest 2>&1",
                        &out),
            0)
      << out;
  EXPECT_EQ(json::parse(out)["Architecture"], "amd64") << out;
}

TEST_F(ArchiveTest, TruncatedArchiveIsInvalidNamingTheEntryAndLeavesNoIngest) {
  // A layer of fresh random bytes: containerd shares a blob another namespace already holds
  // without an ingest of its own, and this test must see the cut write's ingest.
  lcdtest::OciLayoutBuilder b(dir_ + "/layout");
  std::mt19937_64 rng{std::random_device{}()};
  std::string noise(256 << 10, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  lcdtest::TestLayer random;
  random.files["noise"] = noise;
  random.compression = lcdtest::Compression::kNone;
  std::string manifest = b.AddImage({random}, {}, "latest");
  std::string tar = dir_ + "/oci.tar";
  b.WriteOciArchive(tar);
  std::string bytes = Slurp(tar);
  Manifest m = ParseManifest(Slurp(b.BlobPath(manifest)), "m");
  std::string layer_entry = "blobs/sha256/" + m.layers[0].digest.substr(7);
  std::string listing;
  ASSERT_EQ(lcdtest::Sh("tar -tvf " + tar + " -R", &listing), 0);
  std::istringstream lines(listing);
  int64_t block = -1;
  for (std::string l; std::getline(lines, l);)
    if (l.find(layer_entry) != std::string::npos) block = std::stoll(l.substr(6));
  ASSERT_GE(block, 0) << listing;
  // Cut inside the layer's data, after some of it was written.
  int64_t cut = (block + 1) * 512 + m.layers[0].size / 2 + 7;
  ASSERT_LT(cut, static_cast<int64_t>(bytes.size()));
  ExpectRefused(bytes.substr(0, cut), "truncated or not a tar archive (entry \"" + layer_entry, {},
                /*ingest_in_flight=*/true);
}

TEST_F(ArchiveTest, NotATarIsInvalid) {
  ExpectRefused(std::string(3000, 'x'), "truncated or not a tar archive");
}

TEST_F(ArchiveTest, DotDotEntryIsInvalidNamingIt) {
  TarWriter t;
  t.File("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  t.File("../evil", "x");
  ExpectRefused(t.Finish(), "\"../evil\"");
}

TEST_F(ArchiveTest, AbsoluteEntryIsInvalidNamingIt) {
  TarWriter t;
  t.File("/etc/x", "x");
  ExpectRefused(t.Finish(), "\"/etc/x\"");
}

TEST_F(ArchiveTest, SymlinkLeavingTheArchiveIsInvalidNamingIt) {
  TarWriter t;
  t.File("abc.tar", std::string(100, 'a'));
  t.Symlink("abc/layer.tar", "../../etc/passwd");
  ExpectRefused(t.Finish(), "\"abc/layer.tar\"", {Sha256Digest(std::string(100, 'a'))});
}

TEST_F(ArchiveTest, ManifestJsonNamingAMissingLayerIsInvalidNamingIt) {
  // A docker save layout: the config, one layer reached through a link, one missing.
  std::string layer = std::string(1024, '\0');
  std::string config =
      json({{"architecture", "amd64"},
            {"os", "linux"},
            {"rootfs",
             {{"type", "layers"}, {"diff_ids", {Sha256Digest(layer), Sha256Digest(layer)}}}}})
          .dump();
  std::string hex = Sha256Digest(config).substr(7);
  TarWriter t;
  t.File(hex + ".json", config);
  t.File("aaa.tar", layer);
  t.Symlink("one/layer.tar", "../aaa.tar");
  t.File("manifest.json", json::array({{{"Config", hex + ".json"},
                                        {"RepoTags", {"x:1"}},
                                        {"Layers", {"one/layer.tar", "two/layer.tar"}}}})
                              .dump());
  ExpectRefused(t.Finish(), "\"two/layer.tar\"", {Sha256Digest(config), Sha256Digest(layer)});
}

TEST_F(ArchiveTest, ArchiveWithNeitherManifestJsonNorIndexJsonIsInvalid) {
  TarWriter t;
  t.File("hello.txt", "hello\n");
  ExpectRefused(t.Finish(), "neither manifest.json", {Sha256Digest("hello\n")});
}

TEST_F(ArchiveTest, IndexJsonNamingAMissingManifestIsInvalidNamingIt) {
  std::string missing = Sha256Digest("no such manifest");
  TarWriter t;
  t.File("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  t.File("index.json",
         json({{"schemaVersion", 2},
               {"manifests",
                {{{"mediaType", media::kOciManifest}, {"digest", missing}, {"size", 16}}}}})
             .dump());
  ExpectRefused(t.Finish(), missing);
}

TEST_F(ArchiveTest, OciBlobWhoseContentDoesNotMatchItsNameIsInvalidNamingIt) {
  std::string name = "blobs/sha256/" + Sha256Digest("the real content").substr(7);
  TarWriter t;
  t.File(name, "tampered content");
  ExpectRefused(t.Finish(), "\"" + name + "\"");
}

}  // namespace
