// The image service of the containerd backend (images.h), and Client::Images' default.
#include "images/service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "images/archive.h"
#include "images/content.h"
#include "images/image_store.h"
#include "images/mount.h"
#include "images/pull.h"
#include "images/snapshots.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"
#include "remote/connection.h"

namespace libcontainerd {

std::shared_ptr<images::ImageService> Client::Images() {
  throw Error(ErrorKind::kNotImplemented, "this backend has no image store", {.op = "Images"});
}

}  // namespace libcontainerd

namespace libcontainerd::images {
namespace {

std::string NowRfc3339() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

std::string UnpackTargetOf(const std::shared_ptr<remote::Connection>& conn_, const Context& ctx,
                           ContentStore& content, const Descriptor& target,
                           const Platform& platform, const std::string& snapshotter,
                           const std::string& name, const ProgressCallback& progress) {
  Descriptor md = SelectManifest(ctx, content, target, platform, name);
  Manifest m = ParseManifest(content.ReadAll(ctx, md.digest, 4 << 20),
                             "manifest " + md.digest + " of " + name);
  ContentInfo config_info;  // its labels: the GC label is set only when missing
  ConfigFile cfg = ParseConfig(content.ReadAll(ctx, m.config.digest, 16 << 20, &config_info),
                               "config " + m.config.digest + " of " + name);
  return UnpackLayers(conn_, ctx, content, snapshotter, m, cfg, progress, nullptr,
                      &config_info.labels);
}

class ImageServiceImpl final : public ImageService {
 public:
  explicit ImageServiceImpl(std::shared_ptr<remote::Connection> conn) : conn_(std::move(conn)) {}

  Image Pull(const Context& ctx, const std::string& ref, const PullOptions& options) override {
    return Inspect(ctx, PullImage(conn_, ctx, ref, options));
  }

  std::vector<Image> Import(const Context& ctx, const std::string& path,
                            const ImportOptions& options) override {
    std::ifstream in(path, std::ios::binary);
    if (!in)
      ThrowErrno(ErrorKind::kNotFound, errno, "cannot open the archive " + path,
                 {.op = "Import", .path = path});
    return Import(ctx, in, options);
  }

  std::vector<Image> Import(const Context& ctx, std::istream& in,
                            const ImportOptions& options) override {
    Lease lease(conn_, ctx);
    ContentStore content(conn_, lease.id());
    std::vector<ArchiveImage> found = ReadImageArchive(ctx, in, content);
    ImageStore store(conn_);
    const Platform platform = options.platform ? *options.platform : DefaultPlatform();
    std::vector<std::string> names;
    for (const auto& a : found) {
      std::string name = a.name;
      if (name.empty())
        name =
            (options.unnamed_prefix.empty() ? "import-" + NowRfc3339() : options.unnamed_prefix) +
            "@" + a.target.digest;
      store.Put(ctx, ImageRecord{.name = name, .target = a.target});
      if (!options.snapshotter.empty()) {
        try {
          UnpackTargetOf(conn_, ctx, content, a.target, platform, options.snapshotter, name,
                         options.progress);
        } catch (const Error& e) {
          // An archive image for another platform is imported, just not unpacked.
          if (e.kind() != ErrorKind::kInvalidArgument || !IsIndexType(a.target.media_type)) throw;
          Log(LogLevel::kInfo, "import: " + name + " not unpacked: " + e.message());
        }
      }
      names.push_back(name);
    }
    lease.Release(ctx);
    std::vector<Image> out;
    for (const auto& n : names) out.push_back(Inspect(ctx, n));
    return out;
  }

  void Export(const Context& ctx, const std::vector<std::string>& refs,
              const std::string& path) override {
    const std::string tmp = path + ".lcd-" + RandomSuffix();
    try {
      {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out)
          ThrowErrno(ErrorKind::kInvalidArgument, errno, "cannot create " + path,
                     {.op = "Export", .path = path});
        Export(ctx, refs, out);
        out.flush();
        if (!out)
          throw Error(ErrorKind::kUnknown, "writing " + path + " failed",
                      {.op = "Export", .path = path});
      }
      if (::rename(tmp.c_str(), path.c_str()) != 0)
        ThrowErrno(ErrorKind::kUnknown, errno, "rename to " + path, {.op = "Export", .path = path});
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }

  void Export(const Context& ctx, const std::vector<std::string>& refs,
              std::ostream& out) override {
    if (refs.empty())
      throw Error(ErrorKind::kInvalidArgument, "no image to export: name at least one");
    ImageStore store(conn_);
    std::vector<ExportImage> images;
    for (const auto& r : refs) {
      ImageRecord rec = Record(ctx, store, r, "Export");
      images.push_back({rec.name, rec.target});
    }
    ContentStore content(conn_);
    WriteImageArchive(ctx, images, content, DefaultPlatform(), out);
  }

  std::vector<Image> List(const Context& ctx) override {
    ImageStore store(conn_);
    ContentStore content(conn_);
    std::vector<Image> out;
    for (const auto& rec : store.List(ctx)) {
      Image img = Basic(rec);
      try {
        Describe(ctx, content, rec, img, /*full=*/false);
      } catch (const Error& e) {
        // An image whose content is incomplete is listed with what the record says.
        Log(LogLevel::kDebug, "image list: " + rec.name + ": " + e.message());
      }
      out.push_back(std::move(img));
    }
    return out;
  }

  Image Inspect(const Context& ctx, const std::string& ref) override {
    ImageStore store(conn_);
    ImageRecord rec = Record(ctx, store, ref, "Inspect");
    ContentStore content(conn_);
    Image img = Basic(rec);
    Describe(ctx, content, rec, img, /*full=*/true);
    return img;
  }

  Image Tag(const Context& ctx, const std::string& source, const std::string& target) override {
    ImageStore store(conn_);
    ImageRecord rec = Record(ctx, store, source, "Tag");
    ImageRecord copy{
        .name = ParseReference(target).String(), .target = rec.target, .labels = rec.labels};
    store.Put(ctx, copy);
    return Inspect(ctx, copy.name);
  }

  void Remove(const Context& ctx, const std::string& ref, const RemoveOptions& options) override {
    ImageStore store(conn_);
    ImageRecord rec = Record(ctx, store, ref, "Remove");
    if (!options.force) {
      auto users = ContainersUsing(ctx, rec.name);
      if (!users.empty())
        throw Error(
            ErrorKind::kFailedPrecondition,
            "image " + rec.name + " is used by container " + users.front() +
                (users.size() > 1 ? " and " + std::to_string(users.size() - 1) + " more" : "") +
                ": delete the container first, or force the removal",
            {.op = "Remove"});
    }
    store.Delete(ctx, rec.name, options.sync);
  }

  std::vector<std::string> Prune(const Context& ctx) override {
    ImageStore store(conn_);
    std::vector<std::string> removed;
    for (const auto& rec : store.List(ctx)) {
      if (!IsDangling(rec.name) || !ContainersUsing(ctx, rec.name).empty()) continue;
      store.Delete(ctx, rec.name, false);
      removed.push_back(rec.name);
    }
    return removed;
  }

  std::string Unpack(const Context& ctx, const std::string& ref,
                     const std::string& snapshotter) override {
    Lease lease(conn_, ctx);
    std::string top = UnpackImage(conn_, ctx, ref, snapshotter, lease.id()).top;
    lease.Release(ctx);
    return top;
  }

  void WithRootfs(const Context& ctx, const std::string& ref,
                  const std::function<void(const std::string&)>& fn,
                  const std::string& snapshotter) override {
    Lease lease(conn_, ctx, std::chrono::hours(1));
    Snapshots snaps(conn_, snapshotter, lease.id());
    const std::string top = UnpackImage(conn_, ctx, ref, snaps.snapshotter(), lease.id()).top;
    const std::string key = "lcd-view-" + RandomSuffix();
    auto mounts = snaps.View(ctx, key, top);
    std::string dir = "/tmp/lcd-rootfs-XXXXXX";
    if (!::mkdtemp(dir.data())) {
      int err = errno;
      snaps.Remove(ctx, key);
      ThrowErrno(ErrorKind::kUnknown, err, "mkdtemp for the image's root file system",
                 {.op = "WithRootfs"});
    }
    auto cleanup = [&] {
      UnmountAll(dir);
      ::rmdir(dir.c_str());
      try {
        snaps.Remove(ctx, key);
      } catch (const Error& e) {
        Log(LogLevel::kWarning, "image view " + key + " not removed: " + e.message());
      }
    };
    try {
      MountAll(mounts, dir);
      fn(dir);
    } catch (...) {
      cleanup();
      throw;
    }
    cleanup();
    lease.Release(ctx);
  }

  void WithSnapshot(const Context& ctx, const std::string& snapshotter, const std::string& key,
                    const std::function<void(const std::string&)>& fn) override {
    Snapshots snaps(conn_, snapshotter.empty() ? kDefaultSnapshotter : snapshotter);
    if (!snaps.Stat(ctx, key))
      throw Error(ErrorKind::kNotFound,
                  "snapshot " + key + " does not exist in snapshotter " + snaps.snapshotter(),
                  {.op = "WithSnapshot", .path = key});
    auto mounts = snaps.Mounts(ctx, key);
    std::string dir = "/tmp/lcd-snapshot-XXXXXX";
    if (!::mkdtemp(dir.data()))
      ThrowErrno(ErrorKind::kUnknown, errno, "mkdtemp for the snapshot " + key,
                 {.op = "WithSnapshot"});
    try {
      MountAll(mounts, dir);
    } catch (...) {
      ::rmdir(dir.c_str());
      throw;
    }
    auto cleanup = [&] {
      UnmountAll(dir);
      ::rmdir(dir.c_str());
    };
    try {
      fn(dir);
    } catch (...) {
      cleanup();
      throw;
    }
    cleanup();
  }

 private:
  static bool IsDangling(const std::string& name) {
    auto at = name.find('@');
    if (at == std::string::npos) return false;
    // name@digest with no tag: the repository part has no ':' after its last '/'.
    std::string repo = name.substr(0, at);
    auto slash = repo.rfind('/');
    return repo.find(':', slash == std::string::npos ? 0 : slash) == std::string::npos;
  }

  ImageRecord Record(const Context& ctx, ImageStore& store, const std::string& ref,
                     const char* op) {
    return FindRecord(*conn_, ctx, store, ref, op);
  }

  std::vector<std::string> ContainersUsing(const Context& ctx, const std::string& name) {
    remote::Rpc rpc(*conn_, ctx, "Containers.List");
    remote::containers_v1::ListContainersRequest req;
    remote::containers_v1::ListContainersResponse resp;
    rpc.Check(conn_->containers().List(rpc.get(), req, &resp), {});
    std::vector<std::string> ids;
    for (const auto& c : resp.containers())
      if (c.image() == name) ids.push_back(c.id());
    return ids;
  }

  static Image Basic(const ImageRecord& rec) {
    Image img;
    img.name = rec.name;
    img.digest = rec.target.digest;
    img.media_type = rec.target.media_type;
    img.labels = rec.labels;
    img.created_at = rec.created_at;
    return img;
  }

  // Platforms, size, and with full the config, diff IDs, history and unpacked state.
  void Describe(const Context& ctx, ContentStore& content, const ImageRecord& rec, Image& img,
                bool full) {
    const Platform platform = DefaultPlatform();
    if (IsIndexType(rec.target.media_type)) {
      Index index = ParseIndex(content.ReadAll(ctx, rec.target.digest, 4 << 20),
                               "index " + rec.target.digest);
      img.platforms = IndexPlatforms(index);
    }
    Descriptor md = SelectManifest(ctx, content, rec.target, platform, rec.name);
    Manifest m = ParseManifest(content.ReadAll(ctx, md.digest, 4 << 20), "manifest " + md.digest);
    img.size = md.size + m.config.size;
    for (const auto& l : m.layers) img.size += l.size;
    ConfigFile cfg =
        ParseConfig(content.ReadAll(ctx, m.config.digest, 16 << 20), "config " + m.config.digest);
    if (img.platforms.empty()) img.platforms.push_back(cfg.platform);
    img.created = cfg.created;
    if (!full) return;
    img.config_digest = m.config.digest;
    img.platform = cfg.platform;
    img.config = cfg.config;
    img.diff_ids = cfg.diff_ids;
    img.history = cfg.history;
    auto chain = ChainIDs(cfg.diff_ids);
    img.unpacked =
        !chain.empty() && Snapshots(conn_, kDefaultSnapshotter).Stat(ctx, chain.back()).has_value();
  }

  std::shared_ptr<remote::Connection> conn_;
};

}  // namespace

ImageRecord FindRecord(remote::Connection& conn, const Context& ctx, ImageStore& store,
                       const std::string& text, const char* op) {
  // The name as given first: an unnamed import ("import-<date>@sha256:...") is no reference.
  std::optional<ImageRecord> rec;
  std::string name = text;
  try {
    name = ParseReference(text).String();
  } catch (const Error&) {
    if (text.find('@') == std::string::npos) throw;
  }
  if (name != text && text.find('@') != std::string::npos) rec = store.Get(ctx, text);
  if (!rec) rec = store.Get(ctx, name);
  if (!rec)
    throw Error(ErrorKind::kNotFound,
                "no image " + name + " in namespace " + conn.ns() + ": pull or import it first",
                {.op = op});
  return *rec;
}

UnpackedImage UnpackImage(const std::shared_ptr<remote::Connection>& conn, const Context& ctx,
                          const std::string& ref, const std::string& snapshotter,
                          const std::string& lease) {
  ImageStore store(conn);
  ImageRecord rec = FindRecord(*conn, ctx, store, ref, "Unpack");
  ContentStore content(conn, lease);
  std::string top = UnpackTargetOf(conn, ctx, content, rec.target, DefaultPlatform(), snapshotter,
                                   rec.name, nullptr);
  return {rec.name, top};
}

std::shared_ptr<ImageService> NewImageService(std::shared_ptr<remote::Connection> conn) {
  return std::make_shared<ImageServiceImpl>(std::move(conn));
}

}  // namespace libcontainerd::images
