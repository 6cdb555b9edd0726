// Conversions between the public value types and containerd's wire types.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/runtime_names.h"
#include "libcontainerd/client.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/stats.h"
#include "libcontainerd/types.h"
#include "oci/root_ids.h"

namespace libcontainerd::remote {

using oci::RootIDs;

// containerd 1.6 wants bare type URLs (no "type.googleapis.com/" prefix).
inline constexpr const char* kSpecTypeURL =
    "types.containerd.io/opencontainers/runtime-spec/1/Spec";
inline constexpr const char* kProcessTypeURL =
    "types.containerd.io/opencontainers/runtime-spec/1/Process";
inline constexpr const char* kResourcesTypeURL =
    "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";
inline constexpr const char* kRuncOptionsTypeURL = "containerd.runc.v1.Options";
inline constexpr const char* kCheckpointOptionsTypeURL = "containerd.runc.v1.CheckpointOptions";
inline constexpr const char* kDefaultRuntime = "io.containerd.runc.v2";

SystemTime FromProto(const google::protobuf::Timestamp& ts);
void SetAny(google::protobuf::Any* any, const char* type_url, std::string value);

// RuncOptions <-> containerd.runc.v1.Options (serialized).
std::string EncodeRuncOptions(const RuncOptions& o);
RuncOptions DecodeRuncOptions(const std::string& bytes);

// True when type_url names containerd.runc.v1.Options (bare, or with any "<host>/" prefix).
bool IsRuncOptionsType(std::string_view type_url) noexcept;
// What NewContainer stores as the container's runtime options (see Client::NewContainer):
// a TypedMessage unchanged; RuncOptions encoded, an empty root replaced by default_root; none
// stays none, except for a runc shim when default_root is set (RuncOptions{root}).
std::optional<TypedMessage> EncodeRuntimeOptions(const RuntimeOptions& options,
                                                 std::string_view shim,
                                                 const std::string& default_root);
// The stored options as the public value (RuntimeInfo::options): runc's type decoded (kept as
// the TypedMessage when it does not decode), other types as stored, none as empty.
RuntimeOptions DecodeRuntimeOptions(const std::optional<TypedMessage>& stored);

// The task options of a task without checkpoint when the spec remaps ids: the container's stored
// runc options (fields unknown to this library kept; default ones for a runc shim with none)
// with io_uid / io_gid from `root` where they are 0 (ids the caller set win). nullopt when
// nothing changes: no mapping, another shim's options, both ids already set; the shim then
// uses the container's options as they are.
std::optional<std::string> RemappedTaskOptions(const std::optional<TypedMessage>& stored,
                                               std::string_view shim, const RootIDs& root);

// The task options of a restore from checkpoint_dir: the container's stored runc options (their
// fields unknown to this library kept) with criu_image_path set, and io_uid / io_gid from
// `root` where they are 0. Throws kInvalidArgument when the stored options are another shim's
// or not decodable.
std::string RestoreTaskOptions(const std::optional<TypedMessage>& stored,
                               const std::string& checkpoint_dir, const ErrorContext& ectx,
                               const RootIDs& root = {});

// containerd reports a shim it cannot find only when the task is created, in message text.
// Rewrites such an error as kNotFound naming the shim, its binary and what to do; other errors
// unchanged.
Error ClassifyShimError(const Error& e, const std::string& shim);

// A task's metrics payload (Tasks.Metrics) as Stats. A payload the library cannot decode
// (unknown type, corrupt bytes) is the daemon's or shim's doing, not the caller's: kUnknown
// naming the cause (InterfaceToStats's kInvalidArgument is for callers passing bytes).
Stats DecodeTaskMetrics(const std::string& container_id, SystemTime read, std::string_view type_url,
                        std::string_view bytes);

Status FromProtoStatus(int status) noexcept;

}  // namespace libcontainerd::remote
