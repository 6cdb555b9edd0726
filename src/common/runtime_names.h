// Internal: what both backends know of runtime names (containerd's shim names, which the
// daemonless backend keeps in its records too) and of the OCI runtime's start errors.
#pragma once

#include <string>
#include <string_view>

#include "libcontainerd/errors.h"

namespace libcontainerd {

// True for the runc shims' names (io.containerd.runc.v1, io.containerd.runc.v2).
bool IsRuncShim(std::string_view shim) noexcept;

// Refuses (kInvalidArgument) a shim name containerd can never resolve to a binary: not an
// absolute path and not "<prefix>.<name>.<version>"-like (at least two dot-separated parts,
// the first non-empty).
void ValidateShimName(const std::string& shim, const ErrorContext& ectx);

// The runtime (runc, directly or through containerd) reports a missing or non-executable
// binary, and containerd a bundle directory kept from a create cut short by its crash, only in
// message text (code Unknown). Rewrites such an error as
// kNotFound ("executable file not found") or kFailedPrecondition ("permission denied": not
// executable; "failed to start shim: mkdir ...: file exists"), keeping the daemon's text;
// other errors unchanged.
Error ClassifyStartError(const Error& e, const std::string& binary);

}  // namespace libcontainerd
