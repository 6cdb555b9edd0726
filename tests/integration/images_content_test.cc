// containerd's content, leases, snapshots, diff and images services through the library's
// internal seams (src/images/content.h, snapshots.h, image_store.h), against the real daemon.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"
#include "images/content.h"
#include "images/descriptor.h"
#include "images/image_store.h"
#include "images/snapshots.h"
#include "libcontainerd/containerd.h"
#include "remote/connection.h"
#include "test_util.h"

namespace {

using libcontainerd::Context;
using libcontainerd::Error;
using libcontainerd::ErrorKind;
using namespace libcontainerd::images;
namespace remote = libcontainerd::remote;
using lcdtest::KindOf;

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

class ImagesContent : public ::testing::Test {
 protected:
  void SetUp() override {
    libcontainerd::ClientOptions o;
    o.address = lcdtest::DaemonAddress();
    o.ns = lcdtest::UniqueId("imgc");
    o.state_dir = lcdtest::ClientStateDir();
    conn_ = remote::Connect(o);
    char tmpl[] = "/tmp/lcd-imgc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    // containerd's GC (run by anyone's deletion, in any namespace) takes unreferenced blobs and
    // snapshots at once: the tests' objects live under a lease, as ctr's do.
    lease_ = std::make_unique<Lease>(conn_, Context(), std::chrono::minutes(10));
  }

  void TearDown() override {
    Context ctx;
    // Images, then snapshots children first, then leases, ingests and blobs; then the namespace.
    try {
      ImageStore images(conn_);
      for (const auto& i : images.List(ctx)) images.Delete(ctx, i.name);
      Snapshots snaps(conn_, "overlayfs");
      for (int round = 0; round < 10; ++round) {
        auto all = snaps.List(ctx);
        if (all.empty()) break;
        std::set<std::string> parents;
        for (const auto& s : all) parents.insert(s.parent);
        for (const auto& s : all)
          if (!parents.count(s.name)) snaps.Remove(ctx, s.name);
      }
      lease_.reset();
      {
        remote::Rpc rpc(*conn_, ctx, "Leases.List");
        remote::leases_v1::ListRequest req;
        remote::leases_v1::ListResponse resp;
        rpc.Check(conn_->leases().List(rpc.get(), req, &resp), {});
        for (const auto& l : resp.leases()) {
          remote::Rpc del(*conn_, ctx, "Leases.Delete");
          remote::leases_v1::DeleteRequest dreq;
          dreq.set_id(l.id());
          google::protobuf::Empty e;
          conn_->leases().Delete(del.get(), dreq, &e);
        }
      }
      for (const auto& st : Statuses()) {
        remote::Rpc rpc(*conn_, ctx, "Content.Abort");
        remote::content_v1::AbortRequest req;
        req.set_ref(st.ref());
        google::protobuf::Empty e;
        conn_->content().Abort(rpc.get(), req, &e);
      }
      // The leases' deletion lets containerd's GC take blobs meanwhile: gone is what is wanted.
      ContentStore content(conn_);
      for (const auto& d : AllBlobs()) {
        try {
          content.Delete(ctx, d);
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::kNotFound) throw;
        }
      }
    } catch (const Error& e) {
      ADD_FAILURE() << "clean-up of namespace " << conn_->ns() << ": " << e.what();
    }
    EXPECT_EQ(Sh("ctr --address " + lcdtest::DaemonAddress() + " namespaces remove " + conn_->ns() +
                 " >/dev/null"),
              0)
        << "namespace " << conn_->ns() << " not empty after the test";
    lcdtest::RemoveTree(tmp_);
  }

  std::vector<remote::content_v1::Status> Statuses() {
    Context ctx;
    remote::Rpc rpc(*conn_, ctx, "Content.ListStatuses");
    remote::content_v1::ListStatusesRequest req;
    remote::content_v1::ListStatusesResponse resp;
    rpc.Check(conn_->content().ListStatuses(rpc.get(), req, &resp), {});
    return {resp.statuses().begin(), resp.statuses().end()};
  }

  std::vector<std::string> AllBlobs() {
    Context ctx;
    remote::Rpc rpc(*conn_, ctx, "Content.List");
    remote::content_v1::ListContentRequest req;
    auto reader = conn_->content().List(rpc.get(), req);
    std::vector<std::string> out;
    remote::content_v1::ListContentResponse resp;
    while (reader->Read(&resp))
      for (const auto& i : resp.info()) out.push_back(i.digest());
    rpc.Check(reader->Finish(), {});
    return out;
  }

  bool HasIngest(const std::string& ref) {
    auto st = Statuses();
    return std::any_of(st.begin(), st.end(), [&](const auto& s) { return s.ref() == ref; });
  }

  // A gzip tar layer of the directory tree `dir` (under tmp_); returns {blob, diff ID}.
  std::pair<std::string, std::string> MakeLayer(const std::string& dir) {
    std::string tar = tmp_ + "/" + dir + ".tar";
    EXPECT_EQ(Sh("tar --numeric-owner -C " + tmp_ + "/" + dir + " -cf " + tar +
                 " . && gzip -n -k " + tar),
              0);
    std::string uncompressed = ReadFile(tar);
    return {ReadFile(tar + ".gz"), Sha256Digest(uncompressed)};
  }

  // Stores the layers, a config naming diff_ids and a manifest; returns the manifest.
  Manifest StoreImage(ContentStore& content, const std::vector<std::string>& blobs,
                      const std::vector<std::string>& diff_ids) {
    Context ctx;
    Manifest m;
    m.media_type = std::string(media::kOciManifest);
    for (const auto& b : blobs) {
      Descriptor d;
      d.media_type = std::string(media::kOciLayerGzip);
      d.digest = content.WriteBlob(ctx, "layer-" + Sha256Digest(b), b, Sha256Digest(b));
      d.size = static_cast<int64_t>(b.size());
      m.layers.push_back(d);
    }
    std::string ids;
    for (const auto& d : diff_ids) ids += (ids.empty() ? "\"" : ",\"") + d + "\"";
    std::string config =
        R"({"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[)" +
        ids + "]}}";
    m.config.media_type = std::string(media::kOciConfig);
    m.config.digest =
        content.WriteBlob(ctx, "config-" + Sha256Digest(config), config, Sha256Digest(config));
    m.config.size = static_cast<int64_t>(config.size());
    return m;
  }

  const std::string& lease() const { return lease_->id(); }

  std::shared_ptr<remote::Connection> conn_;
  std::unique_ptr<Lease> lease_;
  std::string tmp_;
};

TEST_F(ImagesContent, WrittenBlobReadsBackWholeAndStreamed) {
  Context ctx;
  ContentStore content(conn_, lease());
  std::string data = RandomBytes((5 << 20) / 2 + 17, 1);  // crosses the 1 MiB chunks
  std::string digest = Sha256Digest(data);
  EXPECT_FALSE(content.Info(ctx, digest).has_value());
  EXPECT_EQ(content.WriteBlob(ctx, "test-" + digest, data, digest), digest);
  auto info = content.Info(ctx, digest);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->size, static_cast<int64_t>(data.size()));
  EXPECT_EQ(content.ReadAll(ctx, digest), data);
  std::string streamed;
  content.Read(ctx, digest, [&](std::string_view chunk) { streamed.append(chunk); });
  EXPECT_EQ(streamed, data);
  EXPECT_EQ(KindOf([&] { content.ReadAll(ctx, digest, 1024); }), ErrorKind::kInvalidArgument);
  // Writing it again is success (containerd says it exists).
  EXPECT_EQ(content.WriteBlob(ctx, "test-again-" + digest, data, digest), digest);
  // Without an expected digest the store names it.
  std::string small = "no expectations";
  EXPECT_EQ(content.WriteBlob(ctx, "test-small", small), Sha256Digest(small));
  EXPECT_EQ(content.WriteBlob(ctx, "test-small-again", small, "", {{"again", "yes"}}),
            Sha256Digest(small));
  EXPECT_EQ(content.Info(ctx, Sha256Digest(small))->labels.at("again"), "yes");
  content.Delete(ctx, digest);
  EXPECT_FALSE(content.Info(ctx, digest).has_value());
  EXPECT_EQ(KindOf([&] { content.ReadAll(ctx, digest); }), ErrorKind::kNotFound);
  EXPECT_EQ(KindOf([&] { content.Delete(ctx, digest); }), ErrorKind::kNotFound);
}

TEST_F(ImagesContent, InterruptedWriteResumesAtItsOffsetWithTheSameRef) {
  Context ctx;
  ContentStore content(conn_, lease());
  std::string data = RandomBytes(3 << 20, 2);
  std::string digest = Sha256Digest(data);
  const std::string ref = "layer-" + digest;
  const size_t half = data.size() / 2;
  {
    auto w = content.OpenWriter(ctx, ref, static_cast<int64_t>(data.size()), digest);
    EXPECT_EQ(w->Offset(), 0);
    w->Write(std::string_view(data).substr(0, half));
    EXPECT_EQ(w->Offset(), static_cast<int64_t>(half));
  }  // dropped without commit
  EXPECT_TRUE(HasIngest(ref));
  EXPECT_FALSE(content.Info(ctx, digest).has_value());
  auto w = content.OpenWriter(ctx, ref, static_cast<int64_t>(data.size()), digest);
  ASSERT_EQ(w->Offset(), static_cast<int64_t>(half));
  w->Write(std::string_view(data).substr(half));
  EXPECT_EQ(w->Commit(static_cast<int64_t>(data.size()), digest, {{"test", "resumed"}}), digest);
  EXPECT_EQ(content.ReadAll(ctx, digest, 8 << 20), data);
  EXPECT_EQ(content.Info(ctx, digest)->labels.at("test"), "resumed");
  EXPECT_FALSE(HasIngest(ref));
}

TEST_F(ImagesContent, WrongExpectedDigestFailsNamingItAndLeavesNothing) {
  Context ctx;
  ContentStore content(conn_, lease());
  std::string data = RandomBytes(100000, 3);
  std::string actual = Sha256Digest(data);
  std::string wrong = Sha256Digest("something else");
  try {
    content.WriteBlob(ctx, "layer-" + wrong, data, wrong);
    FAIL() << "a blob with the wrong digest was committed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
    EXPECT_NE(e.message().find(wrong), std::string::npos) << e.what();
    EXPECT_NE(e.message().find(actual), std::string::npos) << e.what();
  }
  EXPECT_FALSE(content.Info(ctx, actual).has_value());
  EXPECT_FALSE(content.Info(ctx, wrong).has_value());
  EXPECT_FALSE(HasIngest("layer-" + wrong));

  // The same when the data was written by an earlier, interrupted writer and only containerd's
  // commit sees the mismatch.
  const std::string ref = "layer-resumed-" + wrong;
  {
    auto w = content.OpenWriter(ctx, ref, static_cast<int64_t>(data.size()), "");
    w->Write(data);
  }
  auto w = content.OpenWriter(ctx, ref, static_cast<int64_t>(data.size()), "");
  ASSERT_EQ(w->Offset(), static_cast<int64_t>(data.size()));
  try {
    w->Commit(static_cast<int64_t>(data.size()), wrong);
    FAIL() << "a blob with the wrong digest was committed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
    EXPECT_NE(e.message().find(wrong), std::string::npos) << e.what();
  }
  EXPECT_FALSE(content.Info(ctx, actual).has_value());
  EXPECT_FALSE(HasIngest(ref));

  // A wrong size only containerd's commit sees: refused the same way, the ingest removed.
  const std::string sized = "layer-sized-" + actual;
  auto ws = content.OpenWriter(ctx, sized, 0, "");
  ws->Write(data);
  EXPECT_EQ(KindOf([&] { ws->Commit(static_cast<int64_t>(data.size()) + 1, ""); }),
            ErrorKind::kFailedPrecondition);
  EXPECT_FALSE(content.Info(ctx, actual).has_value());
  EXPECT_FALSE(HasIngest(sized));
}

TEST_F(ImagesContent, LabelsAreSetAndRemoved) {
  Context ctx;
  ContentStore content(conn_, lease());
  std::string digest = content.WriteBlob(ctx, "labels", "labelled", "", {{"a", "1"}});
  content.SetLabels(ctx, digest, {{"b", "2"}});
  auto info = content.Info(ctx, digest);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->labels, (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
  content.SetLabels(ctx, digest, {{"a", ""}});
  EXPECT_EQ(content.Info(ctx, digest)->labels, (std::map<std::string, std::string>{{"b", "2"}}));
  EXPECT_EQ(KindOf([&] {
              content.SetLabels(ctx, Sha256Digest("absent"), {{"a", "1"}});
            }),
            ErrorKind::kNotFound);
}

TEST_F(ImagesContent, BlobHeldOnlyByAReleasedLeaseIsCollected) {
  Context ctx;
  std::string data = RandomBytes(4096, 4);
  std::string digest = Sha256Digest(data);
  std::string lease_id;
  {
    Lease gc_lease(conn_, ctx, std::chrono::minutes(10));
    lease_id = gc_lease.id();
    ContentStore content(conn_, gc_lease.id());
    content.WriteBlob(ctx, "leased", data, digest);
    // Something else deleted in the namespace runs the GC: the lease keeps the blob.
    ContentStore plain(conn_);
    std::string other = content.WriteBlob(ctx, "other", "deleted");
    plain.Delete(ctx, other);
    ASSERT_TRUE(lcdtest::Eventually([&] { return !plain.Info(ctx, other).has_value(); },
                                    std::chrono::seconds(5)));
    EXPECT_TRUE(content.Info(ctx, digest).has_value()) << "the GC took a blob its lease holds";
    gc_lease.Release(ctx);
    gc_lease.Release(ctx);  // once is enough; again is a no-op
  }
  ContentStore content(conn_);
  EXPECT_TRUE(lcdtest::Eventually([&] { return !content.Info(ctx, digest).has_value(); },
                                  lcdtest::Scaled(std::chrono::seconds(10))))
      << "blob " << digest << " of released lease " << lease_id << " still there";
}

TEST_F(ImagesContent, LeaseDestructorReleasesIt) {
  Context ctx;
  std::string id;
  {
    Lease dropped(conn_, ctx);
    id = dropped.id();
    EXPECT_EQ(id.rfind("lcd-", 0), 0u);
  }
  remote::Rpc rpc(*conn_, ctx, "Leases.List");
  remote::leases_v1::ListRequest req;
  remote::leases_v1::ListResponse resp;
  rpc.Check(conn_->leases().List(rpc.get(), req, &resp), {});
  for (const auto& l : resp.leases()) EXPECT_NE(l.id(), id);
}

TEST_F(ImagesContent, SnapshotsPrepareCommitViewRemove) {
  Context ctx;
  Snapshots snaps(conn_, "overlayfs", lease());
  EXPECT_FALSE(snaps.Stat(ctx, "active").has_value());
  auto mounts = snaps.Prepare(ctx, "active", "", {{"test", "yes"}});
  ASSERT_FALSE(mounts.empty());
  EXPECT_EQ(snaps.Stat(ctx, "active")->kind, 2);
  EXPECT_EQ(snaps.Mounts(ctx, "active").size(), mounts.size());
  EXPECT_EQ(KindOf([&] { snaps.Prepare(ctx, "active", ""); }), ErrorKind::kAlreadyExists);
  EXPECT_EQ(KindOf([&] { snaps.Prepare(ctx, "orphan", "no-such-parent"); }), ErrorKind::kNotFound);
  snaps.Commit(ctx, "committed", "active", {{"test", "committed"}});
  auto c = snaps.Stat(ctx, "committed");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->kind, 3);
  EXPECT_EQ(c->labels.at("test"), "committed");
  EXPECT_FALSE(snaps.Stat(ctx, "active").has_value());
  EXPECT_FALSE(snaps.View(ctx, "view", "committed").empty());
  auto v = snaps.Stat(ctx, "view");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->kind, 1);
  EXPECT_EQ(v->parent, "committed");
  std::set<std::string> names;
  for (const auto& s : snaps.List(ctx)) names.insert(s.name);
  EXPECT_EQ(names, (std::set<std::string>{"committed", "view"}));
  snaps.Remove(ctx, "view");
  snaps.Remove(ctx, "committed");
  snaps.Remove(ctx, "committed");  // a missing key is not an error
  EXPECT_TRUE(snaps.List(ctx).empty());
}

TEST_F(ImagesContent, UnpackTwoLayersMountsBothAndSkipsThemTheSecondTime) {
  Context ctx;
  ASSERT_EQ(Sh("mkdir -p " + tmp_ + "/l1/a " + tmp_ + "/l2/b && echo one > " + tmp_ +
               "/l1/a/one && echo two > " + tmp_ + "/l2/b/two && echo replaced > " + tmp_ +
               "/l2/top && echo original > " + tmp_ + "/l1/top"),
            0);
  auto [blob1, diff1] = MakeLayer("l1");
  auto [blob2, diff2] = MakeLayer("l2");
  ContentStore content(conn_, lease());
  Manifest m = StoreImage(content, {blob1, blob2}, {diff1, diff2});
  ConfigFile config;
  config.diff_ids = {diff1, diff2};

  std::vector<Progress> seen;
  std::string top = UnpackLayers(conn_, ctx, content, "overlayfs", m, config,
                                 [&](const Progress& p) { seen.push_back(p); });
  auto chain = ChainIDs({diff1, diff2});
  EXPECT_EQ(top, chain[1]);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].state, ProgressState::kExtracting);
  EXPECT_EQ(seen[0].id, ShortDigest(m.layers[0].digest));
  EXPECT_EQ(seen[1].state, ProgressState::kDone);
  EXPECT_EQ(seen[2].state, ProgressState::kExtracting);
  EXPECT_EQ(seen[3].state, ProgressState::kDone);

  Snapshots snaps(conn_, "overlayfs", lease());
  auto s1 = snaps.Stat(ctx, chain[0]);
  auto s2 = snaps.Stat(ctx, chain[1]);
  ASSERT_TRUE(s1 && s2);
  EXPECT_EQ(s1->kind, 3);
  EXPECT_EQ(s2->parent, chain[0]);
  EXPECT_EQ(s2->labels.at("containerd.io/snapshot.ref"), chain[1]);
  EXPECT_EQ(content.Info(ctx, m.layers[0].digest)->labels.at("containerd.io/uncompressed"), diff1);
  EXPECT_EQ(content.Info(ctx, m.layers[1].digest)->labels.at("containerd.io/uncompressed"), diff2);
  EXPECT_EQ(
      content.Info(ctx, m.config.digest)->labels.at("containerd.io/gc.ref.snapshot.overlayfs"),
      top);
  for (const auto& s : snaps.List(ctx)) EXPECT_NE(s.name.rfind("extract-", 0), 0u) << s.name;

  // A view of the top chain ID shows both layers' files, the upper one winning.
  auto mounts = snaps.View(ctx, "view", top);
  ASSERT_EQ(mounts.size(), 1u);
  ASSERT_EQ(mounts[0].type, "overlay");
  std::string data;
  for (const auto& o : mounts[0].options) data += (data.empty() ? "" : ",") + o;
  std::string target = tmp_ + "/mnt";
  ASSERT_EQ(mkdir(target.c_str(), 0700), 0);
  ASSERT_EQ(mount("overlay", target.c_str(), "overlay", 0, data.c_str()), 0)
      << strerror(errno) << " " << data;
  std::string one = ReadFile(target + "/a/one");
  std::string two = ReadFile(target + "/b/two");
  std::string replaced = ReadFile(target + "/top");
  ASSERT_EQ(umount(target.c_str()), 0) << strerror(errno);
  EXPECT_EQ(one, "one\n");
  EXPECT_EQ(two, "two\n");
  EXPECT_EQ(replaced, "replaced\n");
  snaps.Remove(ctx, "view");

  // Unpacked again: every layer is already there.
  seen.clear();
  EXPECT_EQ(UnpackLayers(conn_, ctx, content, "overlayfs", m, config,
                         [&](const Progress& p) { seen.push_back(p); }),
            top);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].state, ProgressState::kAlreadyExists);
  EXPECT_EQ(seen[1].state, ProgressState::kAlreadyExists);
}

TEST_F(ImagesContent, UnpackOfALayerWithAWrongDiffIdFailsAndLeavesNoExtractSnapshot) {
  Context ctx;
  ASSERT_EQ(Sh("mkdir -p " + tmp_ + "/l1 && echo " + conn_->ns() + " > " + tmp_ + "/l1/f"), 0);
  auto [blob, diff] = MakeLayer("l1");
  std::string wrong = Sha256Digest("not the layer");
  ContentStore content(conn_, lease());
  Manifest m = StoreImage(content, {blob}, {wrong});
  ConfigFile config;
  config.diff_ids = {wrong};
  try {
    UnpackLayers(conn_, ctx, content, "overlayfs", m, config, nullptr);
    FAIL() << "a layer with a wrong diff ID was unpacked";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kFailedPrecondition) << e.what();
    EXPECT_NE(e.message().find(wrong), std::string::npos) << e.what();
    EXPECT_NE(e.message().find(diff), std::string::npos) << e.what();
  }
  Snapshots snaps(conn_, "overlayfs");
  EXPECT_TRUE(snaps.List(ctx).empty());
  EXPECT_FALSE(content.Info(ctx, m.layers[0].digest)->labels.count("containerd.io/uncompressed"));

  // Layers and diff IDs that disagree in number.
  config.diff_ids = {wrong, wrong};
  EXPECT_EQ(KindOf([&] { UnpackLayers(conn_, ctx, content, "overlayfs", m, config, nullptr); }),
            ErrorKind::kInvalidArgument);
}

TEST_F(ImagesContent, ImageRecordsCreateUpdateListDelete) {
  Context ctx;
  ContentStore content(conn_, lease());
  std::string manifest = R"({"schemaVersion":2})";
  ImageRecord r;
  r.name = "example.com/test/image:1";
  r.target.media_type = std::string(media::kOciManifest);
  r.target.digest = content.WriteBlob(ctx, "manifest", manifest);
  r.target.size = static_cast<int64_t>(manifest.size());
  r.labels = {{"a", "1"}};
  ImageStore images(conn_);
  EXPECT_FALSE(images.Get(ctx, r.name).has_value());
  ImageRecord created = images.Put(ctx, r);
  EXPECT_EQ(created.target.digest, r.target.digest);
  EXPECT_FALSE(created.created_at.empty());
  r.labels = {{"b", "2"}};
  r.target.size = 42;
  images.Put(ctx, r);
  auto got = images.Get(ctx, r.name);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->labels, r.labels);
  EXPECT_EQ(got->target.size, 42);
  auto all = images.List(ctx);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, r.name);
  images.Delete(ctx, r.name, true);
  EXPECT_FALSE(images.Get(ctx, r.name).has_value());
  try {
    images.Delete(ctx, r.name);
    FAIL() << "deleting a missing image succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(e.message().find(r.name), std::string::npos) << e.what();
  }
}

}  // namespace
