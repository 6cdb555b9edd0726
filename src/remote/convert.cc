#include "remote/convert.h"

#include <limits>
#include <utility>
#include <vector>

#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb.h"
#include "libcontainerd/oci/spec.h"

namespace libcontainerd::remote {

SystemTime FromProto(const google::protobuf::Timestamp& ts) {
  using namespace std::chrono;
  // containerd sends Go's zero time (year 1) for "not set": outside what int64 nanoseconds
  // hold, so it (and anything else out of range) maps to the epoch instead of overflowing.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 1000000000 - 1;
  if (ts.seconds() < -kMax || ts.seconds() > kMax) return SystemTime{};
  return SystemTime(
      duration_cast<SystemTime::duration>(seconds(ts.seconds()) + nanoseconds(ts.nanos())));
}

void SetAny(google::protobuf::Any* any, const char* type_url, std::string value) {
  any->set_type_url(type_url);
  any->set_value(std::move(value));
}

std::string EncodeRuncOptions(const RuncOptions& o) {
  ::containerd::runc::v1::Options p;
  p.set_binary_name(o.binary_name);
  p.set_root(o.root);
  p.set_systemd_cgroup(o.systemd_cgroup);
  p.set_no_pivot_root(o.no_pivot_root);
  p.set_no_new_keyring(o.no_new_keyring);
  p.set_criu_path(o.criu_path);
  p.set_criu_image_path(o.criu_image_path);
  p.set_criu_work_path(o.criu_work_path);
  p.set_io_uid(o.io_uid);
  p.set_io_gid(o.io_gid);
  p.set_shim_cgroup(o.shim_cgroup);
  return p.SerializeAsString();
}

RuncOptions DecodeRuncOptions(const std::string& bytes) {
  ::containerd::runc::v1::Options p;
  if (!p.ParseFromString(bytes))
    throw Error(ErrorKind::kInvalidArgument,
                "container runtime options are not containerd.runc.v1.Options");
  RuncOptions o;
  o.binary_name = p.binary_name();
  o.root = p.root();
  o.systemd_cgroup = p.systemd_cgroup();
  o.no_pivot_root = p.no_pivot_root();
  o.no_new_keyring = p.no_new_keyring();
  o.criu_path = p.criu_path();
  o.criu_image_path = p.criu_image_path();
  o.criu_work_path = p.criu_work_path();
  o.io_uid = p.io_uid();
  o.io_gid = p.io_gid();
  o.shim_cgroup = p.shim_cgroup();
  return o;
}

bool IsRuncOptionsType(std::string_view type_url) noexcept {
  auto slash = type_url.rfind('/');
  return (slash == std::string_view::npos ? type_url : type_url.substr(slash + 1)) ==
         kRuncOptionsTypeURL;
}

std::optional<TypedMessage> EncodeRuntimeOptions(const RuntimeOptions& options,
                                                 std::string_view shim,
                                                 const std::string& default_root) {
  if (const TypedMessage* m = options.message()) return *m;
  if (const RuncOptions* r = options.runc()) {
    RuncOptions o = *r;
    if (o.root.empty()) o.root = default_root;
    return TypedMessage{kRuncOptionsTypeURL, EncodeRuncOptions(o)};
  }
  if (IsRuncShim(shim) && !default_root.empty())
    return TypedMessage{kRuncOptionsTypeURL, EncodeRuncOptions(RuncOptions{.root = default_root})};
  return std::nullopt;
}

RuntimeOptions DecodeRuntimeOptions(const std::optional<TypedMessage>& stored) {
  if (!stored) return {};
  if (IsRuncOptionsType(stored->type_url)) {
    try {
      return DecodeRuncOptions(stored->value);
    } catch (const Error&) {
      // Not what its type says: give it as stored.
    }
  }
  return *stored;
}

namespace {

void SetIOOwner(::containerd::runc::v1::Options& p, const RootIDs& root) {
  if (root.uid && p.io_uid() == 0) p.set_io_uid(*root.uid);
  if (root.gid && p.io_gid() == 0) p.set_io_gid(*root.gid);
}

}  // namespace

std::optional<std::string> RemappedTaskOptions(const std::optional<TypedMessage>& stored,
                                               std::string_view shim, const RootIDs& root) {
  if (!root.uid && !root.gid) return std::nullopt;
  ::containerd::runc::v1::Options p;
  if (stored) {
    if (!IsRuncOptionsType(stored->type_url) || !p.ParseFromString(stored->value))
      return std::nullopt;
  } else if (!IsRuncShim(shim)) {
    return std::nullopt;
  }
  const auto before = std::make_pair(p.io_uid(), p.io_gid());
  SetIOOwner(p, root);
  if (std::make_pair(p.io_uid(), p.io_gid()) == before) return std::nullopt;
  return p.SerializeAsString();
}

std::string RestoreTaskOptions(const std::optional<TypedMessage>& stored,
                               const std::string& checkpoint_dir, const ErrorContext& ectx,
                               const RootIDs& root) {
  ::containerd::runc::v1::Options p;
  if (stored && !IsRuncOptionsType(stored->type_url))
    throw Error(ErrorKind::kInvalidArgument,
                "restoring from a checkpoint directory needs runc's options; this container's "
                "runtime options are of type " +
                    stored->type_url,
                ectx);
  if (stored && !p.ParseFromString(stored->value))
    throw Error(ErrorKind::kInvalidArgument,
                "the container's runtime options are not valid containerd.runc.v1.Options", ectx);
  p.set_criu_image_path(checkpoint_dir);
  SetIOOwner(p, root);
  return p.SerializeAsString();
}

Error ClassifyShimError(const Error& e, const std::string& shim) {
  const std::string& m = e.message();
  if (m.find("binary not installed") == std::string::npos &&
      m.find("invalid runtime name") == std::string::npos &&
      m.find("invalid custom binary path") == std::string::npos)
    return e;
  std::string binary = shim;
  if (!shim.empty() && shim[0] != '/' && shim.find('.') != std::string::npos &&
      shim.find('.') != 0) {
    // containerd's rule: the last two dot-separated parts name containerd-shim-<name>-<version>.
    auto last = shim.rfind('.');
    auto prev =
        last == std::string::npos || last == 0 ? std::string::npos : shim.rfind('.', last - 1);
    std::string name =
        prev == std::string::npos ? shim.substr(0, last) : shim.substr(prev + 1, last - prev - 1);
    binary = "containerd-shim-" + name + "-" + shim.substr(last + 1);
  }
  return Error(ErrorKind::kNotFound,
               "runtime (shim) \"" + shim + "\" is not installed: containerd looks for " + binary +
                   " in its PATH; install it there, or create the container with another runtime "
                   "name (io.containerd.runc.v2 for runc). The container is kept as it was (" +
                   m + ")",
               e.context());
}

Stats DecodeTaskMetrics(const std::string& container_id, SystemTime read, std::string_view type_url,
                        std::string_view bytes) {
  try {
    return InterfaceToStats(read, type_url, bytes);
  } catch (const Error& e) {
    throw Error(ErrorKind::kUnknown,
                "containerd sent metrics this library cannot decode (" + e.message() +
                    "); the shim or containerd release may be newer than the library supports",
                {.op = "Stats", .container_id = container_id});
  }
}

Status FromProtoStatus(int status) noexcept {
  switch (status) {
    case 1:
      return Status::kCreated;
    case 2:
      return Status::kRunning;
    case 3:
      return Status::kStopped;
    case 4:
      return Status::kPaused;
    case 5:
      return Status::kPausing;
    default:
      return Status::kUnknown;
  }
}

}  // namespace libcontainerd::remote
