// The image service of the containerd backend (images.h), and Client::Images' default.
#include "libcontainerd/client.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/images.h"

namespace libcontainerd {

std::shared_ptr<images::ImageService> Client::Images() {
  throw Error(ErrorKind::kNotImplemented, "this backend has no image store", {.op = "Images"});
}

}  // namespace libcontainerd
