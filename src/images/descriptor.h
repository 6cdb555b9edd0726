// Internal: OCI / Docker image objects (descriptors, index, manifest, config), their media types,
// JSON decoding and digests. Shared by pull, import, export and unpack.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libcontainerd/images.h"

namespace libcontainerd::images {

namespace media {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
}  // namespace media

bool IsIndexType(std::string_view media_type);     // OCI index, Docker manifest list
bool IsManifestType(std::string_view media_type);  // OCI manifest, Docker schema 2
bool IsConfigType(std::string_view media_type);
bool IsLayerType(std::string_view media_type);  // any layer (tar, gzip, zstd; OCI or Docker)
bool IsSchema1Type(std::string_view media_type);

// A content descriptor (OCI image-spec descriptor).
struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<64 hex>"
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;  // in an index only
  std::vector<std::string> urls;
};

struct Manifest {
  std::string media_type;  // from the JSON, may be empty in OCI manifests
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
};

struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
};

// The image config blob, the parts the library uses.
struct ConfigFile {
  Platform platform;  // "os", "architecture", "variant"
  std::string created;
  ImageConfig config;
  std::vector<std::string> diff_ids;  // rootfs.diff_ids
  std::vector<HistoryEntry> history;
};

// Decoders: throw Error{kInvalidArgument} naming the field for malformed JSON. `what` names the
// object in messages (e.g. "manifest sha256:abcd...").
Manifest ParseManifest(std::string_view json, std::string_view what);
Index ParseIndex(std::string_view json, std::string_view what);
ConfigFile ParseConfig(std::string_view json, std::string_view what);
// The "mediaType" field of a manifest or index document ("" when absent); a schema 1 document
// (schemaVersion 1) gives media::kDockerSchema1.
std::string SniffMediaType(std::string_view json);

// Encoders (for import, which writes a manifest for a docker-archive image, and export).
std::string EncodeManifest(const Manifest& m);  // schemaVersion 2, mediaType = m.media_type
std::string EncodeIndex(const Index& index);    // schemaVersion 2, mediaType = index.media_type

// Platform matching as containerd's default matcher: os and architecture equal, variant equal
// when the wanted one has a variant (arm64 accepts "" and "v8" alike).
bool PlatformMatches(const Platform& want, const Platform& have);

// "sha256:" + hex of the SHA-256 of data.
std::string Sha256Digest(std::string_view data);
// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view data);
  std::string Digest();  // "sha256:<hex>"; once
 private:
  void* ctx_;
};
// Checks "sha256:<64 lowercase hex>"; throws Error{kInvalidArgument} naming `what` otherwise.
void ValidateDigest(std::string_view digest, std::string_view what);
// The first 12 hex digits of a digest (docker's short id).
std::string ShortDigest(std::string_view digest);

// Chain IDs of layers given their diff IDs (bottom first): chain(1) = diff(1),
// chain(n) = sha256(chain(n-1) + " " + diff(n)).
std::vector<std::string> ChainIDs(const std::vector<std::string>& diff_ids);

}  // namespace libcontainerd::images
