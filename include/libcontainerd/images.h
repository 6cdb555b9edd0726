// libcontainerd: images. Pull from OCI distribution (v2) registries, import and export image
// archives, unpack into containerd's snapshotter, list, inspect, tag, remove and prune.
//
// Implemented over containerd's content, images, snapshots, diff and leases services: containerd
// owns the data, and its garbage collector reclaims what no image, container or lease holds.
// See docs/images.md. Public API only: no gRPC, protobuf or curl type appears here.
//
// Errors: every function throws libcontainerd::Error (errors.h). Thread-safety: an ImageService
// may be used from many threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "libcontainerd/context.h"
#include "libcontainerd/export.h"

namespace libcontainerd::images {

// An image reference as docker normalises it: "busybox" is
// {domain "docker.io", path "library/busybox", tag "latest"}.
struct LCD_EXPORT Reference {
  std::string domain;  // registry host[:port]
  std::string path;    // repository path, e.g. "library/busybox"
  std::string tag;     // may be empty when digest is set
  std::string digest;  // "sha256:<64 hex>" or empty

  // The full name: domain/path[:tag][@digest].
  std::string String() const;
  // domain/path.
  std::string Name() const;
  // docker's short form: "busybox:latest" for docker.io/library/busybox:latest.
  std::string Familiar() const;
  bool operator==(const Reference&) const = default;
};

// Parses and normalises a reference (docker's rules: a first component with '.', ':' or
// "localhost" is a registry; docker.io gets "library/" for one-component paths; no tag and no
// digest gives "latest"). Throws Error{kInvalidArgument} naming the part that is wrong.
LCD_EXPORT Reference ParseReference(std::string_view text);

// An OCI platform. os and architecture as Go names them ("linux", "amd64", "arm64").
struct LCD_EXPORT Platform {
  std::string os;
  std::string architecture;
  std::string variant;         // "v8", "v7", or empty
  std::string String() const;  // "linux/arm64/v8"
  bool operator==(const Platform&) const = default;
};

// This machine's platform (linux/<GOARCH>[/variant]).
LCD_EXPORT Platform DefaultPlatform();
// Parses "os/arch[/variant]" (or "arch" alone, os linux); normalises aliases (x86_64 ->
// amd64, aarch64 -> arm64). Throws Error{kInvalidArgument}.
LCD_EXPORT Platform ParsePlatform(std::string_view text);

// What an image's config says a container runs like (OCI image config "config").
// An image's HEALTHCHECK (docker's image config "Healthcheck"): durations in nanoseconds, 0 when
// not set (the runtime's default applies: docker's 30 s interval and timeout, 0 start period,
// 3 retries).
struct LCD_EXPORT HealthConfig {
  // ["CMD-SHELL", "command"], ["CMD", "arg0", ...], ["NONE"] (disabled), or empty (inherit).
  std::vector<std::string> test;
  int64_t interval = 0;
  int64_t timeout = 0;
  int64_t start_period = 0;
  int retries = 0;
  bool operator==(const HealthConfig&) const = default;
};

struct LCD_EXPORT ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=value"
  std::string working_dir;
  std::string user;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;  // "80/tcp"
  std::vector<std::string> volumes;        // "/data"
  std::string stop_signal;
  std::optional<HealthConfig> healthcheck;  // absent when the image declares none
};

struct LCD_EXPORT HistoryEntry {
  std::string created;  // RFC 3339
  std::string created_by;
  std::string comment;
  bool empty_layer = false;
};

// One image record of the containerd namespace.
struct LCD_EXPORT Image {
  std::string name;        // full reference, e.g. "docker.io/library/busybox:latest"
  std::string digest;      // the target's digest (manifest or index)
  std::string media_type;  // the target's media type
  int64_t size = 0;  // bytes of the content for this machine's platform (manifest, config, layers)
  std::vector<Platform> platforms;            // what the target offers (one for a plain manifest)
  std::map<std::string, std::string> labels;  // the record's labels
  std::string created_at;                     // record creation, RFC 3339
  // Filled by Inspect (not by List): the platform's config.
  std::string config_digest;
  std::string created;  // the image's creation time, from its config
  Platform platform;    // of the config
  ImageConfig config;
  std::vector<std::string> diff_ids;  // uncompressed layer digests, bottom first
  std::vector<HistoryEntry> history;
  bool unpacked = false;  // the top layer is in the default snapshotter
};

// Per-layer progress of a pull or import, docker's vocabulary.
enum class ProgressState {
  kResolving,
  kWaiting,
  kDownloading,
  kVerifying,
  kExtracting,
  kDone,
  kAlreadyExists,
};
LCD_EXPORT std::string_view ToString(ProgressState state) noexcept;

struct LCD_EXPORT Progress {
  std::string id;    // short digest (12 hex) of the blob, or the reference while resolving
  std::string kind;  // "index", "manifest", "config", "layer"
  ProgressState state = ProgressState::kWaiting;
  int64_t current = 0;  // bytes done
  int64_t total = 0;    // bytes in all (0 when unknown)
};
// Called from the pull's threads, possibly concurrently for different layers; must not block.
using ProgressCallback = std::function<void(const Progress&)>;

struct LCD_EXPORT Credentials {
  std::string username;
  std::string password;  // or an identity token
};

struct LCD_EXPORT PullOptions {
  // Platform to select from an index; empty: this machine's (DefaultPlatform()).
  std::optional<Platform> platform;
  // Plain HTTP for this pull's registry. Without it, plain HTTP is used only for registries in
  // insecure_registries and for loopback addresses (docker's rule); TLS otherwise.
  bool plain_http = false;
  std::vector<std::string> insecure_registries;  // "host:port"
  // Credentials for the registry; empty: looked up in docker_config (auths), else anonymous.
  std::optional<Credentials> credentials;
  // docker's config file; empty: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
  std::string docker_config;
  // Unpack into this snapshotter after fetching; empty: do not unpack.
  std::string snapshotter = "overlayfs";
  int max_concurrent_downloads = 3;
  ProgressCallback progress;
};

struct LCD_EXPORT ImportOptions {
  // Images without a name in the archive get "import-<date>@<digest>"-style names when empty;
  // with a prefix, "<prefix>@<digest>".
  std::string unnamed_prefix;
  std::string snapshotter = "overlayfs";  // empty: do not unpack
  std::optional<Platform> platform;       // which platform to unpack; empty: this machine's
  ProgressCallback progress;
};

struct LCD_EXPORT RemoveOptions {
  // Remove even when a container uses the image.
  bool force = false;
  // Wait for containerd's garbage collection to finish before returning.
  bool sync = false;
};

class LCD_EXPORT ImageService {
 public:
  virtual ~ImageService() = default;

  // Pulls ref (parsed as ParseReference) into the content store, records the image and unpacks
  // it. Returns the image as Inspect would. Errors: kInvalidArgument (reference, no platform
  // match listing the index's platforms, schema 1), kNotFound (repository or tag),
  // kUnavailable (registry unreachable; names it), kFailedPrecondition (authentication
  // refused, digest mismatch naming the digest).
  virtual Image Pull(const Context& ctx, const std::string& ref,
                     const PullOptions& options = {}) = 0;

  // Imports a docker-archive (docker save) or an OCI image layout archive from a file or
  // stream; returns the images recorded. Errors: kInvalidArgument for a malformed, truncated
  // or escaping archive (names the entry).
  virtual std::vector<Image> Import(const Context& ctx, const std::string& path,
                                    const ImportOptions& options = {}) = 0;
  virtual std::vector<Image> Import(const Context& ctx, std::istream& in,
                                    const ImportOptions& options = {}) = 0;

  // Writes refs as one tar archive readable by `docker load` and by OCI layout readers.
  virtual void Export(const Context& ctx, const std::vector<std::string>& refs,
                      const std::string& path) = 0;
  virtual void Export(const Context& ctx, const std::vector<std::string>& refs,
                      std::ostream& out) = 0;

  virtual std::vector<Image> List(const Context& ctx) = 0;
  // Throws kNotFound for an unknown image.
  virtual Image Inspect(const Context& ctx, const std::string& ref) = 0;
  // Records target under a second name (replacing an existing record of that name).
  virtual Image Tag(const Context& ctx, const std::string& source, const std::string& target) = 0;
  // Removes the record. Throws kFailedPrecondition when a container of the namespace uses it
  // (unless forced), kNotFound for an unknown image.
  virtual void Remove(const Context& ctx, const std::string& ref,
                      const RemoveOptions& options = {}) = 0;
  // Removes dangling images (records named "<name>@<digest>" without a tag, and that no
  // container uses); returns their names.
  virtual std::vector<std::string> Prune(const Context& ctx) = 0;

  // Ensures the image's layers for this machine's platform are in snapshotter; returns the
  // top layer's chain ID. Throws kNotFound for an unknown image.
  virtual std::string Unpack(const Context& ctx, const std::string& ref,
                             const std::string& snapshotter = "overlayfs") = 0;

  // Mounts a read-only view of the image's unpacked root file system, calls fn with its
  // directory, and unmounts. For reading /etc/passwd and similar before a container exists.
  virtual void WithRootfs(const Context& ctx, const std::string& ref,
                          const std::function<void(const std::string& dir)>& fn,
                          const std::string& snapshotter = "overlayfs") = 0;

  // Mounts the existing snapshot `key` of `snapshotter` (a container's writable layer: its key
  // is the container id unless the container was created with another) read-write in a
  // private temporary directory, calls fn with that directory, and unmounts it (also when fn
  // throws). For reading and writing a container's files while it has no task (docker cp into
  // a stopped container). Writes go to the snapshot. Not a lock: starting a task on the same
  // snapshot while fn runs mounts it twice. Throws kNotFound naming the key when it does not
  // exist.
  virtual void WithSnapshot(const Context& ctx, const std::string& snapshotter,
                            const std::string& key,
                            const std::function<void(const std::string& dir)>& fn) = 0;
};

}  // namespace libcontainerd::images
