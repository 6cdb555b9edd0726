// Conversions between the public value types and containerd's wire types.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <string>

#include "libcontainerd/client.h"
#include "libcontainerd/errors.h"
#include "libcontainerd/types.h"

namespace libcontainerd::remote {

// containerd 1.6 wants bare type URLs (no "type.googleapis.com/" prefix).
inline constexpr const char* kSpecTypeURL = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
inline constexpr const char* kProcessTypeURL = "types.containerd.io/opencontainers/runtime-spec/1/Process";
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

Status FromProtoStatus(int status) noexcept;

// containerd reports a missing or non-executable binary, and a bundle directory kept from a
// create cut short by its crash, only in message text (code Unknown). Rewrites such an error as
// kNotFound ("executable file not found") or kFailedPrecondition ("permission denied": not
// executable; "failed to start shim: mkdir ...: file exists"), keeping the daemon's text;
// other errors unchanged.
Error ClassifyStartError(const Error& e, const std::string& binary);

}  // namespace libcontainerd::remote
