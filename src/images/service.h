// Internal: the containerd backend's ImageService.
#pragma once

#include <memory>
#include <string>

#include "libcontainerd/context.h"
#include "libcontainerd/images.h"

namespace libcontainerd::remote {
class Connection;
}

namespace libcontainerd::images {

std::shared_ptr<ImageService> NewImageService(std::shared_ptr<remote::Connection> conn);

struct ImageRecord;
class ImageStore;

// The record of an image named as the user gives it: the name as it is first when it holds a
// digest (an unnamed import, "import-<date>@sha256:..."), else ParseReference(text).String().
// Throws kNotFound naming it and the namespace.
ImageRecord FindRecord(remote::Connection& conn, const Context& ctx, ImageStore& store,
                       const std::string& text, const char* op);

// Unpacks the image for this machine's platform under `lease`; its record name and top chain ID.
struct UnpackedImage {
  std::string name;
  std::string top;
};
UnpackedImage UnpackImage(const std::shared_ptr<remote::Connection>& conn, const Context& ctx,
                          const std::string& ref, const std::string& snapshotter,
                          const std::string& lease);

}  // namespace libcontainerd::images
