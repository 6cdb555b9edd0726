// Internal: containerd's snapshots and diff services, and unpacking an image's layers.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "github.com/containerd/containerd/api/types/mount.pb.h"
#include "images/content.h"
#include "images/descriptor.h"
#include "libcontainerd/context.h"

namespace libcontainerd::images {

// The snapshotter used when none is named (containerd's default on Linux).
inline constexpr const char* kDefaultSnapshotter = "overlayfs";

// A mount as containerd's snapshotters return it (api/types/mount.proto).
struct MountInfo {
  std::string type;
  std::string source;
  std::string target;
  std::vector<std::string> options;
};

struct SnapshotInfo {
  std::string name;
  std::string parent;
  int kind = 0;  // 1 view, 2 active, 3 committed (containerd's Kind)
  std::map<std::string, std::string> labels;
};

// Appends mounts to a request's repeated containerd.types.Mount field (Tasks.Create rootfs,
// Diff.Apply mounts).
void AddMounts(const std::vector<MountInfo>& mounts,
               google::protobuf::RepeatedPtrField<::containerd::types::Mount>* out);

// One snapshotter of containerd (kDefaultSnapshotter when `snapshotter` is empty). Calls are made
// under `lease` when it is not empty.
class Snapshots {
 public:
  Snapshots(std::shared_ptr<remote::Connection> conn, std::string snapshotter,
            std::string lease = "");
  const std::string& snapshotter() const { return snapshotter_; }

  std::optional<SnapshotInfo> Stat(const Context& ctx, const std::string& key);
  // Throws kAlreadyExists when key exists, kNotFound when parent does not.
  std::vector<MountInfo> Prepare(const Context& ctx, const std::string& key,
                                 const std::string& parent,
                                 const std::map<std::string, std::string>& labels = {});
  std::vector<MountInfo> View(const Context& ctx, const std::string& key, const std::string& parent,
                              const std::map<std::string, std::string>& labels = {});
  std::vector<MountInfo> Mounts(const Context& ctx, const std::string& key);
  void Commit(const Context& ctx, const std::string& name, const std::string& key,
              const std::map<std::string, std::string>& labels = {});
  // A missing key is not an error.
  void Remove(const Context& ctx, const std::string& key);
  std::vector<SnapshotInfo> List(const Context& ctx);

 private:
  std::shared_ptr<remote::Connection> conn_;
  std::string snapshotter_;
  std::string lease_;
};

// Diff.Apply: applies the layer blob `layer` (any layer media type; containerd decompresses)
// onto mounts; returns the applied (uncompressed) descriptor, whose digest is the diff ID.
Descriptor ApplyLayer(remote::Connection& conn, const Context& ctx, const Descriptor& layer,
                      const std::vector<MountInfo>& mounts, const std::string& lease);

// Unpacks a manifest's layers into snapshots: the layers whose chain IDs are committed are
// skipped (found from the top down: one Stat for an unpacked image); for each other one,
// Prepare("extract-<nanos>-<random> <chainID>", parent), Apply, check the applied digest
// against the config's diff ID, Commit(chainID). Labels (containerd's): the layer blob gets
// containerd.io/uncompressed = diff ID (set while the next layer unpacks); the config blob gets
// containerd.io/gc.ref.snapshot.<snapshotter> = top chain ID, unless config_labels (the config
// blob's labels, when the caller knows them) hold it already. Progress reports kExtracting and
// kDone per layer (kAlreadyExists for skipped ones). Returns the top chain ID.
// wait_for_layer(i), when given, is called before layer i is applied, after its snapshot is
// prepared (a pull passes one that waits until the layer's blob is committed, so that unpacking
// overlaps fetching).
// Throws kInvalidArgument when the manifest's layers and the config's diff IDs disagree in
// number, kFailedPrecondition when an applied digest differs from its diff ID (names both).
std::string UnpackLayers(const std::shared_ptr<remote::Connection>& conn, const Context& ctx,
                         ContentStore& content, const std::string& snapshotter,
                         const Manifest& manifest, const ConfigFile& config,
                         const ProgressCallback& progress,
                         const std::function<void(size_t)>& wait_for_layer = nullptr,
                         const std::map<std::string, std::string>* config_labels = nullptr);

}  // namespace libcontainerd::images
