// Internal: pulling an image from a registry into containerd (fetch, label, record, unpack).
#pragma once

#include <memory>
#include <string>

#include "images/descriptor.h"
#include "libcontainerd/images.h"

namespace libcontainerd::remote {
class Connection;
}

namespace libcontainerd::images {

class ContentStore;

// The index entry for platform; throws kInvalidArgument naming `what` and listing what the
// index offers when there is none.
const Descriptor& PickPlatform(const Index& index, const Platform& platform, std::string_view what);

// The platform's manifest of a target (the target itself when it is a manifest), read from the
// content store. Throws kInvalidArgument for no match, as PickPlatform.
Descriptor SelectManifest(const Context& ctx, ContentStore& content, const Descriptor& target,
                          const Platform& platform, std::string_view what);

// Every platform an index offers (the config's for a plain manifest, when `config` is given).
std::vector<Platform> IndexPlatforms(const Index& index);

// Pulls `ref` as ImageService::Pull documents; returns the recorded image's name.
std::string PullImage(const std::shared_ptr<remote::Connection>& conn, const Context& ctx,
                      const std::string& ref, const PullOptions& options);

}  // namespace libcontainerd::images
