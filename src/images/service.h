// Internal: the containerd backend's ImageService.
#pragma once

#include <memory>

#include "libcontainerd/images.h"

namespace libcontainerd::remote {
class Connection;
}

namespace libcontainerd::images {

std::shared_ptr<ImageService> NewImageService(std::shared_ptr<remote::Connection> conn);

}  // namespace libcontainerd::images
