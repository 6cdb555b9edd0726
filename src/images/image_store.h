// Internal: containerd's images service: image records (name -> target descriptor).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "images/descriptor.h"
#include "libcontainerd/context.h"

namespace libcontainerd::remote {
class Connection;
}

namespace libcontainerd::images {

struct ImageRecord {
  std::string name;
  Descriptor target;
  std::map<std::string, std::string> labels;
  std::string created_at;  // RFC 3339 (set by containerd)
  std::string updated_at;
};

class ImageStore {
 public:
  explicit ImageStore(std::shared_ptr<remote::Connection> conn);
  std::optional<ImageRecord> Get(const Context& ctx, const std::string& name);
  std::vector<ImageRecord> List(const Context& ctx);
  // Creates the record, or updates target and labels when the name exists (as ctr does).
  ImageRecord Put(const Context& ctx, const ImageRecord& record);
  // Throws kNotFound when there is no such record. sync: wait for the GC to finish.
  void Delete(const Context& ctx, const std::string& name, bool sync = false);

 private:
  std::shared_ptr<remote::Connection> conn_;
};

}  // namespace libcontainerd::images
