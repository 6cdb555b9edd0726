#include "remote/convert.h"

#include <limits>

#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb.h"

namespace libcontainerd::remote {

SystemTime FromProto(const google::protobuf::Timestamp& ts) {
  using namespace std::chrono;
  // containerd sends Go's zero time (year 1) for "not set": outside what int64 nanoseconds
  // hold, so it (and anything else out of range) maps to the epoch instead of overflowing.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 1000000000 - 1;
  if (ts.seconds() < -kMax || ts.seconds() > kMax) return SystemTime{};
  return SystemTime(duration_cast<SystemTime::duration>(seconds(ts.seconds()) + nanoseconds(ts.nanos())));
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
    throw Error(ErrorKind::kInvalidArgument, "container runtime options are not containerd.runc.v1.Options");
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

Status FromProtoStatus(int status) noexcept {
  switch (status) {
    case 1: return Status::kCreated;
    case 2: return Status::kRunning;
    case 3: return Status::kStopped;
    case 4: return Status::kPaused;
    case 5: return Status::kPausing;
    default: return Status::kUnknown;
  }
}

Error ClassifyStartError(const Error& e, const std::string& binary) {
  if (e.kind() != ErrorKind::kUnknown) return e;
  const std::string& m = e.message();
  // runc's wording for exec failures; the daemon gives no code for them.
  const bool exec_failed = m.find("exec: \"") != std::string::npos;
  if (m.find("executable file not found") != std::string::npos ||
      (exec_failed && m.find("no such file or directory") != std::string::npos)) {
    return Error(ErrorKind::kNotFound,
                 "executable \"" + binary + "\" not found in the container (" + m + ")", e.context());
  }
  if (m.find("failed to start shim: mkdir") != std::string::npos && m.find("file exists") != std::string::npos) {
    // containerd 1.6 keeps the bundle directory of a create cut short by its crash and removes
    // it only when it starts again; no API call reaches it.
    return Error(ErrorKind::kFailedPrecondition,
                 "containerd still holds the state of an earlier create of this task, interrupted by a "
                 "daemon crash; it removes it when it restarts (" + m + ")",
                 e.context());
  }
  if (exec_failed && m.find("permission denied") != std::string::npos) {
    return Error(ErrorKind::kFailedPrecondition,
                 "executable \"" + binary + "\" cannot be run: permission denied (" + m + ")",
                 e.context());
  }
  return e;
}

}  // namespace libcontainerd::remote
