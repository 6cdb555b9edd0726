// containerd's snapshots and diff services, and unpacking an image's layers into a snapshotter,
// as src/images/snapshots.h describes them.
#include "images/snapshots.h"

#include <google/protobuf/empty.pb.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <random>
#include <utility>

#include "libcontainerd/errors.h"
#include "libcontainerd/log.h"
#include "remote/connection.h"

namespace libcontainerd::images {

namespace {

namespace snapshots_v1 = remote::snapshots_v1;
namespace diff_v1 = remote::diff_v1;

constexpr const char* kSnapshotRefLabel = "containerd.io/snapshot.ref";
constexpr const char* kUncompressedLabel = "containerd.io/uncompressed";
constexpr const char* kGcSnapshotPrefix = "containerd.io/gc.ref.snapshot.";

std::vector<MountInfo> FromProto(
    const google::protobuf::RepeatedPtrField<::containerd::types::Mount>& in) {
  std::vector<MountInfo> out;
  out.reserve(static_cast<size_t>(in.size()));
  for (const auto& m : in) {
    MountInfo mi;
    mi.type = m.type();
    mi.source = m.source();
    mi.target = m.target();
    mi.options.assign(m.options().begin(), m.options().end());
    out.push_back(std::move(mi));
  }
  return out;
}

SnapshotInfo FromProto(const snapshots_v1::Info& in) {
  SnapshotInfo out;
  out.name = in.name();
  out.parent = in.parent();
  out.kind = static_cast<int>(in.kind());
  out.labels.insert(in.labels().begin(), in.labels().end());
  return out;
}

std::string ExtractKey(const std::string& chain_id) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char rnd[17];
  std::snprintf(rnd, sizeof rnd, "%016llx", static_cast<unsigned long long>(rng()));
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  return "extract-" + std::to_string(nanos) + "-" + std::string(rnd, 8) + " " + chain_id;
}

void Report(const ProgressCallback& progress, const Descriptor& layer, ProgressState state,
            int64_t current) {
  if (!progress) return;
  Progress p;
  p.id = ShortDigest(layer.digest);
  p.kind = "layer";
  p.state = state;
  p.current = current;
  p.total = layer.size;
  progress(p);
}

}  // namespace

Snapshots::Snapshots(std::shared_ptr<remote::Connection> conn, std::string snapshotter,
                     std::string lease)
    : conn_(std::move(conn)),
      snapshotter_(snapshotter.empty() ? kDefaultSnapshotter : std::move(snapshotter)),
      lease_(std::move(lease)) {}

void AddMounts(const std::vector<MountInfo>& mounts,
               google::protobuf::RepeatedPtrField<::containerd::types::Mount>* out) {
  for (const auto& m : mounts) {
    auto* pm = out->Add();
    pm->set_type(m.type);
    pm->set_source(m.source);
    pm->set_target(m.target);
    for (const auto& o : m.options) pm->add_options(o);
  }
}

std::optional<SnapshotInfo> Snapshots::Stat(const Context& ctx, const std::string& key) {
  remote::Rpc rpc(*conn_, ctx, "Snapshots.Stat");
  snapshots_v1::StatSnapshotRequest req;
  req.set_snapshotter(snapshotter_);
  req.set_key(key);
  snapshots_v1::StatSnapshotResponse resp;
  grpc::Status s = conn_->snapshots().Stat(rpc.get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  rpc.Check(s, {.path = key});
  return FromProto(resp.info());
}

std::vector<MountInfo> Snapshots::Prepare(const Context& ctx, const std::string& key,
                                          const std::string& parent,
                                          const std::map<std::string, std::string>& labels) {
  remote::Rpc rpc(*conn_, ctx, "Snapshots.Prepare");
  rpc.SetLease(lease_);
  snapshots_v1::PrepareSnapshotRequest req;
  req.set_snapshotter(snapshotter_);
  req.set_key(key);
  req.set_parent(parent);
  req.mutable_labels()->insert(labels.begin(), labels.end());
  snapshots_v1::PrepareSnapshotResponse resp;
  rpc.Check(conn_->snapshots().Prepare(rpc.get(), req, &resp), {.path = key});
  return FromProto(resp.mounts());
}

std::vector<MountInfo> Snapshots::View(const Context& ctx, const std::string& key,
                                       const std::string& parent,
                                       const std::map<std::string, std::string>& labels) {
  remote::Rpc rpc(*conn_, ctx, "Snapshots.View");
  rpc.SetLease(lease_);
  snapshots_v1::ViewSnapshotRequest req;
  req.set_snapshotter(snapshotter_);
  req.set_key(key);
  req.set_parent(parent);
  req.mutable_labels()->insert(labels.begin(), labels.end());
  snapshots_v1::ViewSnapshotResponse resp;
  rpc.Check(conn_->snapshots().View(rpc.get(), req, &resp), {.path = key});
  return FromProto(resp.mounts());
}

std::vector<MountInfo> Snapshots::Mounts(const Context& ctx, const std::string& key) {
  remote::Rpc rpc(*conn_, ctx, "Snapshots.Mounts");
  snapshots_v1::MountsRequest req;
  req.set_snapshotter(snapshotter_);
  req.set_key(key);
  snapshots_v1::MountsResponse resp;
  rpc.Check(conn_->snapshots().Mounts(rpc.get(), req, &resp), {.path = key});
  return FromProto(resp.mounts());
}

void Snapshots::Commit(const Context& ctx, const std::string& name, const std::string& key,
                       const std::map<std::string, std::string>& labels) {
  remote::Rpc rpc(*conn_, ctx, "Snapshots.Commit");
  rpc.SetLease(lease_);
  snapshots_v1::CommitSnapshotRequest req;
  req.set_snapshotter(snapshotter_);
  req.set_name(name);
  req.set_key(key);
  req.mutable_labels()->insert(labels.begin(), labels.end());
  google::protobuf::Empty resp;
  rpc.Check(conn_->snapshots().Commit(rpc.get(), req, &resp), {.path = name});
}

void Snapshots::Remove(const Context& ctx, const std::string& key) {
  remote::Rpc rpc(*conn_, ctx, "Snapshots.Remove");
  snapshots_v1::RemoveSnapshotRequest req;
  req.set_snapshotter(snapshotter_);
  req.set_key(key);
  google::protobuf::Empty resp;
  grpc::Status s = conn_->snapshots().Remove(rpc.get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) return;
  rpc.Check(s, {.path = key});
}

std::vector<SnapshotInfo> Snapshots::List(const Context& ctx) {
  remote::Rpc rpc(*conn_, ctx, "Snapshots.List");
  snapshots_v1::ListSnapshotsRequest req;
  req.set_snapshotter(snapshotter_);
  auto reader = conn_->snapshots().List(rpc.get(), req);
  std::vector<SnapshotInfo> out;
  snapshots_v1::ListSnapshotsResponse resp;
  while (reader->Read(&resp))
    for (const auto& i : resp.info()) out.push_back(FromProto(i));
  rpc.Check(reader->Finish(), {.path = snapshotter_});
  return out;
}

Descriptor ApplyLayer(remote::Connection& conn, const Context& ctx, const Descriptor& layer,
                      const std::vector<MountInfo>& mounts, const std::string& lease) {
  remote::Rpc rpc(conn, ctx, "Diff.Apply");
  rpc.SetLease(lease);
  diff_v1::ApplyRequest req;
  auto* d = req.mutable_diff();
  d->set_media_type(layer.media_type);
  d->set_digest(layer.digest);
  d->set_size(layer.size);
  d->mutable_annotations()->insert(layer.annotations.begin(), layer.annotations.end());
  AddMounts(mounts, req.mutable_mounts());
  diff_v1::ApplyResponse resp;
  rpc.Check(conn.diff().Apply(rpc.get(), req, &resp), {.path = layer.digest});
  Descriptor out;
  out.media_type = resp.applied().media_type();
  out.digest = resp.applied().digest();
  out.size = resp.applied().size();
  return out;
}

std::string UnpackLayers(const std::shared_ptr<remote::Connection>& conn, const Context& ctx,
                         ContentStore& content, const std::string& snapshotter,
                         const Manifest& manifest, const ConfigFile& config,
                         const ProgressCallback& progress,
                         const std::function<void(size_t)>& wait_for_layer,
                         const std::map<std::string, std::string>* config_labels) {
  if (manifest.layers.size() != config.diff_ids.size())
    throw Error(ErrorKind::kInvalidArgument,
                "the manifest has " + std::to_string(manifest.layers.size()) +
                    " layers but the config lists " + std::to_string(config.diff_ids.size()) +
                    " diff IDs: the image is malformed",
                {.op = "Unpack", .path = manifest.config.digest});
  if (manifest.layers.empty()) return "";
  const std::vector<std::string> chain = ChainIDs(config.diff_ids);
  Snapshots snaps(conn, snapshotter, content.lease());

  // The lowest layer not unpacked: from the top down, the first committed chain ID ends the
  // search (a committed snapshot's parents are committed). An unpacked image costs one Stat.
  size_t first = 0;
  for (size_t i = manifest.layers.size(); i-- > 0;)
    if (snaps.Stat(ctx, chain[i])) {
      first = i + 1;
      break;
    }
  for (size_t i = 0; i < first; ++i)
    Report(progress, manifest.layers[i], ProgressState::kAlreadyExists, manifest.layers[i].size);

  // The uncompressed label of a layer is set while the next one unpacks (at most one pending);
  // a failure surfaces at the next join.
  std::future<void> label;
  auto join_label = [&] {
    if (label.valid()) label.get();
  };
  for (size_t i = first; i < manifest.layers.size(); ++i) {
    const Descriptor& layer = manifest.layers[i];
    const std::string& diff_id = config.diff_ids[i];
    const std::string parent = i == 0 ? "" : chain[i - 1];
    const std::map<std::string, std::string> labels{{kSnapshotRefLabel, chain[i]}};
    const std::string key = ExtractKey(chain[i]);
    // Prepared before the blob is there (a pull is still fetching it): off the critical path.
    std::vector<MountInfo> mounts = snaps.Prepare(ctx, key, parent, labels);
    try {
      if (wait_for_layer) wait_for_layer(i);
      Report(progress, layer, ProgressState::kExtracting, 0);
      Descriptor applied = ApplyLayer(*conn, ctx, layer, mounts, content.lease());
      if (applied.digest != diff_id)
        throw Error(ErrorKind::kFailedPrecondition,
                    "layer " + layer.digest + " unpacks to content with digest " + applied.digest +
                        " but the image config's diff ID " + std::to_string(i) + " is " + diff_id +
                        ": the image is corrupt or its config does not belong to it",
                    {.op = "Unpack", .path = layer.digest});
      try {
        snaps.Commit(ctx, chain[i], key, labels);
      } catch (const Error& e) {
        // Someone else unpacked the same layer meanwhile: theirs is as good as ours.
        if (e.kind() != ErrorKind::kAlreadyExists) throw;
        snaps.Remove(ctx, key);
      }
    } catch (...) {
      // A separate context: the caller's may be what was cancelled.
      try {
        snaps.Remove(Context::WithTimeout(std::chrono::seconds(10)), key);
      } catch (const Error& e) {
        Log(LogLevel::kWarning,
            "snapshot " + key + " left behind after a failed unpack: " + e.what());
      }
      throw;
    }
    join_label();
    if (layer.digest != diff_id)
      label = std::async(std::launch::async, [&content, ctx, digest = layer.digest, diff_id] {
        content.SetLabels(ctx, digest, {{kUncompressedLabel, diff_id}});
      });
    Report(progress, layer, ProgressState::kDone, layer.size);
  }
  join_label();
  const std::string gc_label = kGcSnapshotPrefix + snaps.snapshotter();
  if (config_labels == nullptr || !config_labels->contains(gc_label) ||
      config_labels->at(gc_label) != chain.back())
    content.SetLabels(ctx, manifest.config.digest, {{gc_label, chain.back()}});
  return chain.back();
}

}  // namespace libcontainerd::images
