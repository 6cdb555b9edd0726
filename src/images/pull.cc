// Pull: resolve the reference, fetch index / manifest / config / layers into the content store
// (layers in parallel, resumable, verified by containerd on commit against their digests), label
// the blobs so containerd's GC sees image -> content -> snapshots, record the image, unpack.
// Everything is written under one lease, released at the end: a crash mid-pull leaves only
// what the lease's expiry hands to the GC.
#include "images/pull.h"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <future>
#include <mutex>
#include <thread>

#include "images/content.h"
#include "images/image_store.h"
#include "images/registry.h"
#include "images/snapshots.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"

namespace libcontainerd::images {
namespace {

void Report(const ProgressCallback& cb, const std::string& id, const char* kind,
            ProgressState state, int64_t current = 0, int64_t total = 0) {
  if (!cb) return;
  try {
    cb(Progress{id, kind, state, current, total});
  } catch (const std::exception& e) {
    Log(LogLevel::kWarning, std::string("image pull: progress callback threw: ") + e.what());
  }
}

// Labels every fetched blob gets: where it came from (containerd's distribution.source).
std::map<std::string, std::string> SourceLabel(const Reference& ref) {
  std::string host = ref.domain;
  return {{"containerd.io/distribution.source." + host, ref.path}};
}

std::string ListPlatforms(const std::vector<Platform>& ps) {
  std::string s;
  for (const auto& p : ps) s += (s.empty() ? "" : ", ") + p.String();
  return s.empty() ? "none" : s;
}

// A small JSON blob (a config): from the content store when present (then held by the pull's
// lease; `stored` is set), else from the registry (verified against its digest and size).
std::string FetchSmall(const Context& ctx, Registry& reg, ContentStore& content,
                       const Descriptor& d, const char* kind, bool& stored) {
  stored = content.Hold(ctx, d.digest);
  if (stored) return content.ReadAll(ctx, d.digest, 16 << 20);
  if (IsIndexType(d.media_type) || IsManifestType(d.media_type)) return reg.FetchManifest(ctx, d);
  if (d.size > (16 << 20))
    throw Error(ErrorKind::kInvalidArgument, std::string(kind) + " " + d.digest + " is " +
                                                 std::to_string(d.size) +
                                                 " bytes, over the 16 MiB limit of a config");
  std::string data;
  reg.FetchBlob(ctx, d, 0, [&](std::string_view chunk) {
    if (static_cast<int64_t>(data.size() + chunk.size()) > d.size)
      throw Error(ErrorKind::kFailedPrecondition, std::string(kind) + " " + d.digest + " from " +
                                                      reg.host() + " is longer than its size " +
                                                      std::to_string(d.size) + ": refusing it");
    data.append(chunk);
  });
  std::string got = Sha256Digest(data);
  if (got != d.digest || static_cast<int64_t>(data.size()) != d.size)
    throw Error(ErrorKind::kFailedPrecondition,
                std::string(kind) + " " + d.digest + " from " + reg.host() +
                    " does not match its digest (got " + got + ", " + std::to_string(data.size()) +
                    " bytes): refusing it");
  return data;
}

// Fetches one layer into the content store (resuming an earlier partial write of the same ref).
void FetchLayer(const Context& ctx, Registry& reg, ContentStore& content, const Descriptor& d,
                const std::map<std::string, std::string>& labels, const ProgressCallback& progress,
                const std::atomic<bool>& abort) {
  const std::string id = ShortDigest(d.digest);
  if (content.Hold(ctx, d.digest)) {
    Report(progress, id, "layer", ProgressState::kAlreadyExists, d.size, d.size);
    return;
  }
  auto writer = content.OpenWriter(ctx, "layer-" + d.digest, d.size, d.digest);
  int64_t done = writer->Offset();
  if (done > d.size) done = 0;  // not ours to trust: start again
  Report(progress, id, "layer", ProgressState::kDownloading, done, d.size);
  int64_t last_report = done;
  if (done < d.size) {
    reg.FetchBlob(ctx, d, done, [&](std::string_view chunk) {
      if (abort.load()) throw Error(ErrorKind::kCancelled, "another layer of the pull failed");
      if (done + static_cast<int64_t>(chunk.size()) > d.size)
        throw Error(ErrorKind::kFailedPrecondition, "layer " + d.digest + " from " + reg.host() +
                                                        " is longer than its size " +
                                                        std::to_string(d.size) + ": refusing it");
      writer->Write(chunk);
      done += static_cast<int64_t>(chunk.size());
      if (done - last_report >= (512 << 10) || done == d.size) {
        last_report = done;
        Report(progress, id, "layer", ProgressState::kDownloading, done, d.size);
      }
    });
  }
  Report(progress, id, "layer", ProgressState::kVerifying, done, d.size);
  writer->Commit(d.size, d.digest, labels);
  Report(progress, id, "layer", ProgressState::kDone, d.size, d.size);
}

}  // namespace

std::vector<Platform> IndexPlatforms(const Index& index) {
  std::vector<Platform> out;
  for (const auto& m : index.manifests)
    if (m.platform) out.push_back(*m.platform);
  return out;
}

const Descriptor& PickPlatform(const Index& index, const Platform& platform,
                               std::string_view what) {
  for (const auto& m : index.manifests)
    if (m.platform && PlatformMatches(platform, *m.platform)) return m;
  throw Error(ErrorKind::kInvalidArgument,
              std::string(what) + " has no image for platform " + platform.String() +
                  "; it offers: " + ListPlatforms(IndexPlatforms(index)) +
                  " (choose one with --platform)");
}

Descriptor SelectManifest(const Context& ctx, ContentStore& content, const Descriptor& target,
                          const Platform& platform, std::string_view what) {
  Descriptor d = target;
  while (IsIndexType(d.media_type))
    d = PickPlatform(ParseIndex(content.ReadAll(ctx, d.digest, 4 << 20), "index " + d.digest),
                     platform, what);
  return d;
}

namespace {
std::string PullUnderLease(const std::shared_ptr<remote::Connection>& conn, const Context& ctx,
                           const Reference& ref, const PullOptions& options, Lease& lease,
                           bool& resolved);
}  // namespace

std::string PullImage(const std::shared_ptr<remote::Connection>& conn, const Context& ctx,
                      const std::string& text, const PullOptions& options) {
  const Reference ref = ParseReference(text);
  Lease lease(conn, ctx);
  bool resolved = false;
  try {
    std::string name = PullUnderLease(conn, ctx, ref, options, lease, resolved);
    lease.Release(ctx);
    return name;
  } catch (const Error& e) {
    // Cut short (registry gone, cancelled, deadline): keep what was fetched for the next try;
    // the lease's expiry hands it to the GC otherwise. Refused input: release at once.
    if (resolved && (e.kind() == ErrorKind::kUnavailable || e.kind() == ErrorKind::kCancelled ||
                     e.kind() == ErrorKind::kDeadlineExceeded)) {
      Log(LogLevel::kInfo, "image pull of " + ref.String() + " cut short; lease " + lease.id() +
                               " keeps what was fetched until it expires, for the next pull");
      lease.Keep();
    }
    throw;
  }
}

namespace {
std::string PullUnderLease(const std::shared_ptr<remote::Connection>& conn, const Context& ctx,
                           const Reference& ref, const PullOptions& options, Lease& lease,
                           bool& resolved) {
  const std::string name = ref.String();
  const Platform platform = options.platform ? *options.platform : DefaultPlatform();
  const ProgressCallback& progress = options.progress;

  ContentStore content(conn, lease.id());
  Registry reg(ref, RegistryOptions{.plain_http = options.plain_http,
                                    .insecure_registries = options.insecure_registries,
                                    .credentials = options.credentials,
                                    .docker_config = options.docker_config});
  Report(progress, name, "index", ProgressState::kResolving);
  const Descriptor root = reg.Resolve(ctx);
  resolved = true;  // from here on, an interruption leaves blobs worth keeping
  const auto source = SourceLabel(ref);

  // The target: an index (choose the platform's manifest) or a manifest.
  Descriptor manifest_desc = root;
  std::vector<Descriptor> indexes;  // root first, then nested ones, written after their children
  std::vector<std::string> index_json;
  while (IsIndexType(manifest_desc.media_type)) {
    std::string json = reg.FetchManifest(ctx, manifest_desc);
    Index index = ParseIndex(json, "index " + manifest_desc.digest + " of " + name);
    indexes.push_back(manifest_desc);
    index_json.push_back(json);
    manifest_desc = PickPlatform(index, platform, name);
  }
  const std::string manifest_json = reg.FetchManifest(ctx, manifest_desc);
  // A schema 1 document is refused by Registry::Resolve (by media type) and by ParseManifest.
  const Manifest manifest =
      ParseManifest(manifest_json, "manifest " + manifest_desc.digest + " of " + name);

  for (const auto& l : manifest.layers) {
    if (!IsLayerType(l.media_type))
      throw Error(ErrorKind::kInvalidArgument, "layer " + l.digest + " of " + name +
                                                   " has media type " + l.media_type +
                                                   ", which the library cannot unpack");
    Report(progress, ShortDigest(l.digest), "layer", ProgressState::kWaiting, 0, l.size);
  }
  // Parents after children, each labelled with its GC references: written as soon as every layer
  // is in (while the last one unpacks), else at the end.
  auto write_parents = [&] {
    std::map<std::string, std::string> mlabels = source;
    mlabels["containerd.io/gc.ref.content.config"] = manifest.config.digest;
    for (size_t i = 0; i < manifest.layers.size(); ++i)
      mlabels["containerd.io/gc.ref.content.l." + std::to_string(i)] = manifest.layers[i].digest;
    content.WriteBlob(ctx, "manifest-" + manifest_desc.digest, manifest_json, manifest_desc.digest,
                      mlabels);
    for (size_t k = indexes.size(); k-- > 0;) {
      Index index = ParseIndex(index_json[k], "index " + indexes[k].digest);
      std::map<std::string, std::string> ilabels = source;
      for (size_t i = 0; i < index.manifests.size(); ++i)
        ilabels["containerd.io/gc.ref.content.m." + std::to_string(i)] = index.manifests[i].digest;
      content.WriteBlob(ctx, "index-" + indexes[k].digest, index_json[k], indexes[k].digest,
                        ilabels);
    }
  };
  std::future<void> parents;
  // The layers are fetched by up to max_concurrent_downloads threads while this thread fetches
  // the config and then unpacks each layer as soon as it and those below it are in (as
  // containerd's unpacker overlaps them).
  {
    std::atomic<size_t> next{0};
    std::atomic<bool> abort{false};
    std::mutex mu;
    std::condition_variable cv;
    std::vector<bool> fetched(manifest.layers.size(), false);
    std::exception_ptr first_error;
    auto worker = [&] {
      for (size_t i; (i = next.fetch_add(1)) < manifest.layers.size();) {
        if (abort.load()) return;
        try {
          FetchLayer(ctx, reg, content, manifest.layers[i], source, progress, abort);
          std::lock_guard l(mu);
          fetched[i] = true;
        } catch (...) {
          std::lock_guard l(mu);
          if (!first_error) first_error = std::current_exception();
          abort.store(true);
        }
        cv.notify_all();
        if (abort.load()) return;
      }
    };
    size_t n = std::max(1, options.max_concurrent_downloads);
    n = std::min(n, manifest.layers.size());
    std::vector<std::jthread> threads;
    for (size_t i = 0; i < n; ++i) threads.emplace_back(worker);
    auto wait_for = [&](size_t i) {
      std::unique_lock l(mu);
      cv.wait(l, [&] { return fetched[i] || first_error; });
      if (first_error) std::rethrow_exception(first_error);
      l.unlock();
      // Called in layer order by this thread: after the last one, every layer is committed.
      if (i + 1 == manifest.layers.size() && !parents.valid())
        parents = std::async(std::launch::async, write_parents);
    };
    try {
      // The config meanwhile. It is labelled with its GC reference to the top snapshot at once
      // (the chain IDs are known from it): unpacking then has no label to set at its end.
      const std::string config_id = ShortDigest(manifest.config.digest);
      Report(progress, config_id, "config", ProgressState::kDownloading, 0, manifest.config.size);
      bool stored = false;
      const std::string config_json =
          FetchSmall(ctx, reg, content, manifest.config, "config", stored);
      const ConfigFile config =
          ParseConfig(config_json, "config " + manifest.config.digest + " of " + name);
      std::map<std::string, std::string> config_labels = source;
      if (!options.snapshotter.empty() && !config.diff_ids.empty())
        config_labels["containerd.io/gc.ref.snapshot." + options.snapshotter] =
            ChainIDs(config.diff_ids).back();
      if (stored)
        content.SetLabels(ctx, manifest.config.digest, config_labels);
      else
        content.WriteBlob(ctx, "config-" + manifest.config.digest, config_json,
                          manifest.config.digest, config_labels);
      Report(progress, config_id, "config", ProgressState::kDone, manifest.config.size,
             manifest.config.size);
      if (!options.snapshotter.empty())
        UnpackLayers(conn, ctx, content, options.snapshotter, manifest, config, progress, wait_for,
                     &config_labels);
      for (size_t i = 0; i < manifest.layers.size(); ++i) wait_for(i);
    } catch (...) {
      abort.store(true);
      threads.clear();  // joins
      std::lock_guard l(mu);
      // A fetch failure is the cause; an unpack failure stands when every fetch went well.
      if (first_error) std::rethrow_exception(first_error);
      throw;
    }
    threads.clear();
  }

  if (parents.valid())
    parents.get();
  else
    write_parents();

  ImageStore(conn).Put(ctx, ImageRecord{.name = name, .target = root});
  return name;
}
}  // namespace

}  // namespace libcontainerd::images
