// Internal: image archives. Import reads a docker-archive (docker save) or an OCI image layout
// tar into the content store; export writes both layouts into one tar. Read and written with
// libarchive. Entries that escape the archive are refused.
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "images/content.h"
#include "images/descriptor.h"
#include "libcontainerd/context.h"

namespace libcontainerd::images {

// One image found in an archive: its name ("" when unnamed) and the manifest or index
// descriptor, whose blobs are all in the content store afterwards (with GC reference labels
// on index and manifest, so the record that Import then writes holds them).
struct ArchiveImage {
  std::string name;  // normalised full reference ("docker.io/library/busybox:latest") or ""
  Descriptor target;
};

// Reads the whole archive from `in`. docker-archive: every file is written to the content store
// as it comes; manifest.json's Config and Layers (following links inside the archive) become a
// Docker schema 2 manifest written to the store; RepoTags become names. OCI layout:
// blobs/sha256/<hex> written with their digests checked; index.json's manifests are the images,
// named by the annotations io.containerd.image.name, else org.opencontainers.image.ref.name
// (a bare tag is not a name). Errors: kInvalidArgument naming the entry for a truncated or
// malformed archive, an entry with ".." or an absolute path, a link leaving the archive, a
// manifest.json naming a missing layer, or no manifest.json / index.json at all.
std::vector<ArchiveImage> ReadImageArchive(const Context& ctx, std::istream& in,
                                           ContentStore& content);

// Writes an archive with both layouts: oci-layout, index.json (one manifest or index per
// image with io.containerd.image.name and org.opencontainers.image.ref.name annotations),
// blobs/sha256/*, and docker's manifest.json (Config as blobs/sha256/<hex>, Layers, RepoTags)
// for every image that resolves to a manifest for `platform`. Blobs are written once.
struct ExportImage {
  std::string name;  // full reference
  Descriptor target;
};
void WriteImageArchive(const Context& ctx, const std::vector<ExportImage>& images,
                       ContentStore& content, const Platform& platform, std::ostream& out);

}  // namespace libcontainerd::images
